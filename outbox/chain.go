package outbox

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The per-key FIFO on disk is a singly linked chain of seqs:
//
//	keys/<topic>  key → seq of its head, the oldest pending message (8 B BE)
//	next/<topic>  seq → seq of the next pending message of the same key (8 B BE)
//
// Appending writes only the entry of the key's tail in next/<topic> (a recent seq: the
// writes of one commit land on a few pages at the end of that bucket, whatever the number
// of keys); the key's entry is written only when the key appears. The tail itself is kept
// in memory by the writer (O(keys)); after a restart it is found once per key, at its first
// append, by following the chain from the head. Removing the head rewrites the key's entry
// and deletes the head's next entry. Removing a message in the middle (expiry behind a
// message in flight, coalescing) walks the chain from the head to find its predecessor.

// chain works on one topic's buckets inside a write transaction. Keys and values handed to
// bbolt come from w (kept until the commit). tails is the writer's tail cache for the topic:
// a key is in it only while it has pending messages; it may be ahead of the file only
// within the transaction; the writer drops it when a transaction fails.
type chain struct {
	q, next, keys *bolt.Bucket
	w             *wbuf
	tails         map[string]uint64
}

func decodeSeq(v []byte) (uint64, bool) {
	if len(v) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}

func (c chain) head(key string) (uint64, []byte, bool, error) {
	kb := append(c.w.take(len(key)), key...)
	v := c.keys.Get(kb)
	if v == nil {
		return 0, kb, false, nil
	}
	h, ok := decodeSeq(v)
	if !ok {
		return 0, kb, false, fmt.Errorf("key %q: bad entry: %w", key, errCorrupt)
	}
	return h, kb, true, nil
}

func (c chain) nextOf(seq uint64) (uint64, bool) {
	return decodeSeq(c.next.Get(c.w.seqKey(seq)))
}

// tail returns the last seq of key's chain starting at head (cached; else one walk).
func (c chain) tail(key string, head uint64) uint64 {
	if t, ok := c.tails[key]; ok {
		return t
	}
	t := head
	for {
		n, ok := c.nextOf(t)
		if !ok {
			break
		}
		t = n
	}
	c.tails[key] = t
	return t
}

// append adds seq (the newest) at the end of key's chain; created: the key had no pending
// message.
func (c chain) append(key string, seq uint64) (created bool, err error) {
	if t, ok := c.tails[key]; ok { // cached ⇒ the key has pending messages: no read
		if err := c.next.Put(c.w.seqKey(t), c.w.seqKey(seq)); err != nil {
			return false, err
		}
		c.tails[key] = seq
		return false, nil
	}
	h, kb, ok, err := c.head(key)
	if err != nil {
		return false, err
	}
	if ok {
		if err := c.next.Put(c.w.seqKey(c.tail(key, h)), c.w.seqKey(seq)); err != nil {
			return false, err
		}
		c.tails[key] = seq
		return false, nil
	}
	if err := c.keys.Put(kb, c.w.seqKey(seq)); err != nil {
		return false, err
	}
	c.tails[key] = seq
	return true, nil
}

// remove unlinks seq from key's chain (deleting the queue record is the caller's job);
// emptied: it was the key's last message.
func (c chain) remove(key string, seq uint64) (emptied bool, err error) {
	h, kb, ok, err := c.head(key)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, fmt.Errorf("key %q of seq %d has no chain: %w", key, seq, errCorrupt)
	}
	nx, hasNext := c.nextOf(seq)
	if hasNext {
		if err := c.next.Delete(c.w.seqKey(seq)); err != nil {
			return false, err
		}
	}
	if h == seq {
		if hasNext {
			return false, c.keys.Put(kb, c.w.seqKey(nx))
		}
		delete(c.tails, key)
		return true, c.keys.Delete(kb)
	}
	p := h
	for {
		n, ok := c.nextOf(p)
		if !ok {
			return false, fmt.Errorf("key %q: seq %d not in its chain: %w", key, seq, errCorrupt)
		}
		if n == seq {
			break
		}
		p = n
	}
	if hasNext {
		return false, c.next.Put(c.w.seqKey(p), c.w.seqKey(nx))
	}
	c.tails[key] = p
	return false, c.next.Delete(c.w.seqKey(p))
}

// truncate deletes every message of key (queue records included) except the head when
// keepHead; it returns how many it deleted and their payload bytes. existed: the key had
// messages; emptied: it has none left.
func (c chain) truncate(key string, keepHead bool) (n int, bytes int64, existed, emptied bool, err error) {
	h, kb, ok, err := c.head(key)
	if err != nil || !ok {
		return 0, 0, false, false, err
	}
	cur, more := h, true
	if keepHead {
		cur, more = c.nextOf(h)
	}
	for more {
		k := c.w.seqKey(cur)
		if rec := c.q.Get(k); rec != nil {
			hd, err := decodeHeader(rec)
			if err != nil {
				return 0, 0, true, false, fmt.Errorf("seq %d: %w", cur, err)
			}
			bytes += int64(hd.payloadLen)
			if err := c.q.Delete(k); err != nil {
				return 0, 0, true, false, err
			}
		}
		nx, ok := c.nextOf(cur)
		if ok {
			if err := c.next.Delete(k); err != nil {
				return 0, 0, true, false, err
			}
		}
		n++
		cur, more = nx, ok
	}
	if keepHead {
		c.tails[key] = h
		return n, bytes, true, false, c.next.Delete(c.w.seqKey(h))
	}
	delete(c.tails, key)
	return n, bytes, true, true, c.keys.Delete(kb)
}

// headOf returns the head seq of key (read-only use).
func headOf(keys *bolt.Bucket, key []byte) (uint64, bool, error) {
	v := keys.Get(key)
	if v == nil {
		return 0, false, nil
	}
	h, ok := decodeSeq(v)
	if !ok {
		return 0, false, fmt.Errorf("key %q: bad entry: %w", key, errCorrupt)
	}
	return h, true, nil
}
