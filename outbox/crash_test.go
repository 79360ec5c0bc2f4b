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
		t.Skip("spawns a process")
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
