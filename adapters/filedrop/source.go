package filedrop

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/record"
)

var _ adapters.Source = (*Source)(nil)

// Files per emitted batch: one batch's links are queued in one go, and its files moved
// once it returned.
const batchFiles = 100

// horizonKey is the state key of the lookback horizon (RFC 3339, set on the first start).
const horizonKey = "horizon"

// MarkerSuffix names the optional marker a CAD writes once NAME is complete (NAME.done).
const MarkerSuffix = ".done"

// Source watches the inbound folder (see the package doc).
type Source struct {
	dir       string
	pattern   string
	format    record.Format
	items     string
	groupBy   string
	stableFor time.Duration
	rescan    time.Duration
	lookback  time.Duration
	after     string
	state     adapters.State
	log       *slog.Logger
	files     *prometheus.CounterVec
	input     record.Options   // mapping.input (SetInput)
	now       func() time.Time // the clock of the stability check (tests)

	horizon time.Time            // files modified before it are left alone (zero: none)
	hasHor  bool                 // horizon read or set
	seen    map[string]*seenFile // candidate files by name, until taken
	old     map[string]bool      // files older than the horizon, logged once
}

// seenFile is what the last scans saw of a file.
type seenFile struct {
	size  int64
	mod   time.Time
	since time.Time // when size and mtime were first seen as they are
}

func newSource(c *Config, deps adapters.Deps) *Source {
	files := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cad_sidecar_filedrop_files_total",
		Help: "Incident files taken from the inbound folder, by result (processed, failed).",
	}, []string{"result"})
	if err := deps.Metrics().Register(files); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if v, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				files = v
			}
		}
	}
	for _, r := range []string{"processed", "failed"} {
		files.WithLabelValues(r)
	}
	return &Source{dir: deps.Path(c.Inbound), pattern: c.Pattern, format: record.Format(c.Format), items: c.Items,
		groupBy: c.GroupBy, stableFor: c.StableFor, rescan: c.Rescan, lookback: c.Lookback, after: c.After,
		state: deps.Store(), log: deps.Log().With("adapter", Name), files: files,
		seen: map[string]*seenFile{}, old: map[string]bool{}, now: time.Now}
}

// SetInput sets how files are decoded: mapping.input's encoding, CSV delimiter and limits.
// Call it before Run.
func (s *Source) SetInput(o record.Options) { s.input = o }

// Run watches inbound until ctx is done: a scan at once, then on every fsnotify event
// (coalesced), every rescan, and when a pending file's stable_for has passed. Each
// periodic scan emits a batch even when empty (a poll, for readiness and metrics); a
// scan that cannot read the folder emits Batch.Err.
func (s *Source) Run(ctx context.Context, emit adapters.Emit) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		s.log.Warn("cad inbound: no fsnotify watcher; rescanning only", "err", err)
		w = nil
	} else {
		defer w.Close()
	}
	var events chan fsnotify.Event
	var werrs chan error
	if w != nil {
		events, werrs = w.Events, w.Errors
	}
	watching := false
	tick := time.NewTicker(s.rescan)
	defer tick.Stop()
	recheck := time.NewTimer(time.Hour)
	recheck.Stop()
	defer recheck.Stop()
	periodic := true
	for {
		if w != nil && !watching {
			if err := w.Add(s.dir); err == nil {
				watching = true
			}
		}
		next, err := s.scan(ctx, emit, periodic)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && w != nil && watching {
			_ = w.Remove(s.dir) // the folder went away: watch it again once it is back
			watching = false
		}
		recheck.Stop()
		if !next.IsZero() {
			recheck.Reset(max(time.Until(next), 10*time.Millisecond))
		}
		periodic = false
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			periodic = true
		case <-recheck.C:
		case <-events:
			coalesce(ctx, events)
		case err := <-werrs:
			s.log.Debug("cad inbound: fsnotify", "err", err) // e.g. an overflow: the scan catches up
		}
	}
}

// coalesce drains the events that follow one within a short while: one scan for a burst.
func coalesce(ctx context.Context, events chan fsnotify.Event) {
	t := time.NewTimer(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case <-events:
		}
	}
}

// candidate is a complete file ready to be taken.
type candidate struct {
	name   string
	mod    time.Time
	marker bool
}

// scan reads inbound once, takes the complete files (in batches) and returns when the
// next pending file becomes complete (zero: none pending).
func (s *Source) scan(ctx context.Context, emit adapters.Emit, periodic bool) (time.Time, error) {
	if err := s.loadHorizon(); err != nil {
		_ = emit(ctx, adapters.Batch{Err: err})
		return time.Time{}, err
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		err = fmt.Errorf("read inbound folder %s: %w", s.dir, err)
		_ = emit(ctx, adapters.Batch{Err: err})
		return time.Time{}, err
	}
	names := make(map[string]bool, len(entries))
	for _, e := range entries {
		names[e.Name()] = true
	}
	now := s.now()
	var ready []candidate
	var next time.Time
	present := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || ignored(name) {
			continue
		}
		if !matches(s.pattern, name) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // gone meanwhile
		}
		if !s.horizon.IsZero() && info.ModTime().Before(s.horizon) {
			if !s.old[name] {
				s.old[name] = true
				s.log.Info("cad inbound: file older than the lookback horizon left alone", "file", name,
					"modified", info.ModTime().UTC().Format(time.RFC3339), "horizon", s.horizon.UTC().Format(time.RFC3339))
			}
			continue
		}
		present[name] = true
		if names[name+MarkerSuffix] {
			ready = append(ready, candidate{name: name, mod: info.ModTime(), marker: true})
			continue
		}
		f := s.seen[name]
		if f == nil || f.size != info.Size() || !f.mod.Equal(info.ModTime()) {
			f = &seenFile{size: info.Size(), mod: info.ModTime(), since: now}
			s.seen[name] = f
		}
		if due := f.since.Add(s.stableFor); now.Before(due) {
			if next.IsZero() || due.Before(next) {
				next = due
			}
			continue
		}
		ready = append(ready, candidate{name: name, mod: info.ModTime()})
	}
	for name := range s.seen {
		if !present[name] {
			delete(s.seen, name)
		}
	}
	sort.Slice(ready, func(i, j int) bool {
		if !ready[i].mod.Equal(ready[j].mod) {
			return ready[i].mod.Before(ready[j].mod)
		}
		return ready[i].name < ready[j].name
	})
	emitted := false
	for len(ready) > 0 && ctx.Err() == nil {
		n := min(len(ready), batchFiles)
		if err := s.take(ctx, emit, ready[:n]); err != nil {
			return next, nil // the host reported it; the files stay for the next scan
		}
		emitted = true
		ready = ready[n:]
	}
	if periodic && !emitted && ctx.Err() == nil {
		_ = emit(ctx, adapters.Batch{})
	}
	return next, nil
}

// decoded is one file of a batch, read and decoded.
type decoded struct {
	recs []adapters.Record
	gone bool // removed meanwhile
	err  error
}

// decodeAll reads and decodes files on every core (a burst of files is decoding-bound);
// the results are in the files' order.
func (s *Source) decodeAll(files []candidate) []decoded {
	out := make([]decoded, len(files))
	one := func(i int) {
		data, err := readFile(filepath.Join(s.dir, files[i].name), s.input)
		if errors.Is(err, fs.ErrNotExist) {
			out[i].gone = true
			return
		}
		if err == nil {
			out[i].recs, err = decodeFile(data, s.format, s.items, s.groupBy, s.input)
		}
		out[i].err = err
	}
	workers := min(runtime.GOMAXPROCS(0), len(files))
	if workers <= 1 {
		for i := range files {
			one(i)
		}
		return out
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(files); i = int(next.Add(1) - 1) {
				one(i)
			}
		})
	}
	wg.Wait()
	return out
}

// take decodes a batch of complete files, emits their records and, once emit returned,
// moves (or deletes) them; a file that cannot be read or decoded goes to failed/ (the
// others are emitted).
func (s *Source) take(ctx context.Context, emit adapters.Emit, files []candidate) error {
	var recs []adapters.Record
	var good []candidate
	for i, d := range s.decodeAll(files) {
		c := files[i]
		if d.gone {
			delete(s.seen, c.name)
			continue
		}
		err := d.err
		var skipped *record.SkippedRows
		if errors.As(err, &skipped) {
			for _, row := range skipped.Rows {
				s.log.Warn("cad inbound: CSV row skipped", "file", c.name, "line", row.Line, "err", row.Err)
			}
			if more := skipped.Count - len(skipped.Rows); more > 0 {
				s.log.Warn("cad inbound: more CSV rows skipped", "file", c.name, "count", more)
			}
			err = nil
		}
		if err != nil {
			s.fail(c, err)
			continue
		}
		recs = append(recs, d.recs...)
		good = append(good, c)
	}
	if len(good) == 0 {
		return nil
	}
	if err := emit(ctx, adapters.Batch{Records: recs}); err != nil {
		return err
	}
	// The records are durable: only now do the files leave inbound. A crash before this
	// point re-emits them after the restart (unchanged records are not linked again).
	for _, c := range good {
		s.done(c)
	}
	return nil
}

// done moves a processed file to processed/ (or deletes it) and removes its marker.
func (s *Source) done(c candidate) {
	full := filepath.Join(s.dir, c.name)
	var err error
	if s.after == AfterDelete {
		err = os.Remove(full)
	} else {
		err = moveInto(full, filepath.Join(s.dir, ProcessedDir))
	}
	if err != nil && (errors.Is(err, errInboundGone) || !errors.Is(err, fs.ErrNotExist)) {
		// The file stays: it is taken (and its records emitted) again, which is harmless.
		s.log.Warn("cad inbound: processed file not moved", "file", c.name, "err", err)
		return
	}
	delete(s.seen, c.name)
	if c.marker {
		_ = os.Remove(full + MarkerSuffix)
	}
	s.files.WithLabelValues("processed").Inc()
	s.log.Debug("cad inbound: file processed", "file", c.name)
}

// fail moves a file that cannot be decoded to failed/, with NAME.error saying why (the
// decoder's error: a position, never the content).
func (s *Source) fail(c candidate, why error) {
	full := filepath.Join(s.dir, c.name)
	dst := filepath.Join(s.dir, FailedDir)
	s.log.Warn("cad inbound: file cannot be decoded; moved to failed/", "file", c.name, "err", why)
	err := mkdirIn(dst)
	if err == nil {
		msg := fmt.Sprintf("%s\nfile: %s\nformat: %s\nat: %s\n", why, c.name, s.format, time.Now().UTC().Format(time.RFC3339))
		err = writeAtomic(dst, c.name+".error", []byte(msg))
	}
	if err == nil {
		err = moveInto(full, dst)
	}
	if err != nil {
		s.log.Warn("cad inbound: failed file not moved", "file", c.name, "err", err)
		return
	}
	delete(s.seen, c.name)
	if c.marker {
		_ = os.Remove(full + MarkerSuffix)
	}
	s.files.WithLabelValues("failed").Inc()
}

// errInboundGone: the inbound folder went away while its files were being taken.
var errInboundGone = errors.New("the inbound folder is gone (a share unmounted?)")

// mkdirIn creates dst (processed/ or failed/), a folder directly inside inbound, when it
// is missing — but never inbound itself: a folder that went away (a share unmounted) must
// stay away, not come back empty on the local disk, where it would read as a CAD with
// nothing new and be in the way of the share when it returns.
func mkdirIn(dst string) error {
	err := os.Mkdir(dst, 0o755)
	switch {
	case err == nil, errors.Is(err, fs.ErrExist):
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("create %s: %w", dst, errInboundGone)
	}
	return fmt.Errorf("create %s: %w", dst, err)
}

// moveInto renames file into folder dst (created when missing, inside an existing
// inbound), keeping its name, or — when a file of that name is there already (a CAD that
// reuses names) — adding the time.
func moveInto(file, dst string) error {
	if err := mkdirIn(dst); err != nil {
		return err
	}
	target := filepath.Join(dst, filepath.Base(file))
	if _, err := os.Lstat(target); err == nil {
		target += "." + time.Now().UTC().Format("20060102T150405.000000000Z")
	}
	return os.Rename(file, target)
}

// matches reports whether name matches the glob pattern, ignoring case (a CAD on Windows
// may write CALL.XML for a pattern "*.xml").
func matches(pattern, name string) bool {
	if ok, _ := path.Match(pattern, name); ok {
		return true
	}
	ok, _ := path.Match(strings.ToLower(pattern), strings.ToLower(name))
	return ok
}

// ignored reports names never taken: temp files and markers of a writer, hidden files.
func ignored(name string) bool {
	l := strings.ToLower(name)
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "~") ||
		strings.HasSuffix(l, ".tmp") || strings.HasSuffix(l, ".part") || strings.HasSuffix(l, MarkerSuffix)
}

// loadHorizon reads the lookback horizon from the state, setting it on the first start.
func (s *Source) loadHorizon() error {
	if s.hasHor || s.lookback <= 0 {
		return nil
	}
	v, ok, err := s.state.Get(horizonKey)
	if err != nil {
		return fmt.Errorf("read the lookback horizon: %w", err)
	}
	if ok {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return fmt.Errorf("the stored lookback horizon %q: %w", v, err)
		}
		s.horizon, s.hasHor = t, true
		return nil
	}
	h := time.Now().Add(-s.lookback).UTC()
	if err := s.state.Put(horizonKey, h.Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("store the lookback horizon: %w", err)
	}
	s.horizon, s.hasHor = h, true
	s.log.Info("cad inbound: lookback horizon set on the first start", "horizon", h.Format(time.RFC3339))
	return nil
}
