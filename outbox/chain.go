package outbox

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The per-key FIFO on disk is a singly linked chain of seqs:
//
//	keys/<topic>  key → head seq (8 B BE) ‖ tail seq (8 B BE) ‖ count (uvarint)
//	next/<topic>  seq → seq of the next message of the same key (8 B BE)
//
// Appending touches the key's entry and the entry of its tail (a recent seq: the writes of
// one commit land on a few pages at the end of next/<topic>, whatever the number of keys);
// removing the head touches the key's entry and the head's next entry. The head of a key is
// one get. Removing a message in the middle (expiry behind a message in flight) walks the
// chain from the head to find its predecessor.

type keyEntry struct {
	head, tail uint64
	count      uint64
}

func decodeKeyEntry(v []byte) (keyEntry, error) {
	if len(v) < 17 {
		return keyEntry{}, errCorrupt
	}
	n, sz := binary.Uvarint(v[16:])
	if sz <= 0 || n == 0 {
		return keyEntry{}, errCorrupt
	}
	return keyEntry{binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), n}, nil
}

func appendKeyEntry(b []byte, e keyEntry) []byte {
	b = binary.BigEndian.AppendUint64(b, e.head)
	b = binary.BigEndian.AppendUint64(b, e.tail)
	return binary.AppendUvarint(b, e.count)
}

// chain works on one topic's buckets inside a write (or, for head, read) transaction.
// Keys and values handed to bbolt come from w (kept until the commit).
type chain struct {
	q, next, keys *bolt.Bucket
	w             *wbuf
}

func (c chain) entry(key string) (keyEntry, []byte, bool, error) {
	kb := append(c.w.take(len(key)), key...)
	v := c.keys.Get(kb)
	if v == nil {
		return keyEntry{}, kb, false, nil
	}
	e, err := decodeKeyEntry(v)
	if err != nil {
		return keyEntry{}, kb, false, fmt.Errorf("key %q: bad entry: %w", key, err)
	}
	return e, kb, true, nil
}

func (c chain) putEntry(kb []byte, e keyEntry) error {
	if e.count == 0 {
		return c.keys.Delete(kb)
	}
	return c.keys.Put(kb, appendKeyEntry(c.w.take(8+8+binary.MaxVarintLen64), e))
}

func (c chain) nextOf(seq uint64) (uint64, bool) {
	v := c.next.Get(c.w.seqKey(seq))
	if len(v) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}

// append adds seq (the newest) at the end of key's chain.
func (c chain) append(key string, seq uint64) error {
	e, kb, ok, err := c.entry(key)
	if err != nil {
		return err
	}
	if ok {
		if err := c.next.Put(c.w.seqKey(e.tail), c.w.seqKey(seq)); err != nil {
			return err
		}
		e.tail = seq
		e.count++
	} else {
		e = keyEntry{head: seq, tail: seq, count: 1}
	}
	return c.putEntry(kb, e)
}

// remove unlinks seq from key's chain (deleting the queue record is the caller's job).
func (c chain) remove(key string, seq uint64) error {
	e, kb, ok, err := c.entry(key)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("key %q of seq %d has no chain: %w", key, seq, errCorrupt)
	}
	nx, hasNext := c.nextOf(seq)
	if hasNext {
		if err := c.next.Delete(c.w.seqKey(seq)); err != nil {
			return err
		}
	}
	if e.head == seq {
		if hasNext {
			e.head = nx
		}
	} else {
		p := e.head
		for i := uint64(0); ; i++ {
			n, ok := c.nextOf(p)
			if !ok || i > e.count {
				return fmt.Errorf("key %q: seq %d not in its chain: %w", key, seq, errCorrupt)
			}
			if n == seq {
				break
			}
			p = n
		}
		if hasNext {
			err = c.next.Put(c.w.seqKey(p), c.w.seqKey(nx))
		} else {
			err = c.next.Delete(c.w.seqKey(p))
			e.tail = p
		}
		if err != nil {
			return err
		}
	}
	e.count--
	return c.putEntry(kb, e)
}

// truncate deletes every message of key (queue records included) except the head when
// keepHead; it returns how many it deleted and their payload bytes.
func (c chain) truncate(key string, keepHead bool) (int, int64, error) {
	e, kb, ok, err := c.entry(key)
	if err != nil || !ok {
		return 0, 0, err
	}
	cur, more := e.head, true
	if keepHead {
		cur, more = c.nextOf(e.head)
	}
	n, bytes := 0, int64(0)
	for more && n <= int(e.count) {
		k := c.w.seqKey(cur)
		if rec := c.q.Get(k); rec != nil {
			h, err := decodeHeader(rec)
			if err != nil {
				return 0, 0, fmt.Errorf("seq %d: %w", cur, err)
			}
			bytes += int64(h.payloadLen)
			if err := c.q.Delete(k); err != nil {
				return 0, 0, err
			}
		}
		nx, ok := c.nextOf(cur)
		if ok {
			if err := c.next.Delete(k); err != nil {
				return 0, 0, err
			}
		}
		n++
		cur, more = nx, ok
	}
	if keepHead {
		if err := c.next.Delete(c.w.seqKey(e.head)); err != nil {
			return 0, 0, err
		}
		e = keyEntry{head: e.head, tail: e.head, count: 1}
	} else {
		e = keyEntry{}
	}
	return n, bytes, c.putEntry(kb, e)
}

// headOf returns the head seq of key (read-only use).
func headOf(keys *bolt.Bucket, key []byte) (uint64, bool, error) {
	v := keys.Get(key)
	if v == nil {
		return 0, false, nil
	}
	e, err := decodeKeyEntry(v)
	if err != nil {
		return 0, false, fmt.Errorf("key %q: bad entry: %w", key, err)
	}
	return e.head, true, nil
}
