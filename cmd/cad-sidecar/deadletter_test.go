package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/outbox"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// opConfig writes a config whose admin listener is admin (nothing need listen there) and
// returns its path and the data file's.
func opConfig(t *testing.T, admin string) (cfg, db string) {
	t.Helper()
	return opConfigWith(t, admin, "")
}

// opConfigWith is opConfig with more top-level YAML (e.g. an outbox section) appended.
func opConfigWith(t *testing.T, admin, extra string) (cfg, db string) {
	t.Helper()
	dir := t.TempDir()
	cfg = filepath.Join(dir, "config.yaml")
	body := fmt.Sprintf(`
data_dir: ./data
server: {listen: "127.0.0.1:0", public_url: "http://127.0.0.1"}
admin: {listen: %q}
assist: {base_url: "http://127.0.0.1:1", token: t, webhook: {auth_token: 0123456789abcdef0123}}
cad: {adapter: rest, rest: {base_url: "http://127.0.0.1:1/api", poll: {path: "/incidents?since={{.Cursor}}", items: data, cursor_field: updated}}}
mapping: {incident_id: IncidentNumber}
`, admin) + extra
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, filepath.Join(dir, "data", "sidecar.db")
}

// evidenceErr is a CAD refusal carrying the CAD's answer, as the REST sink's errors do.
type evidenceErr struct{}

func (evidenceErr) Error() string    { return "rest: POST /incidents/INC-7/notes: 422 (31 bytes)" }
func (evidenceErr) Evidence() string { return `{"error":"note rejected: smoke"}` }

// seedDeadLetters writes n dead notes for incident INC-7 into the data file at db.
func seedDeadLetters(t *testing.T, db string, n int) {
	t.Helper()
	st, err := outbox.Open(db, outbox.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range n {
		p := fmt.Sprintf(`{"callId":"call-7","incidentId":"INC-7","note":{"type":"INFO","note":"smoke in the hallway %d","critical":true,"createdAt":"2026-11-25T10:00:00Z"}}`, i)
		if _, err := st.Enqueue(context.Background(), outbox.TopicNote, "INC-7", []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- st.Deliver(ctx, outbox.TopicNote, func(context.Context, outbox.Message) error { return delivery.Permanent(evidenceErr{}) })
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, _ := st.Stats()
		if s.Dead[outbox.TopicNote] == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("seeding: %d of %d dead letters", s.Dead[outbox.TopicNote], n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("seeding: Deliver did not return within 10s of its ctx's cancellation")
	}
}

// cli runs the command in-process.
func cli(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, strings.NewReader(""), &o, &e)
	return code, o.String(), e.String()
}

func storeStats(t *testing.T, db string) outbox.Stats {
	t.Helper()
	st, err := outbox.Open(db, outbox.Options{Logger: slog.New(slog.DiscardHandler), NoBackground: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := st.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func listJSON(t *testing.T, args ...string) sidecar.DeadLetterPage {
	t.Helper()
	code, out, errOut := cli(append([]string{"deadletter", "list", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("deadletter list --json: exit %d: %s", code, errOut)
	}
	var page sidecar.DeadLetterPage
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		t.Fatalf("deadletter list --json: %v in %s", err, out)
	}
	return page
}

// With the sidecar stopped, the commands work on the data file.
func TestDeadletterCommandOffline(t *testing.T) {
	cfg, db := opConfig(t, freePort(t))
	seedDeadLetters(t, db, 3)

	code, out, errOut := cli("deadletter", "list", "--config", cfg)
	if code != 0 || !strings.Contains(errOut, "on the data file") {
		t.Fatalf("list: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"ID", "INCIDENT", "INC-7", "call-7", "INFO", "yes", "422", "3 dead letters (link 0, note 3)"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "smoke") {
		t.Fatalf("table shows note text or evidence without --content:\n%s", out)
	}
	code, out, _ = cli("deadletter", "list", "--content", "--config", cfg)
	if code != 0 || !strings.Contains(out, "smoke in the hallway 0") || !strings.Contains(out, "note rejected: smoke") {
		t.Fatalf("list --content: exit %d\n%s", code, out)
	}
	page := listJSON(t, "--config", cfg)
	if len(page.DeadLetters) != 3 || page.DeadLetters[0].Text != "" || page.DeadLetters[0].Evidence != "" {
		t.Fatalf("list --json: %+v", page)
	}
	page = listJSON(t, "--content", "--topic", "note", "--config", cfg)
	if ev := (evidenceErr{}); page.DeadLetters[0].Evidence != ev.Evidence() || page.DeadLetters[0].Reason != ev.Error() {
		t.Fatalf("list --json --content: %+v", page.DeadLetters[0])
	}
	ids := []string{page.DeadLetters[0].ID, page.DeadLetters[1].ID, page.DeadLetters[2].ID}

	// Bad input: a clear message, nothing changed.
	bad := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"deadletter", "replay", "note-999"}, 1, "no dead letter note-999"},
		{[]string{"deadletter", "drop", "bogus-1"}, 2, "unknown topic"},
		{[]string{"deadletter", "drop", "note-x"}, 2, "bad dead letter id"},
		{[]string{"deadletter", "list", "--topic", "bogus"}, 2, "unknown topic"},
		{[]string{"deadletter", "replay"}, 2, "usage"},
		{[]string{"deadletter", "replay", "--all", ids[0]}, 2, "usage"},
		{[]string{"deadletter", "frobnicate"}, 2, "unknown deadletter command"},
	}
	for _, b := range bad {
		code, _, errOut := cli(append(b.args, "--config", cfg)...)
		if code != b.code || !strings.Contains(errOut, b.msg) {
			t.Errorf("%v: exit %d %q; want %d with %q", b.args, code, errOut, b.code, b.msg)
		}
	}
	if s := storeStats(t, db); s.Dead[outbox.TopicNote] != 3 || s.Pending[outbox.TopicNote] != 0 {
		t.Fatalf("bad input changed the data file: %+v", s)
	}

	if code, out, errOut := cli("deadletter", "replay", ids[0], "--config", cfg); code != 0 || !strings.Contains(out, "replayed "+ids[0]) {
		t.Fatalf("replay: exit %d %s %s", code, out, errOut)
	}
	if code, out, errOut := cli("deadletter", "drop", ids[1], "--config", cfg); code != 0 || !strings.Contains(out, "dropped "+ids[1]) {
		t.Fatalf("drop: exit %d %s %s", code, out, errOut)
	}
	if s := storeStats(t, db); s.Dead[outbox.TopicNote] != 1 || s.Pending[outbox.TopicNote] != 1 {
		t.Fatalf("after replay and drop: %+v", s)
	}
	if code, out, errOut := cli("deadletter", "replay", "--all", "--config", cfg); code != 0 || !strings.Contains(out, "replayed 1 dead letters") {
		t.Fatalf("replay --all: exit %d %s %s", code, out, errOut)
	}
	if s := storeStats(t, db); s.Dead[outbox.TopicNote] != 0 || s.Pending[outbox.TopicNote] != 2 {
		t.Fatalf("after replay --all: %+v", s)
	}
	if code, out, _ := cli("deadletter", "list", "--config", cfg); code != 0 || !strings.Contains(out, "no dead letters") {
		t.Fatalf("empty list: %d %s", code, out)
	}
}

// The data file held by another process and no admin API answering: said so clearly.
func TestDeadletterCommandLockedAndAPIDown(t *testing.T) {
	admin := freePort(t) // nothing listens there
	cfg, db := opConfig(t, admin)
	seedDeadLetters(t, db, 1)
	st, err := outbox.Open(db, outbox.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, args := range [][]string{{"deadletter", "list"}, {"cursor", "show"}} {
		code, _, errOut := cli(append(args, "--config", cfg)...)
		if code != exitFailure || !strings.Contains(errOut, "locked by another process") || !strings.Contains(errOut, admin) {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	if code, _, _ := cli("deadletter", "list", "--config", filepath.Join(t.TempDir(), "none.yaml")); code != exitProblems {
		t.Fatalf("missing config: exit %d", code)
	}
}

// TestDeadletterOfflineKeepsConfiguredMaxAge: offline, the operator commands open the data
// file with the config's outbox options, and the inspecting ones (list, cursor show) start
// no expiry sweep at all: a note waiting for 100h, older than the default max_age (72h) but
// younger than the configured 168h, is still pending after list, cursor show and a drop of
// another dead letter, and was not dead-lettered.
func TestDeadletterOfflineKeepsConfiguredMaxAge(t *testing.T) {
	cfg, db := opConfigWith(t, freePort(t), "outbox: {max_age: 168h}\n")
	seedDeadLetters(t, db, 1)
	old := time.Now().Add(-100 * time.Hour)
	st, err := outbox.Open(db, outbox.Options{Logger: slog.New(slog.DiscardHandler), MaxAge: 168 * time.Hour, Now: func() time.Time { return old }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Enqueue(context.Background(), outbox.TopicNote, "INC-8", []byte(`{"callId":"call-8","incidentId":"INC-8","note":{"type":"INFO","note":"waiting since 100h","createdAt":"2026-11-25T10:00:00Z"}}`)); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	id := listJSON(t, "--config", cfg).DeadLetters[0].ID
	for _, args := range [][]string{{"deadletter", "list"}, {"cursor", "show"}, {"deadletter", "drop", id}} {
		if code, out, errOut := cli(append(args, "--config", cfg)...); code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errOut)
		}
	}
	if s := storeStats(t, db); s.Pending[outbox.TopicNote] != 1 || s.Dead[outbox.TopicNote] != 0 {
		t.Fatalf("after list, cursor show and drop: %d pending, %d dead letters; want the 100h-old note still pending (max_age 168h) and none dead", s.Pending[outbox.TopicNote], s.Dead[outbox.TopicNote])
	}
}
