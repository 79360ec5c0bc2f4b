package outbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

func payloads(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Payload))
	}
	return out
}

func TestEnqueueLatestReplacesPending(t *testing.T) {
	path := dbPath(t)
	s := openT(t, path, Options{})
	ctx := context.Background()
	enqueue(t, s, TopicLink, "other", "o1")
	for i, want := range []bool{false, true, true} {
		replaced, err := s.EnqueueLatest(ctx, TopicLink, "inc", []byte(fmt.Sprintf("v%d", i+1)))
		if err != nil || replaced != want {
			t.Fatalf("EnqueueLatest #%d = %v, %v; want %v", i+1, replaced, err, want)
		}
	}
	if got := payloads(pending(t, s, TopicLink)); fmt.Sprint(got) != "[o1 v3]" {
		t.Fatalf("pending = %v", got)
	}
	st := stats(t, s)
	if st.Pending[TopicLink] != 2 || st.PendingBytes != 4 || st.Keys[TopicLink] != 2 {
		t.Fatalf("Stats = %+v", st)
	}
	// Notes are never coalesced: Enqueue keeps everything.
	enqueue(t, s, TopicNote, "inc", "n1")
	enqueue(t, s, TopicNote, "inc", "n2")
	if n := len(pending(t, s, TopicNote)); n != 2 {
		t.Fatalf("notes pending = %d", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, path, Options{})
	if st2 := stats(t, s); st2.Pending[TopicLink] != 2 || st2.Keys[TopicLink] != 2 || st2.PendingBytes != 8 {
		t.Fatalf("after reopen Stats = %+v", st2)
	}
	var r recorder
	deliverBg(t, s, TopicLink, r.handle)
	waitFor(t, "links delivered", func() bool { return r.count() == 2 })
	if got := r.keys["inc"]; fmt.Sprint(got) != "[v3]" {
		t.Fatalf("delivered for inc: %v", got)
	}
}

func TestEnqueueLatestQueuesBehindInFlight(t *testing.T) {
	s := openT(t, dbPath(t), Options{})
	ctx := context.Background()
	if _, err := s.EnqueueLatest(ctx, TopicLink, "inc", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var got []string
	deliverBg(t, s, TopicLink, func(ctx context.Context, m Message) error {
		if string(m.Payload) == "v1" {
			close(started)
			select {
			case <-release:
			case <-ctx.Done(): // the test failed before releasing v1
				return ctx.Err()
			}
		}
		mu.Lock()
		got = append(got, string(m.Payload))
		mu.Unlock()
		return nil
	})
	recv(t, started, "v1 in flight")
	for _, v := range []string{"v2", "v3"} {
		if _, err := s.EnqueueLatest(ctx, TopicLink, "inc", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	// v1 is in flight and kept; v2 was replaced by v3.
	if p := payloads(pending(t, s, TopicLink)); fmt.Sprint(p) != "[v1 v3]" {
		t.Fatalf("pending while v1 in flight = %v", p)
	}
	close(release)
	waitFor(t, "drained", func() bool { return stats(t, s).Pending[TopicLink] == 0 })
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != "[v1 v3]" {
		t.Fatalf("delivered %v, want [v1 v3]", got)
	}
}

// TestBreakerProbesOneAtATime: 50 keys queued, the destination down for a while: the
// handler must see about one call per probe, not one per key and attempt; after recovery,
// full concurrency.
func TestBreakerProbesOneAtATime(t *testing.T) {
	const (
		keys        = 50
		concurrency = 8
		outage      = 400 * time.Millisecond
	)
	s := openT(t, dbPath(t), Options{Concurrency: concurrency, RetryInitial: 20 * time.Millisecond, RetryMax: 80 * time.Millisecond})
	for k := range keys {
		enqueue(t, s, TopicNote, fmt.Sprintf("inc-%02d", k), "a")
		enqueue(t, s, TopicNote, fmt.Sprintf("inc-%02d", k), "b")
	}
	var (
		down         atomic.Bool
		calls, ok    atomic.Int32
		cur, maxConc atomic.Int32
	)
	down.Store(true)
	deliverBg(t, s, TopicNote, func(_ context.Context, m Message) error {
		calls.Add(1)
		if down.Load() {
			return delivery.Transient(errors.New("503 CAD down"))
		}
		n := cur.Add(1)
		defer cur.Add(-1)
		for {
			old := maxConc.Load()
			if n <= old || maxConc.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(3 * time.Millisecond)
		ok.Add(1)
		return nil
	})
	time.Sleep(outage / 2)
	if st := stats(t, s); st.Backoff[TopicNote].IsZero() {
		t.Errorf("breaker not reported open during the outage: %+v", st.Backoff)
	}
	time.Sleep(outage / 2)
	during := calls.Load()
	down.Store(false)
	waitFor(t, "all delivered", func() bool { return ok.Load() == 2*keys })
	t.Logf("handler calls during a %v outage: %d (50 keys; without a breaker ≈ 50 × attempts)", outage, during)
	// Concurrency handed out before the first failure came back + about one probe per
	// backoff period (20..80ms, jittered).
	if int64(during) > concurrency+outage.Milliseconds()/10+2 {
		t.Errorf("%d handler calls during the outage: not one probe at a time", during)
	}
	if m := maxConc.Load(); m != concurrency {
		t.Errorf("max concurrency after recovery = %d, want %d", m, concurrency)
	}
	waitFor(t, "breaker closed", func() bool { return stats(t, s).Backoff[TopicNote].IsZero() })
}

func TestBreakerIgnoresOnePoisonTransientMessage(t *testing.T) {
	s := openT(t, dbPath(t), Options{Concurrency: 4, RetryInitial: 10 * time.Millisecond, RetryMax: 40 * time.Millisecond})
	enqueue(t, s, TopicNote, "poison", "p")
	for k := range 20 {
		enqueue(t, s, TopicNote, fmt.Sprintf("inc-%02d", k), "x")
		enqueue(t, s, TopicNote, fmt.Sprintf("inc-%02d", k), "y")
	}
	var good atomic.Int32
	deliverBg(t, s, TopicNote, func(_ context.Context, m Message) error {
		if m.Key == "poison" {
			return errors.New("timeout")
		}
		time.Sleep(time.Millisecond)
		good.Add(1)
		return nil
	})
	waitFor(t, "all good messages delivered", func() bool { return good.Load() == 40 })
}

func TestSweepExpiresBehindStuckKey(t *testing.T) {
	clk := newClock()
	s := openT(t, dbPath(t), Options{MaxAge: time.Hour, Now: clk.Now})
	enqueue(t, s, TopicNote, "a", "a1")
	enqueue(t, s, TopicNote, "a", "a2")
	enqueue(t, s, TopicNote, "a", "a3")
	clk.Add(30 * time.Minute)
	enqueue(t, s, TopicNote, "b", "b1")
	started, release := make(chan struct{}), make(chan struct{})
	var r recorder
	deliverBg(t, s, TopicNote, func(ctx context.Context, m Message) error {
		if string(m.Payload) == "a1" {
			close(started)
			select {
			case <-release: // stuck key
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return r.handle(ctx, m)
	})
	recv(t, started, "a1 in flight")
	waitFor(t, "b1 delivered", func() bool { return r.count() == 1 })
	clk.Add(45 * time.Minute) // a*: 75m old; none of b left
	n, err := s.sweepExpired()
	if err != nil || n != 2 {
		t.Fatalf("sweep = %d, %v; want 2 (a1 is in flight)", n, err)
	}
	dl := deadLetters(t, s, TopicNote)
	if len(dl) != 2 || string(dl[0].Payload) != "a2" || string(dl[1].Payload) != "a3" ||
		dl[0].Reason != "expired after 1h15m0s: no error recorded" || dl[0].DeadAt.IsZero() {
		t.Fatalf("dead letters = %+v", dl)
	}
	if c, err := s.DeadLetterCount(TopicNote); c != 2 || err != nil {
		t.Fatalf("DeadLetterCount = %d, %v", c, err)
	}
	enqueue(t, s, TopicNote, "a", "a4") // appended behind a1 (the chain's new tail)
	close(release)
	waitFor(t, "a1, a4 delivered", func() bool { st := stats(t, s); return st.Pending[TopicNote] == 0 && st.Keys[TopicNote] == 0 })
	r.mu.Lock()
	if got := fmt.Sprint(r.keys["a"]); got != "[a1 a4]" {
		t.Errorf("key a delivered %s, want [a1 a4]", got)
	}
	r.mu.Unlock()
	if n, _ := s.sweepExpired(); n != 0 {
		t.Fatalf("second sweep moved %d", n)
	}
	if st := stats(t, s); st.Keys[TopicNote] != 0 || st.PendingBytes != 0 || st.Dead[TopicNote] != 2 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestCompact(t *testing.T) {
	dir := t.TempDir()
	src, dst := dir+"/src.db", dir+"/dst.db"
	s, err := Open(src, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 2000)
	preload(t, s, TopicNote, 3000, 30)
	enqueue(t, s, TopicLink, "keep", big, "idem-keep")
	if err := s.PutLink(Link{IncidentID: "inc-1", CallID: "call-1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("cursor", "rest", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := Compact(src, dst); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("Compact of an open file = %v, want a lock error", err)
	}
	var delivered atomic.Int32
	stop := deliverBg(t, s, TopicNote, func(context.Context, Message) error { delivered.Add(1); return nil })
	waitFor(t, "backlog drained", func() bool { return stats(t, s).Pending[TopicNote] == 0 })
	stop()
	enqueue(t, s, TopicNote, "inc-x", "left")
	want := stats(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := Compact(src, dst); err != nil {
		t.Fatal(err)
	}
	if err := Compact(src, dst); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("Compact onto an existing dst = %v", err)
	}
	si, _ := os.Stat(src)
	di, _ := os.Stat(dst)
	t.Logf("src %d bytes, dst %d bytes", si.Size(), di.Size())
	if di.Size() >= si.Size() {
		t.Errorf("dst (%d) not smaller than src (%d)", di.Size(), si.Size())
	}
	c := openT(t, dst, Options{})
	if got := stats(t, c); !reflect.DeepEqual(got, want) {
		t.Fatalf("compacted Stats = %+v, want %+v", got, want)
	}
	if p := payloads(pending(t, c, TopicNote)); fmt.Sprint(p) != "[left]" {
		t.Fatalf("compacted notes = %v", p)
	}
	if ms := pending(t, c, TopicLink); len(ms) != 1 || string(ms[0].Payload) != big {
		t.Fatalf("compacted links = %d", len(ms))
	}
	if l, ok, _ := c.GetLink("inc-1"); !ok || l.CallID != "call-1" {
		t.Fatal("link lost")
	}
	if v, ok, _ := c.Get("cursor", "rest"); !ok || v != "c1" {
		t.Fatal("kv lost")
	}
	if seen, _ := c.Seen("idem-keep"); !seen {
		t.Fatal("idempotency key lost")
	}
	// New messages get fresh seqs (bucket sequences were copied).
	enqueue(t, c, TopicNote, "inc-x", "after")
	if ms := pending(t, c, TopicNote); len(ms) != 2 || ms[1].Seq <= ms[0].Seq {
		t.Fatalf("pending after compaction = %+v", ms)
	}
}

// TestMigrateFromFormat1 builds a format 1 file by hand (queue and dead only) and opens it.
func TestMigrateFromFormat1(t *testing.T) {
	path := dbPath(t)
	if err := os.MkdirAll(path[:strings.LastIndex(path, "/")], 0o750); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Minute)
	err = db.Update(func(tx *bolt.Tx) error {
		sys, _ := tx.CreateBucket(bktSys)
		_ = sys.Put(sysFormat, []byte("1"))
		q, _ := tx.CreateBucket(queueBucket(TopicNote))
		dead, _ := tx.CreateBucket(deadBucket(TopicNote))
		for i, kp := range [][2]string{{"a", "a1"}, {"b", "b1"}, {"a", "a2"}, {"c", "c1"}, {"a", "a3"}} {
			seq, _ := q.NextSequence()
			if i == 3 {
				seq, _ = q.NextSequence() // a gap, as after an ack
			}
			if err := q.Put(u64key(seq), encodeMessage(&Message{Key: kp[0], Payload: []byte(kp[1]), CreatedAt: at})); err != nil {
				return err
			}
		}
		return dead.Put(u64key(2), encodeDead(&DeadLetter{Message: Message{Key: "d", Payload: []byte("dd"), CreatedAt: at}, Reason: "400", DeadAt: at}))
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	s := openT(t, path, Options{})
	st := stats(t, s)
	if st.Pending[TopicNote] != 5 || st.Dead[TopicNote] != 1 || st.PendingBytes != 10 || st.Keys[TopicNote] != 3 {
		t.Fatalf("after migration Stats = %+v", st)
	}
	var r recorder
	deliverBg(t, s, TopicNote, r.handle)
	waitFor(t, "all delivered", func() bool { return r.count() == 5 })
	if got := fmt.Sprint(r.keys["a"]); got != "[a1 a2 a3]" {
		t.Fatalf("key a delivered %v", got)
	}
	_ = s.view(func(tx *bolt.Tx) error {
		if v := string(tx.Bucket(bktSys).Get(sysFormat)); v != formatVersion {
			t.Errorf("format after migration = %q", v)
		}
		return nil
	})
}

func TestUnknownFormatRefused(t *testing.T) {
	path := dbPath(t)
	s := openT(t, path, Options{})
	if err := s.update(func(tx *bolt.Tx) error { return tx.Bucket(bktSys).Put(sysFormat, []byte("9")) }); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), `unsupported file format "9"`) {
		t.Fatalf("Open of format 9 = %v", err)
	}
}

// TestReopenRestoresIndexFromKeys: a backlog over many keys survives a reopen with the
// same counts, the index holds one entry per key, and per-key FIFO holds.
func TestReopenRestoresIndexFromKeys(t *testing.T) {
	path := dbPath(t)
	s, err := Open(path, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	preload(t, s, TopicNote, 5000, 50)
	before := stats(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, path, Options{Concurrency: 16})
	after := stats(t, s)
	if !reflect.DeepEqual(before, after) || after.Keys[TopicNote] != 50 || after.Pending[TopicNote] != 5000 {
		t.Fatalf("Stats before %+v, after reopen %+v", before, after)
	}
	// Appends after the reopen find each key's tail on disk: they go after the backlog.
	for k := range 50 {
		key := fmt.Sprintf("inc-%d", k)
		enqueue(t, s, TopicNote, key, key+":100:x")
	}
	var (
		mu   sync.Mutex
		last = map[string]int{}
		bad  atomic.Int32
		n    atomic.Int32
	)
	deliverBg(t, s, TopicNote, func(_ context.Context, m Message) error {
		var i int
		fmt.Sscanf(strings.SplitN(string(m.Payload), ":", 3)[1], "%d", &i)
		mu.Lock()
		if prev, ok := last[m.Key]; (ok && i != prev+1) || (!ok && i != 0) {
			bad.Add(1)
		}
		last[m.Key] = i
		mu.Unlock()
		n.Add(1)
		return nil
	})
	// Keys leave the index when their last ack is committed and their handler released.
	waitFor(t, "drained", func() bool { st := stats(t, s); return st.Pending[TopicNote] == 0 && st.Keys[TopicNote] == 0 })
	if bad.Load() != 0 || n.Load() != 5050 {
		t.Fatalf("%d order violations, %d delivered", bad.Load(), n.Load())
	}
	if st := stats(t, s); st.Keys[TopicNote] != 0 || st.PendingBytes != 0 {
		t.Fatalf("Stats after drain = %+v", st)
	}
}

func TestBaselineUpdate(t *testing.T) {
	enq, closeFn, err := BaselineUpdate(t.TempDir() + "/b.db")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := enq([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := closeFn(); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateFromFormat2: testdata/format2.db was written by the format 2 code (dedup_time
// index; DedupRetention 1h; fixed clock: keys old-1 and old-2 recorded at 2026-01-01
// 00:00Z, new-1 and new-2 at 00:50Z; notes a1, a2 (inc-a) and b1 (inc-b), link l1). It
// opens as format 3 without the index, keeps its messages and idempotency keys (across a
// reopen), and pruning forgets exactly the expired keys.
func TestMigrateFromFormat2(t *testing.T) {
	src, err := os.ReadFile("testdata/format2.db")
	if err != nil {
		t.Fatal(err)
	}
	path := dbPath(t)
	if err := os.MkdirAll(path[:strings.LastIndex(path, "/")], 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 1, 10, 0, 0, time.UTC) // old-* 70m old, new-* 20m
	opts := Options{DedupRetention: time.Hour, Now: func() time.Time { return now }}
	s := openT(t, path, opts)
	st := stats(t, s)
	if st.Pending[TopicNote] != 3 || st.Pending[TopicLink] != 1 || st.Keys[TopicNote] != 2 || st.PendingBytes != 8 {
		t.Fatalf("after migration Stats = %+v", st)
	}
	_ = s.view(func(tx *bolt.Tx) error {
		if v := string(tx.Bucket(bktSys).Get(sysFormat)); v != formatVersion {
			t.Errorf("format after migration = %q", v)
		}
		if tx.Bucket(bktDedupTimeV2) != nil {
			t.Error("dedup_time still present after migration")
		}
		return nil
	})
	_ = s.Close()
	s = openT(t, path, opts) // reopen as format 3
	for k, want := range map[string]bool{"old-1": false, "old-2": false, "new-1": true, "new-2": true} {
		if seen, err := s.Seen(k); err != nil || seen != want {
			t.Fatalf("Seen(%s) = %v, %v; want %v", k, seen, err, want)
		}
	}
	if ok, err := s.Enqueue(context.Background(), TopicNote, "inc-b", []byte("dup"), "new-2"); ok || err != nil {
		t.Fatalf("Enqueue with new-2 = %v, %v; want a duplicate", ok, err)
	}
	// The pruner runs at Open: it forgets old-1 and old-2 (and only them).
	if _, err := s.prune(); err != nil {
		t.Fatal(err)
	}
	_ = s.view(func(tx *bolt.Tx) error {
		d := tx.Bucket(bktDedup)
		if d.Get([]byte("old-1")) != nil || d.Get([]byte("old-2")) != nil || d.Get([]byte("new-1")) == nil || d.Get([]byte("new-2")) == nil {
			t.Errorf("after prune dedup holds %d keys", d.Stats().KeyN)
		}
		return nil
	})
	var r recorder
	deliverBg(t, s, TopicNote, r.handle)
	waitFor(t, "all delivered", func() bool { return r.count() == 3 })
	if got := fmt.Sprint(r.keys["inc-a"]); got != "[a1 a2]" {
		t.Fatalf("inc-a delivered %v", got)
	}
}

// TestPruneChunks: pruning walks the dedup bucket in bounded chunks (pruneScan entries
// read, pruneChunk deleted per transaction) and removes exactly the expired keys, however
// they are interleaved with live ones.
func TestPruneChunks(t *testing.T) {
	clk := newClock()
	s := openT(t, dbPath(t), Options{DedupRetention: time.Hour, Now: clk.Now})
	const n = 2*pruneChunk + 123
	at := uint64(clk.Now().UnixNano())
	fresh := uint64(clk.Now().Add(90 * time.Minute).UnixNano())
	if err := s.update(func(tx *bolt.Tx) error {
		d := tx.Bucket(bktDedup)
		for i := range n {
			ts := at
			if i%3 == 0 {
				ts = fresh
			}
			if err := d.Put(fmt.Appendf(nil, "k-%06d", i), u64key(ts)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Hour) // the at keys are 2h old, the fresh ones 30m
	removed, err := s.prune()
	if want := n - (n+2)/3; err != nil || removed != want {
		t.Fatalf("prune = %d, %v; want %d", removed, err, want)
	}
	_ = s.view(func(tx *bolt.Tx) error {
		if got := tx.Bucket(bktDedup).Stats().KeyN; got != (n+2)/3 {
			t.Errorf("%d keys left, want %d", got, (n+2)/3)
		}
		return nil
	})
	if seen, _ := s.Seen("k-000003"); !seen {
		t.Fatal("fresh key pruned")
	}
}
