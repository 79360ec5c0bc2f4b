package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

func TestOutboxCompact(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, src, 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "data", "sidecar.db")
	open := func() *outbox.Store {
		s, err := outbox.Open(db, outbox.Options{Logger: slog.New(slog.DiscardHandler), RetryInitial: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// A drained backlog leaves the file large; one note stays pending.
	s := open()
	ctx, cancel := context.WithCancel(context.Background())
	payload := []byte(strings.Repeat("n", 2048))
	for i := range 3000 {
		if _, err := s.Enqueue(ctx, outbox.TopicNote, "INC-"+string(rune('a'+i%20)), payload); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		done <- s.Deliver(ctx, outbox.TopicNote, func(context.Context, outbox.Message) error { return nil })
	}()
	for deadline := time.Now().Add(30 * time.Second); ; {
		st, _ := s.Stats()
		if st.Pending[outbox.TopicNote] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backlog not drained after 30s: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Deliver did not return within 10s of its context's cancellation")
	}
	if _, err := s.Enqueue(context.Background(), outbox.TopicNote, "INC-keep", []byte("kept"), "key-1"); err != nil {
		t.Fatal(err)
	}

	// While the store is open (a running sidecar), compact refuses and changes nothing.
	var out, errb strings.Builder
	if code := run([]string{"outbox", "compact", "--config", cfg}, nil, &out, &errb); code != exitFailure || !strings.Contains(errb.String(), "locked") {
		t.Fatalf("compact of an open store: exit %d, %q", code, errb.String())
	}
	if matches, _ := filepath.Glob(db + ".*compact*"); len(matches) != 0 {
		t.Fatalf("a refused compact left files: %v", matches)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	before := fileSize(db)
	out.Reset()
	errb.Reset()
	if code := run([]string{"outbox", "compact", "--config", cfg}, nil, &out, &errb); code != exitOK {
		t.Fatalf("compact: exit %d, %s", code, errb.String())
	}
	if after := fileSize(db); after <= 0 || after >= before/2 {
		t.Fatalf("file %d → %d bytes: not compacted", before, after)
	}
	if !strings.Contains(out.String(), "the original is kept as") {
		t.Fatalf("output %q", out.String())
	}
	s = open()
	defer s.Close()
	st, err := s.Stats()
	if err != nil || st.Pending[outbox.TopicNote] != 1 {
		t.Fatalf("after compaction: %+v %v", st, err)
	}
	if seen, _ := s.Seen("key-1"); !seen {
		t.Fatal("idempotency key lost by compaction")
	}

	// The original is kept, named in the output, and is still a sound store with the same
	// messages: the operator's way back.
	backups, _ := filepath.Glob(db + ".before-compact-*")
	if len(backups) != 1 || !strings.Contains(out.String(), backups[0]) {
		t.Fatalf("backups %v, output %q: want the one backup the output names", backups, out.String())
	}
	b, err := outbox.Open(backups[0], outbox.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("the backup does not open as a store: %v", err)
	}
	defer b.Close()
	kept, err := s.Pending(outbox.TopicNote, 10)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := b.Pending(outbox.TopicNote, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(orig) != 1 || len(kept) != 1 || orig[0].Key != kept[0].Key || string(orig[0].Payload) != string(kept[0].Payload) || string(orig[0].Payload) != "kept" {
		t.Fatalf("backup holds %+v, compacted file %+v: want the same one message", orig, kept)
	}
	if seen, _ := b.Seen("key-1"); !seen {
		t.Fatal("the backup lost the idempotency key")
	}

	if code := run([]string{"outbox", "shrink"}, nil, &out, &errb); code != exitProblems {
		t.Fatalf("unknown outbox command: exit %d", code)
	}
}
