package filedrop_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// TestInboundGoneWhileTakingIsNotRecreated: the inbound folder disappears (a share
// unmounted) after a batch's records were emitted and before its file is moved into
// processed/. The source must not create the inbound folder again to hold processed/
// (os.MkdirAll did): a recreated empty folder reads as "the CAD is up" (no Batch.Err) and
// stands in the way of the share coming back. The file stays, and is taken again (its
// records are not linked twice: they are unchanged) once the folder is back.
func TestInboundGoneWhileTakingIsNotRecreated(t *testing.T) {
	src, in := newSource(t, srcOpts{})
	now := time.Now()
	src.SetClock(func() time.Time { return now })
	write(t, filepath.Join(in, "a.json"), `{"id": "A"}`)
	ctx := context.Background()
	_, _ = src.Scan(ctx, (&recorder{}).emit, false) // first sight: not stable yet
	now = now.Add(2 * time.Second)
	emitted := 0
	emit := func(_ context.Context, b adapters.Batch) error {
		if len(b.Records) > 0 {
			emitted++
			if err := os.Rename(in, in+".away"); err != nil { // the records are durable; the folder goes
				t.Fatal(err)
			}
		}
		return nil
	}
	_, _ = src.Scan(ctx, emit, false)
	if emitted != 1 {
		t.Fatalf("%d batches with records emitted, want 1", emitted)
	}
	if _, err := os.Stat(in); err == nil {
		t.Fatalf("the inbound folder %s was created again after it went away", in)
	}
	if !exists(filepath.Join(in+".away", "a.json")) {
		t.Fatal("the file did not stay in the folder that went away")
	}
	if err := os.Rename(in+".away", in); err != nil {
		t.Fatalf("the folder cannot come back: %v", err)
	}
	_, _ = src.Scan(ctx, (&recorder{}).emit, false)
	if !exists(filepath.Join(in, "processed", "a.json")) {
		t.Fatal("the file was not taken once the folder was back")
	}
}
