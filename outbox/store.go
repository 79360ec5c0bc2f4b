// Package outbox is the durable, bbolt-backed queue of the sidecar plus its small key/value
// state (links, cursors, hashes, meta).
//
// # Guarantees
//
// Enqueue returns only after the message is committed and fsynced. A message leaves the
// queue only when its handler returned nil (deleted) or it was moved to the dead letters (in
// the same transaction that removes it from the queue). Every change is a bbolt transaction,
// so a crash at any instant leaves the file either before or after it; nothing authoritative
// lives only in memory. Delivery is at-least-once: on restart everything not acked is
// delivered again.
//
// # On-disk layout (one bbolt file)
//
//	queue/<topic>     seq (8-byte big-endian, bucket NextSequence) → message record
//	dead/<topic>      seq → dead-letter record (reason, time, message)
//	dedup             idempotency key → 8-byte big-endian Unix nanos when recorded
//	dedup_time        8-byte Unix nanos ‖ idempotency key → empty (time index for pruning)
//	links             incident id → Link (JSON)
//	links_by_call     call id → incident id
//	pending_status    call id → status that arrived before its link (JSON)
//	kv/<name>         generic state of Get/Put/Delete ("cursor", "hash", "meta", ...)
//	sys               "format" → "1"
//
// Record encodings are described in codec.go (compact binary, versioned).
//
// # Memory
//
// Open scans every queue bucket once (reading keys and record headers, never copying
// payloads) to build an in-memory index: per topic and FIFO key, the list of pending seqs
// (8 bytes per message) plus a ready list and a timer heap of keys. Delivery then finds the
// next message in O(log n) without rescanning the backlog; only the head message of a key
// is ever read from disk, when it is handed to a handler.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Options tunes a Store. Zero values mean the documented defaults.
type Options struct {
	RetryInitial time.Duration // default 1s
	RetryMax     time.Duration // default 5m
	// MaxAge: a message older than this (since CreatedAt, or since its last Replay) is moved
	// to the dead letters with reason "expired after <age>: <last error>" when it comes up for
	// delivery, instead of being retried. It is never deleted. Default 72h.
	MaxAge time.Duration
	// MaxBytes: Enqueue returns ErrFull (nothing written) once the payload bytes of pending
	// messages reach it. Default (and 0) = 1 GiB. Replay is not limited.
	MaxBytes int64
	// Concurrency: at most this many messages (of different keys) are delivered at once per
	// topic. Default 8.
	Concurrency int
	// DedupRetention: how long idempotency keys are remembered. Default 7 days.
	DedupRetention time.Duration
	// Logger receives operational logs (topic, key, seq, attempts, errors; never payloads).
	// nil = discard.
	Logger *slog.Logger
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
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

const formatVersion = "1"

var (
	bktDedup         = []byte("dedup")
	bktDedupTime     = []byte("dedup_time")
	bktLinks         = []byte("links")
	bktLinksByCall   = []byte("links_by_call")
	bktPendingStatus = []byte("pending_status")
	bktSys           = []byte("sys")
)

const (
	queuePrefix = "queue/"
	deadPrefix  = "dead/"
	kvPrefix    = "kv/"
)

func queueBucket(t Topic) []byte { return []byte(queuePrefix + string(t)) }
func deadBucket(t Topic) []byte  { return []byte(deadPrefix + string(t)) }

// Store is an open outbox file. All methods are safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
	opts Options
	log  *slog.Logger

	closeCtx    context.Context // cancelled by Close: stops Deliver loops and the pruner
	cancelClose context.CancelFunc
	closeOnce   sync.Once
	closeErr    error

	reqs       chan *writeReq // to the writer goroutine (unbuffered: a handed-off request is always processed)
	stopWriter chan struct{}
	writerDone chan struct{}
	bg         sync.WaitGroup // writer + pruner
	deliverWG  sync.WaitGroup // running Deliver calls

	mu           sync.Mutex
	closed       bool
	topics       map[Topic]*topicIndex
	dead         map[Topic]int
	pendingBytes int64
}

// Open opens (creating if needed) the outbox file at path. Its parent directory is created
// with mode 0o750 and the file with 0o600. If another process holds the file, Open fails
// after about one second with an error naming the path.
func Open(path string, opts Options) (*Store, error) {
	opts.setDefaults()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("outbox: create directory for %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("outbox: open %s: the file is locked: another process (a running sidecar?) holds it: %w", path, err)
		}
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	s := &Store{
		db:         db,
		path:       path,
		opts:       opts,
		log:        opts.Logger,
		reqs:       make(chan *writeReq),
		stopWriter: make(chan struct{}),
		writerDone: make(chan struct{}),
		topics:     map[Topic]*topicIndex{},
		dead:       map[Topic]int{},
	}
	s.closeCtx, s.cancelClose = context.WithCancel(context.Background())
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	s.bg.Add(2)
	go s.writer()
	go s.pruner()
	return s, nil
}

// init creates the fixed buckets, checks the format and builds the in-memory index.
func (s *Store) init() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bktDedup, bktDedupTime, bktLinks, bktLinksByCall, bktPendingStatus, bktSys} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		for _, t := range []Topic{TopicLink, TopicNote} {
			if err := createTopicBuckets(tx, t); err != nil {
				return err
			}
		}
		sys := tx.Bucket(bktSys)
		switch v := sys.Get([]byte("format")); {
		case v == nil:
			return sys.Put([]byte("format"), []byte(formatVersion))
		case string(v) != formatVersion:
			return fmt.Errorf("unsupported file format %q (this version reads %q)", v, formatVersion)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			switch n := string(name); {
			case strings.HasPrefix(n, queuePrefix):
				return s.loadIndex(Topic(strings.TrimPrefix(n, queuePrefix)), b)
			case strings.HasPrefix(n, deadPrefix):
				t := Topic(strings.TrimPrefix(n, deadPrefix))
				s.dead[t] = b.Stats().KeyN
			}
			return nil
		})
	})
}

func createTopicBuckets(tx *bolt.Tx, t Topic) error {
	if _, err := tx.CreateBucketIfNotExists(queueBucket(t)); err != nil {
		return fmt.Errorf("create queue bucket for topic %q: %w", t, err)
	}
	if _, err := tx.CreateBucketIfNotExists(deadBucket(t)); err != nil {
		return fmt.Errorf("create dead-letter bucket for topic %q: %w", t, err)
	}
	return nil
}

// loadIndex iterates one queue bucket (keys and headers only) into the in-memory index.
func (s *Store) loadIndex(t Topic, b *bolt.Bucket) error {
	ti := s.topicLocked(t)
	now := s.opts.Now()
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			return fmt.Errorf("topic %q: bad queue key %x: %w", t, k, errCorrupt)
		}
		h, err := decodeHeader(v)
		if err != nil {
			return fmt.Errorf("topic %q seq %d: %w", t, seqOf(k), err)
		}
		ti.add(h.key, seqOf(k), h.nextAttempt, now)
		ti.pending++
		s.pendingBytes += int64(h.payloadLen)
	}
	return nil
}

// topicLocked returns the index of t, creating it. Caller holds s.mu (or is in Open).
func (s *Store) topicLocked(t Topic) *topicIndex {
	ti := s.topics[t]
	if ti == nil {
		ti = newTopicIndex()
		s.topics[t] = ti
	}
	return ti
}

// Close stops delivery (Deliver calls return ErrClosed after their in-flight handlers
// finish), commits writes already handed to the writer, stops the background goroutines and
// closes the file. Safe to call more than once; later calls return the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancelClose()
		s.deliverWG.Wait()
		close(s.stopWriter)
		s.bg.Wait()
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("outbox: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// update runs fn in its own fsynced write transaction (the small-state path).
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	if s.isClosed() {
		return ErrClosed
	}
	err := s.db.Update(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	if s.isClosed() {
		return ErrClosed
	}
	err := s.db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
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
