package outbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hashPut is the state write a caller keeps with an item (as the sidecar keeps a hash).
func hashPut(key, v string) []StatePut { return []StatePut{{Bucket: "hash", Key: key, Value: v}} }

func getState(t *testing.T, s *Store, bucket, key string) (string, bool) {
	t.Helper()
	v, ok, err := s.Get(bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	return v, ok
}

func keyedPayloads(t *testing.T, s *Store, topic Topic) []string {
	t.Helper()
	var out []string
	for _, m := range pending(t, s, topic) {
		out = append(out, m.Key+"="+string(m.Payload))
	}
	return out
}

func TestEnqueueLatestBatch(t *testing.T) {
	cases := []struct {
		name         string
		before       [][2]string // EnqueueLatest before the batch: key, payload
		items        [][2]string
		wantPending  []string
		wantReplaced []bool
	}{
		{name: "new keys in order",
			items:        [][2]string{{"A", "a1"}, {"B", "b1"}},
			wantPending:  []string{"A=a1", "B=b1"},
			wantReplaced: []bool{false, false}},
		{name: "latest wins inside the batch",
			items:        [][2]string{{"A", "a1"}, {"B", "b1"}, {"A", "a2"}},
			wantPending:  []string{"B=b1", "A=a2"},
			wantReplaced: []bool{false, false, true}},
		{name: "latest wins against queued messages",
			before:       [][2]string{{"A", "a0"}, {"C", "c0"}},
			items:        [][2]string{{"A", "a1"}, {"B", "b1"}},
			wantPending:  []string{"C=c0", "A=a1", "B=b1"},
			wantReplaced: []bool{true, false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openT(t, dbPath(t), Options{})
			ctx := context.Background()
			for _, b := range tc.before {
				if _, err := s.EnqueueLatest(ctx, TopicLink, b[0], []byte(b[1])); err != nil {
					t.Fatal(err)
				}
			}
			var items []Item
			for _, it := range tc.items {
				items = append(items, Item{Key: it[0], Payload: []byte(it[1]), State: hashPut(it[0], "h-"+it[1])})
			}
			rep, err := s.EnqueueLatestBatch(ctx, TopicLink, items, []StatePut{{Bucket: "cursor", Key: "cad", Value: "42"}})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(rep) != fmt.Sprint(tc.wantReplaced) {
				t.Errorf("replaced %v, want %v", rep, tc.wantReplaced)
			}
			if got := keyedPayloads(t, s, TopicLink); fmt.Sprint(got) != fmt.Sprint(tc.wantPending) {
				t.Errorf("pending %v, want %v", got, tc.wantPending)
			}
			last := map[string]string{}
			for _, it := range tc.items {
				last[it[0]] = it[1]
			}
			for k, p := range last {
				if v, _ := getState(t, s, "hash", k); v != "h-"+p {
					t.Errorf("hash of %s = %q, want %q (the latest item's)", k, v, "h-"+p)
				}
			}
			if v, _ := getState(t, s, "cursor", "cad"); v != "42" {
				t.Errorf("cursor %q, want 42", v)
			}
			if st := stats(t, s); st.Pending[TopicLink] != len(tc.wantPending) {
				t.Errorf("Stats pending %d, want %d", st.Pending[TopicLink], len(tc.wantPending))
			}
			checkFile(t, s, true)

			// Delivered afterwards in order, and the index agrees.
			r := &recorder{}
			stop := deliverBg(t, s, TopicLink, r.handle)
			waitFor(t, "the batch delivered", func() bool { return r.count() == len(tc.wantPending) })
			stop()
			checkFile(t, s, true)
		})
	}
}

// TestEnqueueLatestBatchKeepsInflightHead: a message of the key with a handler stays, the
// batch's item is delivered after it (as for EnqueueLatest).
func TestEnqueueLatestBatchKeepsInflightHead(t *testing.T) {
	s := openT(t, dbPath(t), Options{})
	ctx := context.Background()
	if _, err := s.EnqueueLatest(ctx, TopicLink, "A", []byte("a0")); err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var got []string
	var n atomic.Int32
	stop := deliverBg(t, s, TopicLink, func(_ context.Context, m Message) error {
		if n.Add(1) == 1 {
			close(entered)
			<-release
		}
		got = append(got, string(m.Payload))
		return nil
	})
	defer stop()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("a0 not handed to the handler within 10s")
	}
	rep, err := s.EnqueueLatestBatch(ctx, TopicLink, []Item{{Key: "A", Payload: []byte("a1")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep[0] {
		t.Error("the in-flight a0 reported replaced")
	}
	close(release)
	waitFor(t, "a0 and a1 delivered", func() bool { return n.Load() == 2 })
	stop()
	if fmt.Sprint(got) != "[a0 a1]" {
		t.Errorf("delivered %v, want [a0 a1]", got)
	}
}

// TestEnqueueLatestBatchAllOrNothing: a chunk whose transaction fails leaves nothing of it
// (items, their state, the final state); the chunks before it stay whole.
func TestEnqueueLatestBatchAllOrNothing(t *testing.T) {
	for _, failAt := range []int{1, 2, 3} { // the write transaction that fails (1-based)
		t.Run(fmt.Sprintf("transaction %d fails", failAt), func(t *testing.T) {
			s := openT(t, dbPath(t), Options{Logger: testLogger(t)})
			var writes atomic.Int32
			boom := errors.New("injected write failure")
			fail := func() error {
				if int(writes.Add(1)) == failAt {
					return boom
				}
				return nil
			}
			s.failWrite.Store(&fail)
			n := 2*BatchChunkItems + 10 // three chunks
			items := make([]Item, n)
			for i := range items {
				k := fmt.Sprintf("INC-%d", i)
				items[i] = Item{Key: k, Payload: []byte("p" + k), State: hashPut(k, "h"+k)}
			}
			rep, err := s.EnqueueLatestBatch(context.Background(), TopicLink, items, []StatePut{{Bucket: "cursor", Key: "cad", Value: "end"}})
			if !errors.Is(err, boom) {
				t.Fatalf("err %v, want the injected failure", err)
			}
			s.failWrite.Store(nil)
			committed := (failAt - 1) * BatchChunkItems
			if len(rep) != committed {
				t.Errorf("%d items reported committed, want %d", len(rep), committed)
			}
			if got := len(pending(t, s, TopicLink)); got != committed {
				t.Errorf("%d items in the file, want %d", got, committed)
			}
			for i, it := range items {
				_, ok := getState(t, s, "hash", it.Key)
				if ok != (i < committed) {
					t.Fatalf("item %d: hash stored %v, want %v", i, ok, i < committed)
				}
			}
			if _, ok := getState(t, s, "cursor", "cad"); ok {
				t.Error("the final state was stored although a chunk failed")
			}
			checkFile(t, s, true)
		})
	}
}

func TestEnqueueLatestBatchFull(t *testing.T) {
	s := openT(t, dbPath(t), Options{MaxBytes: 100})
	ctx := context.Background()
	enqueue(t, s, TopicNote, "N", strings.Repeat("x", 100))
	_, err := s.EnqueueLatestBatch(ctx, TopicLink, []Item{{Key: "A", Payload: []byte("a"), State: hashPut("A", "h")}},
		[]StatePut{{Bucket: "cursor", Key: "cad", Value: "1"}})
	if !errors.Is(err, ErrFull) {
		t.Fatalf("err %v, want ErrFull", err)
	}
	if len(pending(t, s, TopicLink)) != 0 {
		t.Error("an item was stored past the budget")
	}
	for _, k := range [][2]string{{"hash", "A"}, {"cursor", "cad"}} {
		if _, ok := getState(t, s, k[0], k[1]); ok {
			t.Errorf("%s/%s stored with a refused chunk", k[0], k[1])
		}
	}
	// State alone (no item) is not budgeted: a cursor can always move.
	if _, err := s.EnqueueLatestBatch(ctx, TopicLink, nil, []StatePut{{Bucket: "cursor", Key: "cad", Value: "2"}, {Bucket: "cursor", Key: "kind", Delete: true}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := getState(t, s, "cursor", "cad"); v != "2" {
		t.Errorf("cursor %q, want 2", v)
	}
}

func TestEnqueueLatestBatchRefusesBadInput(t *testing.T) {
	s := openT(t, dbPath(t), Options{})
	ctx := context.Background()
	for name, c := range map[string]struct {
		items []Item
		final []StatePut
	}{
		"empty key":          {items: []Item{{Key: "A"}, {Key: ""}}},
		"empty state key":    {items: []Item{{Key: "A", State: []StatePut{{Bucket: "hash"}}}}},
		"empty final bucket": {final: []StatePut{{Key: "cad", Value: "1"}}},
	} {
		if _, err := s.EnqueueLatestBatch(ctx, TopicLink, c.items, c.final); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if len(pending(t, s, TopicLink)) != 0 {
		t.Error("a refused batch stored something")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.EnqueueLatestBatch(cctx, TopicLink, []Item{{Key: "A"}}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
}

// TestCrashDuringBatch kills (SIGKILL) a child that commits batches of several chunks, each
// item with its hash and each batch with a final cursor (its number), and checks the file:
// every batch acknowledged is whole; the cursor never covers an item that is missing; no
// item is without its hash nor a hash without its item; the index is consistent.
func TestCrashDuringBatch(t *testing.T) {
	if path := os.Getenv("OUTBOX_CRASH_BATCH_CHILD"); path != "" {
		crashBatchChild(path)
		return
	}
	if testing.Short() {
		t.Skip("SKIP-OK: -short: spawns a process")
	}
	path := dbPath(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringBatch$", "-test.count=1")
	cmd.Env = append(os.Environ(), "OUTBOX_CRASH_BATCH_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := -1
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(10 * time.Second)
	for acked < 3 && time.Now().Before(deadline) && sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked, _ = strconv.Atoi(p)
		}
	}
	// Killed at a random point of a later batch (between or inside its chunks): what the
	// file must hold does not depend on where.
	time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if acked < 0 {
		t.Fatal("child acknowledged no batch")
	}

	s := openT(t, path, Options{})
	have := map[string]bool{}
	for _, m := range pending(t, s, TopicLink) {
		have[m.Key] = true
		if _, ok := getState(t, s, "hash", m.Key); !ok {
			t.Errorf("item %s in the file without its hash", m.Key)
		}
	}
	cur := -1
	if v, ok := getState(t, s, "cursor", "cad"); ok {
		cur, _ = strconv.Atoi(v)
	}
	if cur < acked {
		t.Errorf("cursor %d, but batch %d was acknowledged", cur, acked)
	}
	for b := 0; b <= max(cur, acked); b++ {
		for i := range crashBatchItems {
			k := fmt.Sprintf("b%d-%d", b, i)
			if !have[k] {
				t.Fatalf("item %s missing, though the cursor is %d and batch %d acknowledged", k, cur, acked)
			}
		}
	}
	checkFile(t, s, true)
	t.Logf("batch %d acknowledged before the kill, cursor %d, %d items in the file", acked, cur, len(have))
}

const crashBatchItems = 2*BatchChunkItems + 500

func crashBatchChild(path string) {
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for b := 0; ; b++ {
		items := make([]Item, crashBatchItems)
		for i := range items {
			k := fmt.Sprintf("b%d-%d", b, i)
			items[i] = Item{Key: k, Payload: []byte(strings.Repeat("x", 200)), State: hashPut(k, "h")}
		}
		if _, err := s.EnqueueLatestBatch(context.Background(), TopicLink, items, []StatePut{{Bucket: "cursor", Key: "cad", Value: strconv.Itoa(b)}}); err != nil {
			fmt.Fprintln(os.Stderr, "batch:", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stdout, "acked %d\n", b)
	}
}
