package outbox

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkEnqueue measures durable enqueues from parallel producers (group commit).
// Run with e.g. -cpu 1,4 and -benchtime; b.SetParallelism(8) gives 8 producers per CPU.
func BenchmarkEnqueue(b *testing.B) {
	for _, producers := range []int{1, 8} {
		b.Run(fmt.Sprintf("producers=%dxGOMAXPROCS", producers), func(b *testing.B) {
			s, err := Open(b.TempDir()+"/bench.db", Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			payload := make([]byte, 512)
			var n atomic.Int64
			b.SetBytes(int64(len(payload)))
			b.SetParallelism(producers)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					i := n.Add(1)
					if _, err := s.Enqueue(ctx, TopicNote, fmt.Sprintf("inc-%d", i%100), payload, fmt.Sprintf("idem-%d", i)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

const (
	benchProducers = 64
	benchValueSize = 300
)

// runProducers spreads b.N calls of fn over benchProducers goroutines and reports msgs/s.
func runProducers(b *testing.B, fn func(i int64) error) {
	b.Helper()
	var n atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range benchProducers {
		wg.Go(func() {
			for {
				i := n.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := fn(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkEnqueueParallel64: 64 producers, ~300 B notes over 1,000 keys, one idempotency
// key each (the sidecar's webhook path). Compare with BenchmarkEnqueueBaselineUpdate.
func BenchmarkEnqueueParallel64(b *testing.B) {
	s, err := Open(b.TempDir()+"/bench.db", Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	payload := make([]byte, benchValueSize)
	b.SetBytes(benchValueSize)
	ctx := context.Background()
	c0 := s.Commits()
	runProducers(b, func(i int64) error {
		_, err := s.Enqueue(ctx, TopicNote, "inc-"+strconv.FormatInt(i%1000, 10), payload, "idem-"+strconv.FormatInt(i, 10))
		return err
	})
	b.ReportMetric(float64(b.N)/float64(max(s.Commits()-c0, 1)), "msgs/commit")
}

// BenchmarkEnqueueBaselineUpdate: the same 64 producers and value size, one bbolt
// db.Update per message on a plain file (BaselineUpdate).
func BenchmarkEnqueueBaselineUpdate(b *testing.B) {
	enq, closeFn, err := BaselineUpdate(b.TempDir() + "/baseline.db")
	if err != nil {
		b.Fatal(err)
	}
	defer closeFn()
	payload := make([]byte, benchValueSize)
	b.SetBytes(benchValueSize)
	runProducers(b, func(int64) error { return enq(payload) })
}

// preload enqueues n messages over keys keys (payload "<key>:<i>" padded to ~300 B, i
// ascending per key) with the writer's full batches, quickly.
func preload(tb testing.TB, s *Store, topic Topic, n, keys int) {
	tb.Helper()
	pad := strings.Repeat("x", benchValueSize-20)
	const chunk = 4096
	for base := 0; base < n; base += chunk {
		var rs []*writeReq
		for i := base; i < min(base+chunk, n); i++ {
			key := "inc-" + strconv.Itoa(i%keys)
			p := []byte(key + ":" + strconv.Itoa(i/keys) + ":" + pad)
			r := getReq()
			r.kind, r.topic, r.key, r.payLen = opEnqueue, topic, key, len(p)
			r.rec = appendMessage(r.rec[:0], &Message{Key: key, Payload: p, CreatedAt: s.opts.Now()})
			rs = append(rs, r)
		}
		if err := s.submitAll(rs); err != nil {
			tb.Fatal(err)
		}
		for _, r := range rs {
			if r.err != nil || !r.added {
				tb.Fatalf("preload: %v", r.err)
			}
			putReq(r)
		}
	}
}

// BenchmarkDrain delivers 100,000 messages over 1,000 keys to a no-op handler per
// iteration; it fails on any per-key order violation. Use -benchtime=Nx.
func BenchmarkDrain(b *testing.B) {
	const (
		msgs = 100_000
		keys = 1_000
	)
	s, err := Open(b.TempDir()+"/drain.db", Options{}) // default Concurrency (8)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var total time.Duration
	for range b.N {
		b.StopTimer()
		preload(b, s, TopicNote, msgs, keys)
		var (
			mu         sync.Mutex
			last       = map[string]int{}
			violations int
			delivered  atomic.Int64
		)
		ctx, cancel := context.WithCancel(context.Background())
		h := func(_ context.Context, m Message) error {
			p := string(m.Payload)
			i1 := strings.IndexByte(p, ':')
			i2 := i1 + 1 + strings.IndexByte(p[i1+1:], ':')
			n, _ := strconv.Atoi(p[i1+1 : i2])
			mu.Lock()
			if prev, ok := last[m.Key]; ok && n != prev+1 || !ok && n != 0 {
				violations++
			}
			last[m.Key] = n
			mu.Unlock()
			if delivered.Add(1) == msgs {
				go func() {
					for {
						if st, _ := s.Stats(); st.Pending[TopicNote] == 0 {
							cancel()
							return
						}
						time.Sleep(time.Millisecond)
					}
				}()
			}
			return nil
		}
		b.StartTimer()
		start := time.Now()
		_ = s.Deliver(ctx, TopicNote, h)
		total += time.Since(start)
		b.StopTimer()
		if violations > 0 {
			b.Fatalf("%d order violations", violations)
		}
		if delivered.Load() != msgs {
			b.Fatalf("delivered %d of %d", delivered.Load(), msgs)
		}
	}
	b.ReportMetric(float64(b.N*msgs)/total.Seconds(), "msgs/s")
	b.ReportMetric(0, "violations")
}

// BenchmarkNextMessage measures finding and reading the next message to deliver (index
// pick + head read + release, no commit) with a backlog of 1k and 100k messages: the cost
// must not grow with the backlog.
func BenchmarkNextMessage(b *testing.B) {
	for _, backlog := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("backlog=%d", backlog), func(b *testing.B) {
			s, err := Open(b.TempDir()+"/next.db", Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			preload(b, s, TopicNote, backlog, backlog/100)
			ti := s.topics[TopicNote]
			b.ResetTimer()
			for range b.N {
				s.mu.Lock()
				ks, _, _ := ti.next(s.opts.Now(), time.Now())
				s.mu.Unlock()
				if ks == nil {
					b.Fatal("nothing ready")
				}
				if _, err := s.loadHead(TopicNote, ks.key); err != nil {
					b.Fatal(err)
				}
				s.mu.Lock()
				ti.release(ks.key, time.Time{}, s.opts.Now(), 0)
				s.mu.Unlock()
			}
		})
	}
}

// BenchmarkOpen measures Open+Close with a backlog of 1k and 100k messages over 1k keys:
// Open walks the keys (and bbolt its pages to rebuild the freelist), never loads messages.
func BenchmarkOpen(b *testing.B) {
	for _, backlog := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("backlog=%d", backlog), func(b *testing.B) {
			path := b.TempDir() + "/open.db"
			s, err := Open(path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			preload(b, s, TopicNote, backlog, 1000)
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				s, err := Open(path, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if st, _ := s.Stats(); st.Pending[TopicNote] != backlog {
					b.Fatalf("pending %d", st.Pending[TopicNote])
				}
				b.StopTimer()
				_ = s.Close()
				b.StartTimer()
			}
		})
	}
}
