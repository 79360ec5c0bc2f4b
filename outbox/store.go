// Package outbox is the durable, bbolt-backed queue of the sidecar plus its small key/value
// state (links, cursors, hashes, meta).
//
// # Guarantees
//
// Enqueue returns only after the message is committed and fsynced. A message leaves the
// queue only when its handler returned nil (deleted), it was moved to the dead letters (in
// the same transaction that removes it from the queue), or it was replaced by a newer
// message of its key through EnqueueLatest. Every change is a bbolt transaction, so a crash
// at any instant leaves the file either before or after it; nothing authoritative lives only
// in memory. Delivery is at-least-once: on restart everything not acked is delivered again.
//
// # On-disk layout (one bbolt file, format 3)
//
//	queue/<topic>     seq (8-byte big-endian, bucket NextSequence) → message record
//	keys/<topic>      key → seq of its head, its oldest pending message (8-byte BE); one
//	                  entry per key with pending messages
//	next/<topic>      seq → seq of the next pending message of the same key (8-byte BE):
//	                  with keys, the per-key FIFO as a linked chain (see chain.go)
//	dead/<topic>      seq → dead-letter record (reason, time, message)
//	dedup             idempotency key → 8-byte big-endian Unix nanos when recorded (no
//	                  time index: the pruner walks it in bounded chunks, see prune.go)
//	links             incident id → Link (JSON)
//	links_by_call     call id → incident id
//	pending_status    call id → status that arrived before its link (JSON)
//	unlinked/<kind>   call id → 8-byte BE Unix nanos kept ‖ opaque value: other state
//	                  kept until the call is linked (see unlinked.go)
//	kv/<name>         generic state of Get/Put/Delete ("cursor", "hash", "meta", ...)
//	sys               "format" → "3"; "store_id" → the store's random id (hex; see
//	                  identity.go: also in the marker file "<file>.id" beside it);
//	                  "count/<topic>" → pending count ‖ pending payload bytes ‖ dead count
//	                  (three 8-byte BE integers)
//
// keys, next and the sys counters are written in the same transactions as queue and dead,
// so they are always in step with them. Older files are migrated in one transaction at
// Open: format 1 (queue and dead only) gets keys, next and the counters; format 2 (the same
// plus a dedup_time index, time ‖ key → empty, written at each Enqueue) loses that index.
//
// Record encodings are described in codec.go (compact binary, versioned).
//
// # Memory and start-up
//
// Open reads the sys counters and walks keys/<topic> (one entry per key with pending
// messages; for each, one read of its head record for its NextAttempt), never the
// messages (a key's tail is found at its first append, see chain.go): memory is O(keys with pending messages), not O(messages). Delivery finds the
// next key from an in-memory ready list and timer heap and reads only the head of that key
// (one get in keys, one in queue), so its cost does not grow with the backlog. (bbolt
// itself walks the file's page tree at open to rebuild its freelist, which is not written
// at each commit: NoFreelistSync. That is a walk of page headers, ~20 ms for 100k
// messages, and holds nothing per message.)
//
// # Throughput
//
// Every queue change goes through one writer goroutine that commits everything waiting in
// one transaction (group commit, see writer.go): with 64 concurrent producers one fsync pair
// carries ~64 messages. Acks of delivered messages, and PutLink, are grouped the same way.
// EnqueueLatestBatch commits many messages of one caller (a poll's links) with their state
// writes (hashes) and a final state (the cursor) in one transaction per chunk (batch.go).
//
// # Damage, and offline maintenance
//
// A damaged file (truncated, damaged pages) is refused at Open with ErrCorrupt, and a
// damaged page met later is an ErrCorrupt error, never a panic (check.go, health.go). A
// write that fails for lack of space is ErrNoSpace (health.go). Check examines a file,
// Salvage copies what is readable of a damaged one into a new file (salvage.go).
//
// bbolt files do not shrink: after a large backlog has drained, Compact (with the sidecar
// stopped) writes a compacted copy.
package outbox

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Options tunes a Store. Zero values mean the documented defaults.
type Options struct {
	RetryInitial time.Duration // default 1s
	RetryMax     time.Duration // default 5m
	// MaxAge: a message older than this (since CreatedAt, or since its last Replay) is moved
	// to the dead letters with reason "expired after <age>: <last error>", by a sweep that
	// runs at Open and every minute (even behind a stuck key) and when it comes up for
	// delivery. It is never deleted. Default 72h.
	MaxAge time.Duration
	// MaxBytes: Enqueue returns ErrFull (nothing written) once the payload bytes of pending
	// messages plus the bytes of unlinked state (unlinked.go) reach it; KeepUnlinked and a
	// status kept by SetCallStatus are refused the same way. Default (and 0) = 1 GiB.
	// Replay is not limited.
	MaxBytes int64
	// Concurrency: at most this many handlers (of different keys) run at once per topic.
	// Default 8.
	Concurrency int
	// MaxAttempts: a key's head with this many strikes (Message.Strikes, kept on disk) is
	// given up — moved to the dead letters with reason "given up after N attempts while the
	// destination accepted other messages: <last error>" (N: all its attempts) — and the
	// key's next message flows. A transient failure is a strike when a handler call of
	// another message that started after the head's previous failure (for its first
	// failure: after this attempt started) returned nil. A real outage gives up nothing:
	// once nothing is accepted a head gets at most one more strike; only MaxAge applies.
	// With messages flowing, RetryInitial 1s / RetryMax 5m give the 8th strike 1 to 2
	// minutes after the first failure (backoffs 1+2+...+64 s, jittered), 200ms / 1s 3 to 5
	// seconds, plus the time the attempts themselves take (a timeout each). See poison.go.
	// Default (and 0) 8.
	MaxAttempts int
	// UrgentAttempts: a head is given up after this many strikes already when an urgent
	// message (EnqueueUrgent) waits behind it in its key, at once if the urgent message
	// arrives while the head waits for its retry. And after this many failed attempts
	// (strikes or not) with an urgent message behind, the message directly behind the head
	// is tried out of order while the breaker is closed: accepted, it gives the head up
	// (the proof for a key alone). Default (and 0) 3.
	UrgentAttempts int
	// DedupRetention: how long idempotency keys are remembered. Default 7 days.
	DedupRetention time.Duration
	// Logger receives operational logs (topic, key, seq, attempts, errors; never payloads).
	// nil = discard.
	Logger *slog.Logger
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
	// NoBackground starts no background work: no expiry sweep (MaxAge), no pruning of
	// idempotency keys, no disk-full probe. For commands that only inspect the file (the
	// CLI's dead-letter list, cursor show): opening does not change what they look at.
	// Deliver, if called, still applies MaxAge to the messages it hands out.
	NoBackground bool
	// OnDead, if set, is called after Deliver moved a message to the dead letters
	// (permanent error, given up, expired when it came up; not the sweep's expiries), with
	// the dead letter's reason. It runs on the delivery path: it must be quick.
	OnDead func(m Message, reason string)
}

func (o *Options) setDefaults() {
	if o.RetryInitial <= 0 {
		o.RetryInitial = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Minute
	}
	if o.RetryMax < o.RetryInitial {
		o.RetryMax = o.RetryInitial
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 72 * time.Hour
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.UrgentAttempts <= 0 {
		o.UrgentAttempts = 3
	}
	if o.DedupRetention <= 0 {
		o.DedupRetention = 7 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Topic names a queue.
type Topic string

// The sidecar's two queues. Other non-empty names work too (their buckets are created on
// first use).
const (
	TopicLink Topic = "link"
	TopicNote Topic = "note"
)

const (
	formatVersion   = "3"
	formatVersionV2 = "2"
	formatVersionV1 = "1"
)

var (
	bktDedup         = []byte("dedup")
	bktDedupTimeV2   = []byte("dedup_time") // format 2 only: dropped by migrateV2
	bktLinks         = []byte("links")
	bktLinksByCall   = []byte("links_by_call")
	bktPendingStatus = []byte("pending_status")
	bktSys           = []byte("sys")
	sysFormat        = []byte("format")
)

const (
	queuePrefix = "queue/"
	deadPrefix  = "dead/"
	nextPrefix  = "next/"
	keysPrefix  = "keys/"
	kvPrefix    = "kv/"
	countPrefix = "count/"
)

func queueBucket(t Topic) []byte { return []byte(queuePrefix + string(t)) }
func deadBucket(t Topic) []byte  { return []byte(deadPrefix + string(t)) }
func nextBucket(t Topic) []byte  { return []byte(nextPrefix + string(t)) }
func keysBucket(t Topic) []byte  { return []byte(keysPrefix + string(t)) }
func countKey(t Topic) []byte    { return []byte(countPrefix + string(t)) }

// counters are the persisted per-topic sizes (sys "count/<topic>").
type counters struct {
	pending int64
	bytes   int64
	dead    int64
}

func (c counters) add(d counters) counters {
	return counters{c.pending + d.pending, c.bytes + d.bytes, c.dead + d.dead}
}

func getCounters(tx *bolt.Tx, t Topic) (counters, error) {
	v := tx.Bucket(bktSys).Get(countKey(t))
	if v == nil {
		return counters{}, nil
	}
	if len(v) != 24 {
		return counters{}, fmt.Errorf("topic %q: counters of %d bytes: %w", t, len(v), errCorrupt)
	}
	return counters{
		int64(binary.BigEndian.Uint64(v)),
		int64(binary.BigEndian.Uint64(v[8:])),
		int64(binary.BigEndian.Uint64(v[16:])),
	}, nil
}

func putCounters(tx *bolt.Tx, t Topic, c counters) error {
	v := make([]byte, 24)
	binary.BigEndian.PutUint64(v, uint64(c.pending))
	binary.BigEndian.PutUint64(v[8:], uint64(c.bytes))
	binary.BigEndian.PutUint64(v[16:], uint64(c.dead))
	return tx.Bucket(bktSys).Put(countKey(t), v)
}

// Store is an open outbox file. All methods are safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
	opts Options
	log  *slog.Logger

	closeCtx    context.Context // cancelled by Close: stops Deliver loops, pruner and sweeper
	cancelClose context.CancelFunc
	closeOnce   sync.Once
	closeErr    error

	wq         writeQueue // to the writer goroutine
	stopWriter chan struct{}
	bg         sync.WaitGroup // pruner + sweeper
	writerWG   sync.WaitGroup
	deliverWG  sync.WaitGroup // running Deliver calls

	commits atomic.Int64                // write transactions of the writer (group commits)
	tails   map[Topic]map[string]uint64 // writer goroutine only: tail seq of each key (chain.go)
	// afterAck, if set (tests), is called after a handler's success was committed.
	afterAck func(m Message)
	// failWrite, if set (tests), is called in every write transaction of the writer and
	// of update; its error fails the transaction (e.g. an injected ENOSPC).
	failWrite atomic.Pointer[func() error]

	held    []*writeReq            // writer goroutine only: delivery outcomes held while the disk is full
	heldN   atomic.Int32           // len(held), for tests
	id      string                 // store id (identity.go)
	noSpace atomic.Pointer[string] // set while writes fail for lack of space (health.go)
	damaged atomic.Pointer[string] // set once a damaged page or record was met

	// deliverDone is, per topic, the Done channel of its running Deliver (s.mu): its
	// handlers' outcomes are held on a full disk only until it is done (writer.go).
	deliverDone map[Topic]<-chan struct{}

	mu           sync.Mutex
	closed       bool
	topics       map[Topic]*topicIndex
	pendingBytes int64
	// unlinkedBytes: bytes of unlinked state (unlinked.go), counted toward MaxBytes.
	unlinkedBytes int64
}

// boltOptions: NoFreelistSync + map freelist: the freelist is not written at each commit
// (one page write less per fsync) and is rebuilt by bbolt when the file is opened.
func boltOptions() *bolt.Options {
	return &bolt.Options{
		Timeout:        time.Second,
		FreelistType:   bolt.FreelistMapType,
		NoFreelistSync: true,
	}
}

// Open opens (creating if needed) the outbox file at path. Its parent directory is created
// with mode 0o750 and the file with 0o600. If another process holds the file, Open fails
// after about one second with an error naming the path. A format 1 or 2 file is migrated
// to format 3.
//
// Open refuses (ErrStoreReplaced) a missing or empty file, or one with another store id,
// where the marker file beside it (MarkerPath) says a store existed; a new file gets a
// store id and a marker (identity.go). A damaged file (truncated, damaged pages, bbolt's
// consistency check; see check.go) is refused with an error wrapping ErrCorrupt that names
// the file, never a panic.
func Open(path string, opts Options) (*Store, error) {
	return openStore(path, opts, &identity{})
}

func openStore(path string, opts Options, id *identity) (*Store, error) {
	opts.setDefaults()
	_, statErr := os.Stat(filepath.Dir(path))
	newDir := errors.Is(statErr, os.ErrNotExist) // Open makes the folder: no volume to miss
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("outbox: create directory for %s: %w", path, err)
	}
	if err := id.preOpen(path); err != nil {
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	if err := preflight(path); err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("outbox: open %s: the file is locked: another process (a running sidecar?) holds it: %w", path, berrors.ErrTimeout)
		}
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	var db *bolt.DB
	err := safely(path, func() (err error) {
		db, err = bolt.Open(path, 0o600, boltOptions())
		return err
	})
	if err != nil {
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, fmt.Errorf("outbox: open %s: the file is locked: another process (a running sidecar?) holds it: %w", path, err)
		case isCorruptOpenErr(err):
			return nil, fmt.Errorf("outbox: open: %w", damagedError(path, err))
		}
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	s := &Store{
		db:         db,
		path:       path,
		opts:       opts,
		log:        opts.Logger,
		stopWriter: make(chan struct{}),
		topics:     map[Topic]*topicIndex{},
		tails:      map[Topic]map[string]uint64{},
	}
	s.wq.signal = make(chan struct{}, 1)
	s.closeCtx, s.cancelClose = context.WithCancel(context.Background())
	if err := safely(path, func() error { return s.init(id) }); err != nil {
		_ = db.Close()
		if errors.Is(err, errCorrupt) || isCorruptOpenErr(err) {
			err = damagedError(path, err)
		}
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	s.id = id.wroteID
	if err := id.postOpen(path); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	if err := s.loadUnlinked(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	switch {
	case !id.created || id.noMarker:
	case newDir:
		s.log.Info(fmt.Sprintf(newStoreNote, path), "file", path)
	default:
		s.log.Warn(fmt.Sprintf(newStoreWarning, path), "file", path)
	}
	s.writerWG.Add(1)
	go s.writer()
	if !opts.NoBackground {
		s.bg.Add(3)
		go s.pruner()
		go s.sweeper()
		go s.spaceProber()
	}
	return s, nil
}

// init creates the fixed buckets, checks (or migrates) the format and builds the in-memory
// index from the keys buckets and counters.
func (s *Store) init(id *identity) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := id.checkID(tx, s.path); err != nil {
			return err
		}
		for _, name := range [][]byte{bktDedup, bktLinks, bktLinksByCall, bktPendingStatus, bktSys} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		sys := tx.Bucket(bktSys)
		switch v := sys.Get(sysFormat); {
		case v == nil:
			if err := sys.Put(sysFormat, []byte(formatVersion)); err != nil {
				return err
			}
		case string(v) == formatVersionV1:
			if err := migrateV1(tx, s.log); err != nil {
				return fmt.Errorf("migrate format 1 to 2: %w", err)
			}
			if err := migrateV2(tx, s.log); err != nil {
				return fmt.Errorf("migrate format 2 to 3: %w", err)
			}
		case string(v) == formatVersionV2:
			if err := migrateV2(tx, s.log); err != nil {
				return fmt.Errorf("migrate format 2 to 3: %w", err)
			}
		case newerFormat(string(v)):
			return newerFormatError(s.path, string(v))
		case string(v) != formatVersion:
			return fmt.Errorf("unsupported file format %q (this version reads %q and migrates %q and %q)", v, formatVersion, formatVersionV2, formatVersionV1)
		}
		for _, t := range []Topic{TopicLink, TopicNote} {
			if err := createTopicBuckets(tx, t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	now := s.opts.Now()
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			n, ok := strings.CutPrefix(string(name), queuePrefix)
			if !ok {
				return nil
			}
			return s.loadTopic(tx, Topic(n), now)
		})
	})
}

func createTopicBuckets(tx *bolt.Tx, t Topic) error {
	for _, name := range [][]byte{queueBucket(t), deadBucket(t), nextBucket(t), keysBucket(t)} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// loadTopic reads the counters of t and walks its keys (not its messages): for each key,
// its head record is read to schedule it at the head's NextAttempt, with its failed
// attempts (keyState.failures).
func (s *Store) loadTopic(tx *bolt.Tx, t Topic, now time.Time) error {
	ti := s.topicLocked(t)
	c, err := getCounters(tx, t)
	if err != nil {
		return err
	}
	ti.pending, ti.bytes, ti.dead = int(c.pending), c.bytes, int(c.dead)
	s.pendingBytes += c.bytes
	keys, q := tx.Bucket(keysBucket(t)), tx.Bucket(queueBucket(t))
	if keys == nil || q == nil {
		return fmt.Errorf("topic %q: missing index buckets: %w", t, errCorrupt)
	}
	return keys.ForEach(func(k, v []byte) error {
		head, ok := decodeSeq(v)
		if !ok {
			return fmt.Errorf("topic %q key %q: bad entry: %w", t, k, errCorrupt)
		}
		var notBefore time.Time
		failures := 0
		if rec := q.Get(u64key(head)); rec != nil {
			h, err := decodeHeader(rec)
			if err != nil {
				return fmt.Errorf("topic %q seq %d: %w", t, head, err)
			}
			notBefore, failures = h.nextAttempt, h.attempts
		}
		ti.addCount(string(k), 1, notBefore, now)
		if ks := ti.keys[string(k)]; ks != nil {
			// The head's failed attempts: an urgent message queued behind it wakes it from
			// a long backoff, and the breaker's probe prefers heads that have not failed.
			ks.failures = failures
		}
		return nil
	})
}

// topicLocked returns the index of t, creating it. Caller holds s.mu (or is in Open).
func (s *Store) topicLocked(t Topic) *topicIndex {
	ti := s.topics[t]
	if ti == nil {
		ti = newTopicIndex(t)
		s.topics[t] = ti
	}
	return ti
}

// Close stops delivery (Deliver calls return ErrClosed after their in-flight handlers
// finish and their outcomes are committed), commits writes already handed to the writer,
// stops the background goroutines and closes the file. Safe to call more than once; later
// calls return the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancelClose()
		s.deliverWG.Wait()
		s.bg.Wait()
		close(s.stopWriter)
		s.writerWG.Wait()
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("outbox: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// update runs fn in its own fsynced write transaction (the small-state path). A lack of
// space is returned as ErrNoSpace, a damaged page (a bbolt panic, recovered) or record as
// ErrCorrupt.
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	if s.isClosed() {
		return ErrClosed
	}
	err := safely(s.path, func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			if f := s.failWrite.Load(); f != nil {
				if err := (*f)(); err != nil {
					return err
				}
			}
			return fn(tx)
		})
	})
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	if err == nil {
		s.wrote()
	}
	return s.storeErr(err)
}

// view runs fn in a read transaction; a damaged page or record is ErrCorrupt.
func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	if s.isClosed() {
		return ErrClosed
	}
	err := safely(s.path, func() error { return s.db.View(fn) })
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return s.storeErr(err)
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func validTopic(t Topic) error {
	if t == "" {
		return errors.New("outbox: empty topic")
	}
	return nil
}
