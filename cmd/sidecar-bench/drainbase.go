package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// drainBaseConcurrency is the baseline's number of workers: outbox.Deliver's default
// concurrency, so both sides may have as many deliveries in flight.
const drainBaseConcurrency = 8

// drainBaseline is the drain's baseline: the same backlog (keys, payloads, per-key order)
// in a plain bbolt file, drained by drainBaseConcurrency workers, each owning a share of
// the keys and taking their messages in order; every ack is its own db.Update (one commit,
// one fsync) deleting the message — what a queue without batched acks does. Filling the
// file is not timed. It stops after p.DrainBaseMax (or the whole backlog) and returns the
// messages acknowledged and the time taken.
func drainBaseline(ctx context.Context, p params, dir string, perKey []int) (int64, time.Duration, error) {
	db, err := bolt.Open(filepath.Join(dir, "baseline.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return 0, 0, fmt.Errorf("open: %w", err)
	}
	defer db.Close()
	bucket := []byte("queue")
	msgKey := func(k, j int) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(k))
		return binary.BigEndian.AppendUint64(b, uint64(j))
	}
	// Fill in batches (not timed).
	for k := 0; k < len(perKey); {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucket)
			if err != nil {
				return err
			}
			for n := 0; k < len(perKey) && n < 10_000; k++ {
				key := "inc-" + strconv.Itoa(k)
				for j := range perKey[k] {
					if err := b.Put(msgKey(k, j), drainPayload(key, j, p.PayloadSize)); err != nil {
						return err
					}
					n++
				}
			}
			return nil
		})
		if err != nil {
			return 0, 0, fmt.Errorf("fill: %w", err)
		}
	}

	var (
		wg       sync.WaitGroup
		firstErr atomic.Pointer[error]
		stop     atomic.Bool
		acked    atomic.Int64
	)
	deadline := time.Now().Add(p.DrainBaseMax)
	start := time.Now()
	for w := range drainBaseConcurrency {
		wg.Go(func() {
			for k := w; k < len(perKey); k += drainBaseConcurrency {
				key := "inc-" + strconv.Itoa(k)
				for j := range perKey[k] {
					if stop.Load() || ctx.Err() != nil || time.Now().After(deadline) {
						stop.Store(true)
						return
					}
					id := msgKey(k, j)
					var payload []byte
					if err := db.View(func(tx *bolt.Tx) error {
						payload = append(payload, tx.Bucket(bucket).Get(id)...)
						return nil
					}); err != nil {
						firstErr.CompareAndSwap(nil, &err)
						stop.Store(true)
						return
					}
					if got, jj, ok := parseDrainPayload(payload); !ok || got != key || jj != j {
						err := fmt.Errorf("message %s #%d: payload %q", key, j, payload)
						firstErr.CompareAndSwap(nil, &err)
						stop.Store(true)
						return
					}
					if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete(id) }); err != nil {
						firstErr.CompareAndSwap(nil, &err)
						stop.Store(true)
						return
					}
					acked.Add(1)
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	if e := firstErr.Load(); e != nil {
		return 0, 0, *e
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	return acked.Load(), el, nil
}
