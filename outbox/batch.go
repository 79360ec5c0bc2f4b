package outbox

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// StatePut is one write of the generic state (the buckets of Get, Put and Delete) made in
// the transaction of a batch: Value stored under Bucket/Key, or Key removed when Delete.
type StatePut struct {
	Bucket, Key, Value string
	Delete             bool
}

// Item is one message of EnqueueLatestBatch with the state writes that belong to it
// (e.g. the content hash of the incident it links): they are committed in the same
// transaction as the message, never without it.
type Item struct {
	Key     string
	Payload []byte
	State   []StatePut
}

// Chunks of EnqueueLatestBatch: at most this many items, or about this many payload
// bytes, per transaction, so that one large batch does not hold up every other writer (a
// webhook's note) for the length of one huge commit.
const (
	BatchChunkItems = 1000
	batchChunkBytes = 4 << 20
)

// batchItem is one item of an opBatch request, encoded by the caller.
type batchItem struct {
	key      string
	rec      []byte
	payLen   int
	state    []StatePut
	replaced bool // outcome: older pending messages of key were replaced
}

// effect is one change of the in-memory index a request makes (see writeReq.effKey).
type effect struct {
	key      string
	keyDelta int
	newHead  bool
}

// EnqueueLatestBatch stores items as EnqueueLatest stores one message each (latest state
// wins: the pending messages of an item's key that are not in flight are replaced, also by
// a later item of the same key in the batch), each item's State writes with it, and the
// final State writes (e.g. the cursor that covers the items) — durably (committed and
// fsynced) before it returns.
//
// The items are committed in chunks of at most BatchChunkItems, one transaction each, in
// order; final goes into the transaction of the last chunk (alone when there is no item).
// A chunk is all or nothing. So after a crash or an error the file holds a prefix of the
// chunks and final only if every item is there: whoever wrote final as "everything up to
// here is queued" is never wrong. replaced has one entry per committed item (all items
// when err is nil, those of the chunks committed before the error otherwise) saying
// whether it replaced older messages.
//
// ErrFull (the chunk not written) as for Enqueue: a chunk is refused whole once the
// pending bytes reached Options.MaxBytes, so the budget is exceeded by at most one chunk.
// ctx is checked before each chunk.
func (s *Store) EnqueueLatestBatch(ctx context.Context, topic Topic, items []Item, final []StatePut) (replaced []bool, err error) {
	if err := validTopic(topic); err != nil {
		return nil, err
	}
	for i := range items {
		it := &items[i]
		if it.Key == "" {
			return nil, fmt.Errorf("outbox: enqueue batch %s: item %d: empty key (the incident id)", topic, i)
		}
		if len(it.Key) > maxKeyLen {
			return nil, fmt.Errorf("outbox: enqueue batch %s: item %d: key longer than %d bytes", topic, i, maxKeyLen)
		}
		if int64(len(it.Payload)) > bolt.MaxValueSize-1024-int64(len(it.Key)) {
			return nil, fmt.Errorf("outbox: enqueue batch %s/%s: payload of %d bytes is too large", topic, it.Key, len(it.Payload))
		}
		if err := validState(it.State); err != nil {
			return nil, fmt.Errorf("outbox: enqueue batch %s/%s: %w", topic, it.Key, err)
		}
	}
	if err := validState(final); err != nil {
		return nil, fmt.Errorf("outbox: enqueue batch %s: %w", topic, err)
	}
	replaced = make([]bool, 0, len(items))
	for first := true; first || len(items) > 0; first = false {
		n, size := 0, 0
		for n < len(items) && n < BatchChunkItems && (n == 0 || size+len(items[n].Payload) <= batchChunkBytes) {
			size += len(items[n].Payload)
			n++
		}
		var fin []StatePut
		if n == len(items) {
			fin = final
		}
		if len(items[:n]) == 0 && len(fin) == 0 {
			break
		}
		got, err := s.enqueueChunk(ctx, topic, items[:n], fin)
		if err != nil {
			return replaced, err
		}
		replaced = append(replaced, got...)
		items = items[n:]
	}
	return replaced, nil
}

// enqueueChunk commits one chunk of EnqueueLatestBatch in one writer request.
func (s *Store) enqueueChunk(ctx context.Context, topic Topic, items []Item, final []StatePut) ([]bool, error) {
	if ctx != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("outbox: enqueue batch %s: not written: %w", topic, ctx.Err())
	}
	if len(items) > 0 && s.fullWithUnlinked(nil) {
		return nil, ErrFull
	}
	r := getReq()
	defer putReq(r)
	r.kind, r.topic, r.state = opBatch, topic, final
	now := s.opts.Now()
	r.items = make([]batchItem, len(items))
	for i, it := range items {
		m := Message{Key: it.Key, Payload: it.Payload, CreatedAt: now}
		r.items[i] = batchItem{key: it.Key, rec: appendMessage(nil, &m), payLen: len(it.Payload), state: it.State}
		r.batchBytes += len(r.items[i].rec)
	}
	if err := s.submitAll([]*writeReq{r}); err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, r.err
	}
	out := make([]bool, len(r.items))
	for i := range r.items {
		out[i] = r.items[i].replaced
	}
	return out, nil
}

// validState checks state writes before they reach the writer.
func validState(ps []StatePut) error {
	for _, p := range ps {
		if p.Bucket == "" || p.Key == "" {
			return fmt.Errorf("state %q/%q: empty bucket or key", p.Bucket, p.Key)
		}
		if len(p.Key) > maxKeyLen || len(p.Bucket) > maxKeyLen {
			return fmt.Errorf("state %s/%s: bucket or key longer than %d bytes", p.Bucket, p.Key, maxKeyLen)
		}
		if int64(len(p.Value)) > bolt.MaxValueSize-1024 {
			return fmt.Errorf("state %s/%s: value of %d bytes is too large", p.Bucket, p.Key, len(p.Value))
		}
	}
	return nil
}

// applyBatch performs an opBatch request inside the writer's transaction (see apply). A
// chunk refused for the budget is r.err = ErrFull with nothing written.
func (s *Store) applyBatch(tx *bolt.Tx, ch chain, r *writeReq, cur *int64, w *wbuf) error {
	if len(r.items) > 0 && *cur >= s.opts.MaxBytes {
		r.err = ErrFull
		return nil
	}
	for i := range r.items {
		it := &r.items[i]
		keepHead := s.isInflight(r.topic, it.key)
		n, bytes, had, _, err := ch.truncate(it.key, keepHead)
		if err != nil {
			return err
		}
		seq, err := ch.q.NextSequence()
		if err != nil {
			return err
		}
		if err := ch.q.Put(w.seqKey(seq), it.rec); err != nil {
			return err
		}
		created, err := ch.append(it.key, seq)
		if err != nil {
			return err
		}
		e := effect{key: it.key, newHead: had && !keepHead}
		if created && !had {
			e.keyDelta = 1
		}
		r.effs = append(r.effs, e)
		it.replaced = n > 0
		r.delta.pending += 1 - int64(n)
		r.delta.bytes += int64(it.payLen) - bytes
		if err := putState(tx, it.state); err != nil {
			return err
		}
	}
	return putState(tx, r.state)
}

// putState applies state writes in tx.
func putState(tx *bolt.Tx, ps []StatePut) error {
	for _, p := range ps {
		if p.Delete {
			if b := tx.Bucket([]byte(kvPrefix + p.Bucket)); b != nil {
				if err := b.Delete([]byte(p.Key)); err != nil {
					return err
				}
			}
			continue
		}
		b, err := tx.CreateBucketIfNotExists([]byte(kvPrefix + p.Bucket))
		if err != nil {
			return err
		}
		if err := b.Put([]byte(p.Key), []byte(p.Value)); err != nil {
			return err
		}
	}
	return nil
}
