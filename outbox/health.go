package outbox

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrNoSpace wraps a store write that failed for lack of disk space (ENOSPC, EDQUOT):
// nothing was written; the caller refuses upstream (the webhook answers 503 +
// Retry-After). Health reports it until a write succeeds again; a probe write retries
// every few seconds, so the store recovers by itself when space frees.
var ErrNoSpace = errors.New("outbox: no space left for the data file")

// ErrCorrupt wraps every error caused by a damaged data file: found by the checks at Open,
// or by a bbolt panic (recovered) or an undecodable record later. The error names the
// file; `cad-sidecar outbox check` and `outbox salvage` are the tools.
var ErrCorrupt = errors.New("outbox: the data file is damaged")

// noSpaceProbeEvery is how often a store in the disk-full state tries a small write.
var noSpaceProbeEvery = 5 * time.Second

// isNoSpace reports whether err is a lack of disk space. bbolt wraps some of its I/O
// errors with %s (file resize), so the text is matched as a fallback.
func isNoSpace(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "no space left on device") || strings.Contains(msg, "disk quota exceeded") ||
		strings.Contains(msg, "not enough space on the disk")
}

// isCorruptOpenErr reports the bbolt open errors that mean a damaged file.
func isCorruptOpenErr(err error) bool {
	return errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) ||
		errors.Is(err, berrors.ErrVersionMismatch) || errors.Is(err, berrors.ErrInvalidMapping) ||
		errors.Is(err, errCorrupt)
}

// damagedError wraps err as ErrCorrupt naming path and the commands to use.
func damagedError(path string, err error) error {
	if errors.Is(err, ErrCorrupt) {
		return err
	}
	return fmt.Errorf("%w: %s: %w (see `cad-sidecar outbox check`; recover the readable notes with `cad-sidecar outbox salvage --to NEWFILE`)", ErrCorrupt, path, err)
}

// pageFault is a bbolt panic or memory fault met while reading the file.
type pageFault struct{ r any }

func (p *pageFault) Error() string {
	return fmt.Sprintf("reading the file failed (damaged page): %v", p.r)
}

// recoverFaults runs fn with bbolt's panics (damaged pages: "page expected to be ...",
// index out of range) and memory faults (a page past the end of a truncated file) turned
// into a *pageFault error.
func recoverFaults(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			err = &pageFault{r}
		}
	}()
	return fn()
}

// safely is recoverFaults with a fault wrapped as ErrCorrupt naming path.
func safely(path string, fn func() error) error {
	err := recoverFaults(fn)
	var pf *pageFault
	if errors.As(err, &pf) {
		return damagedError(path, err)
	}
	return err
}

// storeErr classifies an error of a store transaction: a lack of space becomes ErrNoSpace
// (and the store enters the disk-full state, see Health); a damaged page (a recovered
// bbolt panic) is ErrCorrupt and marks the store damaged; one undecodable record is
// ErrCorrupt too but marks nothing (one bad record must not make the whole store look
// down: its owner deals with it).
func (s *Store) storeErr(err error) error {
	var pf *pageFault
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNoSpace):
		return err
	case errors.As(err, &pf):
		s.setDamaged(err)
		return err
	case errors.Is(err, ErrCorrupt):
		return err
	case isNoSpace(err):
		s.setNoSpace(err)
		return fmt.Errorf("%w: %s: %w", ErrNoSpace, s.path, err)
	case errors.Is(err, errCorrupt):
		return damagedError(s.path, err)
	}
	return err
}

func (s *Store) setNoSpace(err error) {
	msg := err.Error()
	if s.noSpace.Swap(&msg) == nil {
		s.log.Error("outbox write failed: disk full; webhooks are refused with 503 until space frees", "file", s.path, "err", err)
	}
}

// wrote records a successful write: it ends the disk-full state.
func (s *Store) wrote() {
	if s.noSpace.Swap(nil) != nil {
		s.log.Info("outbox writes succeed again (the disk may still be nearly full: watch its free space)", "file", s.path)
	}
}

func (s *Store) setDamaged(err error) {
	msg := err.Error()
	if s.damaged.Swap(&msg) == nil {
		s.log.Error("outbox data file damaged", "file", s.path, "err", err)
	}
}

// Health reports whether the store can take writes: nil, an error wrapping ErrNoSpace
// ("disk full: ...") while writes fail for lack of space, an error wrapping ErrCorrupt once
// a damaged page or record was met, or ErrClosed.
func (s *Store) Health() error {
	if s.isClosed() {
		return ErrClosed
	}
	if m := s.damaged.Load(); m != nil {
		return &healthError{"damaged: " + *m, ErrCorrupt}
	}
	if m := s.noSpace.Load(); m != nil {
		return &healthError{"disk full: " + *m, ErrNoSpace}
	}
	return nil
}

// healthError is Health's answer: a readable text ("disk full: ...") that wraps kind.
type healthError struct {
	msg  string
	kind error
}

func (e *healthError) Error() string { return e.msg }
func (e *healthError) Unwrap() error { return e.kind }

var sysProbe = []byte("space_probe")

// spaceProber tries a small write every noSpaceProbeEvery while the store is in the
// disk-full state, so that it leaves the state when space frees even if nothing else
// writes (a load balancer that follows /readyz sends no webhooks meanwhile).
func (s *Store) spaceProber() {
	defer s.bg.Done()
	t := time.NewTicker(noSpaceProbeEvery)
	defer t.Stop()
	for {
		select {
		case <-s.closeCtx.Done():
			return
		case <-t.C:
		}
		if s.noSpace.Load() == nil {
			continue
		}
		now := s.opts.Now()
		_ = s.update(func(tx *bolt.Tx) error {
			return tx.Bucket(bktSys).Put(sysProbe, []byte(now.UTC().Format(time.RFC3339Nano)))
		})
	}
}
