package outbox

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCrashKeepsAckedMessages runs producers in a child process, kills it (SIGKILL) while
// it is committing, and checks that every Enqueue that had returned is in the reopened file.
func TestCrashKeepsAckedMessages(t *testing.T) {
	if path := os.Getenv("OUTBOX_CRASH_CHILD"); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("SKIP-OK: -short: spawns a process")
	}
	path := dbPath(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsAckedMessages$", "-test.count=1")
	cmd.Env = append(os.Environ(), "OUTBOX_CRASH_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(5 * time.Second)
	for len(acked) < 500 && time.Now().Before(deadline) && sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked[p] = true
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if len(acked) == 0 {
		t.Fatal("child acknowledged nothing")
	}

	s := openT(t, path, Options{})
	have := map[string]bool{}
	for _, m := range pending(t, s, TopicNote) {
		have[string(m.Payload)] = true
	}
	for p := range acked {
		if !have[p] {
			t.Errorf("acknowledged message %q lost in the crash", p)
		}
		if seen, err := s.Seen(p); !seen || err != nil {
			t.Errorf("idempotency key %q lost: %v %v", p, seen, err)
		}
	}
	if st := stats(t, s); st.Pending[TopicNote] != len(have) {
		t.Errorf("Stats %+v vs %d pending", st, len(have))
	}
	t.Logf("%d acknowledged before the kill, %d in the file", len(acked), len(have))
}

func crashChild(path string) {
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	for g := range 8 {
		go func() {
			for i := 0; ; i++ {
				p := fmt.Sprintf("g%d-%d", g, i)
				if ok, err := s.Enqueue(context.Background(), TopicNote, fmt.Sprintf("inc-%d", g), []byte(p), p); err != nil || !ok {
					fmt.Fprintln(os.Stderr, "enqueue:", ok, err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "acked %s\n", p)
				mu.Unlock()
			}
		}()
	}
	select {} // until killed
}

// TestCrashDuringDelivery kills (SIGKILL) a child process while it delivers a backlog and
// commits acks, then checks: no message is lost, no message whose ack was committed comes
// back, what is left of each key is a suffix of its FIFO (order kept across the crash), and
// the file is consistent (counters, index) and delivers the rest in order.
func TestCrashDuringDelivery(t *testing.T) {
	if path := os.Getenv("OUTBOX_CRASH_DELIVER_CHILD"); path != "" {
		crashDeliverChild(path)
		return
	}
	if testing.Short() {
		t.Skip("SKIP-OK: -short: spawns a process")
	}
	const (
		keys   = 30
		perKey = 100
	)
	path := dbPath(t)
	s, err := Open(path, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	preload(t, s, TopicNote, keys*perKey, keys) // payload "inc-<k>:<i>:..."
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringDelivery$", "-test.count=1")
	cmd.Env = append(os.Environ(), "OUTBOX_CRASH_DELIVER_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	handled, committed := map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(10 * time.Second)
	for len(committed) < keys*perKey/3 && time.Now().Before(deadline) && sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "handled "); ok {
			handled[p] = true
		} else if p, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			committed[p] = true
		}
	}
	_ = cmd.Process.Kill()
	// Read what the child wrote before it died: a message it handled (and whose ack it
	// committed) after the loop above stopped reading is not lost.
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "handled "); ok {
			handled[p] = true
		} else if p, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			committed[p] = true
		}
	}
	_ = cmd.Wait()
	if len(committed) == 0 {
		t.Fatal("child committed nothing")
	}

	s = openT(t, path, Options{Concurrency: 8})
	left := pending(t, s, TopicNote)
	idx := func(p string) (string, int) {
		parts := strings.SplitN(p, ":", 3)
		var i int
		fmt.Sscanf(parts[1], "%d", &i)
		return parts[0], i
	}
	first := map[string]int{} // per key, index of its first pending message
	count := map[string]int{}
	inLeft := map[string]bool{}
	for _, m := range left {
		p := string(m.Payload)
		inLeft[p] = true
		k, i := idx(p)
		if committed[p] {
			t.Errorf("message %q came back although its ack was committed", p)
		}
		if _, ok := first[k]; !ok {
			first[k] = i
		}
		if i != first[k]+count[k] {
			t.Errorf("key %s: pending messages are not a suffix of its FIFO (got index %d after %d from %d)", k, i, count[k], first[k])
		}
		count[k]++
	}
	for k := range keys {
		key := fmt.Sprintf("inc-%d", k)
		if f, ok := first[key]; ok && f+count[key] != perKey {
			t.Errorf("key %s: pending %d..%d, want up to %d", key, f, f+count[key]-1, perKey-1)
		}
		for i := range perKey {
			if _, ok := first[key]; ok && i >= first[key] {
				break
			}
			// Before the pending suffix: must have been handled (delivered) by the child.
			p := fmt.Sprintf("%s:%d:", key, i)
			found := false
			for h := range handled {
				if strings.HasPrefix(h, p) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("message %s%d is neither pending nor delivered: lost", p, i)
			}
		}
	}
	st := stats(t, s)
	if st.Pending[TopicNote] != len(left) || st.Keys[TopicNote] != len(first) {
		t.Errorf("Stats %+v vs %d pending over %d keys", st, len(left), len(first))
	}
	t.Logf("killed after %d handled / %d committed acks; %d left over %d keys", len(handled), len(committed), len(left), len(first))

	// The rest is delivered in order.
	var (
		mu  sync.Mutex
		got = map[string][]int{}
	)
	deliverBg(t, s, TopicNote, func(_ context.Context, m Message) error {
		k, i := idx(string(m.Payload))
		mu.Lock()
		got[k] = append(got[k], i)
		mu.Unlock()
		return nil
	})
	waitFor(t, "rest delivered", func() bool { return stats(t, s).Pending[TopicNote] == 0 })
	mu.Lock()
	defer mu.Unlock()
	for k, is := range got {
		for j, i := range is {
			if i != first[k]+j {
				t.Fatalf("key %s after restart delivered %v", k, is)
			}
		}
	}
}

func crashDeliverChild(path string) {
	s, err := Open(path, Options{Concurrency: 8})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	s.afterAck = func(m Message) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, "committed %s\n", m.Payload)
		mu.Unlock()
	}
	_ = s.Deliver(context.Background(), TopicNote, func(_ context.Context, m Message) error {
		mu.Lock()
		fmt.Fprintf(os.Stdout, "handled %s\n", m.Payload)
		mu.Unlock()
		time.Sleep(100 * time.Microsecond)
		return nil
	})
	select {} // until killed
}
