package filedrop_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/adapters/filedrop"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// recorder is an Emit that keeps every batch; fail makes it refuse (the host's store
// failing).
type recorder struct {
	mu      sync.Mutex
	batches []adapters.Batch
	fail    error
}

func (r *recorder) emit(_ context.Context, b adapters.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil && b.Err == nil && len(b.Records) > 0 {
		return r.fail
	}
	r.batches = append(r.batches, b)
	return nil
}

// records are the records emitted so far.
func (r *recorder) records() []adapters.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []adapters.Record
	for _, b := range r.batches {
		out = append(out, b.Records...)
	}
	return out
}

func (r *recorder) ids() []string {
	var ids []string
	for _, rec := range r.records() {
		ids = append(ids, adapters.Record(rec)["id"].(string))
	}
	return ids
}

type srcOpts struct {
	mod   func(*filedrop.Config)
	state adapters.State
	reg   prometheus.Registerer
}

// newSource builds a Source over a fresh inbound folder.
func newSource(t *testing.T, o srcOpts) (*filedrop.Source, string) {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	c := filedrop.NewConfig()
	c.Inbound, c.Pattern, c.Format = in, "*.json", "json"
	c.StableFor, c.Rescan = time.Second, 100*time.Millisecond
	if o.mod != nil {
		o.mod(c)
	}
	src, _, err := filedrop.New(c, adapters.Deps{State: o.state, Registerer: o.reg})
	if err != nil {
		t.Fatal(err)
	}
	return src, in
}

func write(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// waitFor polls cond every 10ms, failing after 20s with what it waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 20s waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run runs src until the test ends.
func run(t *testing.T, src *filedrop.Source, rec *recorder) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, rec.emit) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v after cancel", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of cancel")
		}
	})
}

// TestHalfWrittenFileWaits: a file written in two steps with a pause is not read until its
// size and mtime stayed unchanged for stable_for (the clock is the test's, so no timing
// is assumed of the machine).
func TestHalfWrittenFileWaits(t *testing.T) {
	src, in := newSource(t, srcOpts{})
	now := time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC)
	src.SetClock(func() time.Time { return now })
	rec := &recorder{}
	ctx := context.Background()
	file := filepath.Join(in, "a.json")
	write(t, file, `{"id": "A", "text": "first ha`)
	for _, step := range []time.Duration{0, 900 * time.Millisecond} {
		now = now.Add(step)
		if _, err := src.Scan(ctx, rec.emit, false); err != nil {
			t.Fatal(err)
		}
		if len(rec.records()) != 0 || exists(filepath.Join(in, "failed")) {
			t.Fatalf("after %s the half-written file was taken", step)
		}
	}
	// The second half comes; mtime moves forward as a real write would.
	write(t, file, `{"id": "A", "text": "first half, second half"}`)
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(file, later, later); err != nil {
		t.Fatal(err)
	}
	now = now.Add(200 * time.Millisecond) // 1.1s after the first sight, but it just changed
	if _, err := src.Scan(ctx, rec.emit, false); err != nil {
		t.Fatal(err)
	}
	if len(rec.records()) != 0 {
		t.Fatal("the file was taken right after it changed")
	}
	now = now.Add(time.Second)
	if _, err := src.Scan(ctx, rec.emit, false); err != nil {
		t.Fatal(err)
	}
	got := rec.records()
	if len(got) != 1 || got[0]["text"] != "first half, second half" {
		t.Fatalf("records = %v, want the whole file's one record", got)
	}
	if exists(filepath.Join(in, "failed")) || !exists(filepath.Join(in, "processed", "a.json")) {
		t.Fatal("the file is not in processed/ (or something went to failed/)")
	}
}

// TestWriterTempFilesIgnored: *.tmp, *.part, hidden files and markers are never taken,
// even when they match the pattern; a NAME.done marker makes NAME complete at once; the
// pattern matches ignoring case.
func TestWriterTempFilesIgnored(t *testing.T) {
	src, in := newSource(t, srcOpts{mod: func(c *filedrop.Config) { c.Pattern = "*"; c.StableFor = time.Hour }})
	rec := &recorder{}
	for _, n := range []string{"a.json.tmp", "b.json.part", ".c.json", "d.json.done"} {
		write(t, filepath.Join(in, n), `{"id": "X"}`)
	}
	write(t, filepath.Join(in, "e.json"), `{"id": "E"}`)
	write(t, filepath.Join(in, "F.JSON"), `{"id": "F"}`) // a pattern matches ignoring case
	write(t, filepath.Join(in, "F.JSON.done"), "")
	write(t, filepath.Join(in, "e.json.done"), "")
	if _, err := src.Scan(context.Background(), rec.emit, false); err != nil {
		t.Fatal(err)
	}
	if ids := rec.ids(); strings.Join(ids, ",") != "E,F" && strings.Join(ids, ",") != "F,E" {
		t.Fatalf("emitted %v, want [E F] (the marked files only)", ids)
	}
	if exists(filepath.Join(in, "e.json.done")) {
		t.Fatal("the marker was not removed with its file")
	}
	for _, n := range []string{"a.json.tmp", "b.json.part", ".c.json", "d.json.done"} {
		if !exists(filepath.Join(in, n)) {
			t.Fatalf("%s was touched", n)
		}
	}
}

// TestBadFileToFailed: a file that cannot be decoded goes to failed/ with NAME.error
// saying why, while the file after it is processed; both are counted.
func TestBadFileToFailed(t *testing.T) {
	reg := prometheus.NewRegistry()
	src, in := newSource(t, srcOpts{reg: reg, mod: func(c *filedrop.Config) { c.StableFor = 100 * time.Millisecond }})
	write(t, filepath.Join(in, "1-bad.json"), `{"id": "B", broken`)
	write(t, filepath.Join(in, "2-good.json"), `{"id": "G"}`)
	rec := &recorder{}
	run(t, src, rec)
	waitFor(t, "the good file processed", func() bool { return exists(filepath.Join(in, "processed", "2-good.json")) })
	waitFor(t, "the bad file in failed/", func() bool { return exists(filepath.Join(in, "failed", "1-bad.json")) })
	msg, err := os.ReadFile(filepath.Join(in, "failed", "1-bad.json.error"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(msg), "json") || strings.Contains(string(msg), "broken") {
		t.Fatalf(".error = %q: want the decoder's reason, never the content", msg)
	}
	if ids := rec.ids(); strings.Join(ids, ",") != "G" {
		t.Fatalf("emitted %v, want [G]", ids)
	}
	want := map[string]float64{"processed": 1, "failed": 1}
	for r, n := range want {
		c, err := counter(reg, r)
		if err != nil || c != n {
			t.Errorf("cad_sidecar_filedrop_files_total{result=%q} = %v (%v), want %v", r, c, err, n)
		}
	}
}

func counter(reg *prometheus.Registry, result string) (float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() != "cad_sidecar_filedrop_files_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue(), nil
				}
			}
		}
	}
	return 0, errors.New("not found")
}

// TestEmitFailureKeepsFile: when emit fails (the records are not durable) the file stays
// in inbound and is taken at a later scan.
func TestEmitFailureKeepsFile(t *testing.T) {
	src, in := newSource(t, srcOpts{mod: func(c *filedrop.Config) { c.StableFor = 100 * time.Millisecond }})
	now := time.Now()
	src.SetClock(func() time.Time { return now })
	write(t, filepath.Join(in, "a.json"), `{"id": "A"}`)
	rec := &recorder{fail: errors.New("store full")}
	ctx := context.Background()
	_, _ = src.Scan(ctx, rec.emit, false)
	now = now.Add(time.Second)
	_, _ = src.Scan(ctx, rec.emit, false)
	if !exists(filepath.Join(in, "a.json")) || exists(filepath.Join(in, "processed")) {
		t.Fatal("the file left inbound although its records were not durable")
	}
	rec.fail = nil
	_, _ = src.Scan(ctx, rec.emit, false)
	if ids := rec.ids(); len(ids) != 1 || !exists(filepath.Join(in, "processed", "a.json")) {
		t.Fatalf("emitted %v; processed/a.json there: %v", ids, exists(filepath.Join(in, "processed", "a.json")))
	}
}

// TestLookback: on the first start only files modified within lookback are taken; the
// horizon is stored, so a restart much later still takes a file that came meanwhile.
func TestLookback(t *testing.T) {
	state := &adapters.MemState{}
	mod := func(c *filedrop.Config) { c.Lookback = 2 * time.Hour; c.StableFor = 100 * time.Millisecond }
	src, in := newSource(t, srcOpts{state: state, mod: mod})
	old := filepath.Join(in, "old.json")
	write(t, old, `{"id": "OLD"}`)
	threeHours := time.Now().Add(-3 * time.Hour)
	if err := os.Chtimes(old, threeHours, threeHours); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(in, "new.json"), `{"id": "NEW"}`)
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, rec.emit) }()
	waitFor(t, "the new file processed", func() bool { return exists(filepath.Join(in, "processed", "new.json")) })
	cancel()
	<-done
	if ids := rec.ids(); strings.Join(ids, ",") != "NEW" || !exists(old) {
		t.Fatalf("emitted %v (old file still there: %v), want [NEW] and the old one left alone", ids, exists(old))
	}
	h, ok, _ := state.Get("horizon")
	if !ok {
		t.Fatal("no horizon stored")
	}
	// A restart 1h later (as if stopped meanwhile): a file modified 2.5h ago — after the
	// stored horizon, before now-lookback — is taken.
	hor, _ := time.Parse(time.RFC3339Nano, h)
	mid := filepath.Join(in, "mid.json")
	write(t, mid, `{"id": "MID"}`)
	at := hor.Add(30 * time.Minute)
	if err := os.Chtimes(mid, at, at); err != nil {
		t.Fatal(err)
	}
	src2, _, err := filedrop.New(&filedrop.Config{Inbound: in, Pattern: "*.json", Format: "json", StableFor: 100 * time.Millisecond,
		Rescan: 100 * time.Millisecond, Lookback: time.Minute, After: "move", NoteFormat: "json"}, adapters.Deps{State: state})
	if err != nil {
		t.Fatal(err)
	}
	rec2 := &recorder{}
	run(t, src2, rec2)
	waitFor(t, "the file of the stop processed", func() bool { return exists(filepath.Join(in, "processed", "mid.json")) })
	if ids := rec2.ids(); strings.Join(ids, ",") != "MID" {
		t.Fatalf("after the restart emitted %v, want [MID]", ids)
	}
}

// TestItemsCSVGroupedAndDelete: a CSV export with several rows per incident, grouped by
// its id column, and after: delete.
func TestItemsCSVGroupedAndDelete(t *testing.T) {
	src, in := newSource(t, srcOpts{mod: func(c *filedrop.Config) {
		c.Pattern, c.Format, c.GroupBy, c.After, c.StableFor = "*.csv", "csv", "id", "delete", 100*time.Millisecond
	}})
	write(t, filepath.Join(in, "export.csv"), "id,comment\nA,one\nB,two\nA,three\n")
	rec := &recorder{}
	run(t, src, rec)
	waitFor(t, "the export deleted", func() bool { return !exists(filepath.Join(in, "export.csv")) })
	got := rec.records()
	if len(got) != 2 || got[0]["id"] != "A" || len(got[0]["rows"].([]any)) != 2 || got[1]["id"] != "B" {
		t.Fatalf("records = %v, want A (2 rows) and B", got)
	}
	if exists(filepath.Join(in, "processed")) {
		t.Fatal("after: delete made processed/")
	}
}

// TestJSONItems: one file holding a list at items.
func TestJSONItems(t *testing.T) {
	src, in := newSource(t, srcOpts{mod: func(c *filedrop.Config) { c.Items = "data.incidents"; c.StableFor = 100 * time.Millisecond }})
	write(t, filepath.Join(in, "a.json"), `{"data": {"incidents": [{"id": "1"}, {"id": "2"}]}}`)
	rec := &recorder{}
	run(t, src, rec)
	waitFor(t, "the file processed", func() bool { return exists(filepath.Join(in, "processed", "a.json")) })
	if ids := rec.ids(); strings.Join(ids, ",") != "1,2" {
		t.Fatalf("emitted %v", ids)
	}
}

// TestInboundMissing: a folder that is not there (an unreachable share) is a failed read,
// emitted as Batch.Err; once it is there files flow.
func TestInboundMissing(t *testing.T) {
	src, in := newSource(t, srcOpts{mod: func(c *filedrop.Config) { c.StableFor = 100 * time.Millisecond }})
	if err := os.Rename(in, in+".away"); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	run(t, src, rec)
	waitFor(t, "a Batch.Err", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.batches) > 0 && rec.batches[0].Err != nil
	})
	if err := os.Rename(in+".away", in); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(in, "a.json"), `{"id": "A"}`)
	waitFor(t, "the file processed once the folder is back", func() bool { return exists(filepath.Join(in, "processed", "a.json")) })
}

// TestTooManyRecordsFails: a file holding more records than mapping.input.max_records goes
// to failed/ (never truncated).
func TestTooManyRecordsFails(t *testing.T) {
	src, in := newSource(t, srcOpts{mod: func(c *filedrop.Config) { c.Items = "data" }})
	src.SetInput(record.Options{Limits: record.Limits{MaxRecords: 2}})
	now := time.Now()
	src.SetClock(func() time.Time { return now })
	write(t, filepath.Join(in, "a.json"), `{"data": [{"id": "1"}, {"id": "2"}, {"id": "3"}]}`)
	rec := &recorder{}
	_, _ = src.Scan(context.Background(), rec.emit, false)
	now = now.Add(2 * time.Second)
	_, _ = src.Scan(context.Background(), rec.emit, false)
	b, err := os.ReadFile(filepath.Join(in, "failed", "a.json.error"))
	if err != nil || !strings.Contains(string(b), "max_records") || len(rec.records()) != 0 {
		t.Fatalf("failed/a.json.error = %q, %v; emitted %v", b, err, rec.records())
	}
}

// TestBurstWithBadFiles: a burst of files larger than one batch, a few of them bad, taken
// by one scan: the files are decoded in parallel, yet every good file's record is emitted
// once, in the files' order, in batches of at most filedrop.BatchFiles, each file moved to
// processed/ after its batch; each bad one goes to failed/ with its own .error, holding up
// none of the others.
func TestBurstWithBadFiles(t *testing.T) {
	src, in := newSource(t, srcOpts{mod: func(c *filedrop.Config) { c.StableFor = 100 * time.Millisecond }})
	now := time.Now()
	src.SetClock(func() time.Time { return now })
	const n = 2*filedrop.BatchFiles + 37
	var want []string
	bad := map[int]bool{3: true, filedrop.BatchFiles: true, n - 1: true}
	for i := range n {
		name := filepath.Join(in, fmt.Sprintf("%04d.json", i))
		if bad[i] {
			write(t, name, fmt.Sprintf(`{"id": "BAD-%d", `, i))
			continue
		}
		write(t, name, fmt.Sprintf(`{"id": "F-%04d"}`, i))
		want = append(want, fmt.Sprintf("F-%04d", i))
	}
	// The same mtime for all (the order is then by name): a burst.
	mod := now.Add(-time.Minute)
	for i := range n {
		if err := os.Chtimes(filepath.Join(in, fmt.Sprintf("%04d.json", i)), mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	ctx := context.Background()
	_, _ = src.Scan(ctx, rec.emit, false) // seen
	now = now.Add(time.Second)
	_, _ = src.Scan(ctx, rec.emit, false) // stable: taken
	if got := rec.ids(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("emitted %d records %v…, want %d in file order", len(got), got[:min(5, len(got))], len(want))
	}
	for _, b := range rec.batches {
		if len(b.Records) > filedrop.BatchFiles {
			t.Errorf("a batch of %d records, want at most %d", len(b.Records), filedrop.BatchFiles)
		}
	}
	for i := range n {
		name := fmt.Sprintf("%04d.json", i)
		if bad[i] {
			msg, err := os.ReadFile(filepath.Join(in, "failed", name+".error"))
			if err != nil || !strings.Contains(string(msg), "file: "+name) {
				t.Errorf("%s: .error %q (%v), want one naming the file", name, msg, err)
			}
			continue
		}
		if !exists(filepath.Join(in, "processed", name)) || exists(filepath.Join(in, name)) {
			t.Errorf("%s not moved to processed/", name)
		}
	}
}
