package outbox_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

func Example() {
	dir, err := os.MkdirTemp("", "outbox-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := outbox.Open(filepath.Join(dir, "sidecar.db"), outbox.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx, cancel := context.WithCancel(context.Background())
	// Stored and fsynced when Enqueue returns; the idempotency key drops a later duplicate.
	added, err := s.Enqueue(ctx, outbox.TopicNote, "INC-42", []byte(`{"note":"gas leak reported"}`), "note-1")
	fmt.Println("added:", added, err)
	added, err = s.Enqueue(ctx, outbox.TopicNote, "INC-42", []byte(`{"note":"gas leak reported"}`), "note-1")
	fmt.Println("duplicate added:", added, err)

	err = s.Deliver(ctx, outbox.TopicNote, func(ctx context.Context, m outbox.Message) error {
		fmt.Printf("write to CAD incident %s: %s\n", m.Key, m.Payload)
		cancel()   // stop after one message, for the example
		return nil // nil = the CAD accepted it; the message is deleted
	})
	fmt.Println("deliver stopped:", err)
	// Output:
	// added: true <nil>
	// duplicate added: false <nil>
	// write to CAD incident INC-42: {"note":"gas leak reported"}
	// deliver stopped: context canceled
}
