package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/mapping"
)

// idempotencySeed is the seed of a randomised test: $SIDECAR_TEST_SEED, or the clock.
// It is logged, and printed again with the way to replay it when the test fails. (The name
// is outside the CAD_SIDECAR_ prefix: the binary reads every CAD_SIDECAR_* variable as a
// config key, and it inherits the test's environment.)
func idempotencySeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SIDECAR_TEST_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SIDECAR_TEST_SEED=%q is not an unsigned integer", s)
		}
		seed = n
	}
	t.Logf("seed %d", seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("failed with seed %d: replay with SIDECAR_TEST_SEED=%d go test -run '^%s$' ./cmd/cad-sidecar/", seed, seed, t.Name())
		}
	})
	return seed
}

// TestCrashIdempotencyKeys holds "at-least-once delivery with idempotency keys" end to end,
// against a CAD that does NOT deduplicate: it keeps every write with its Idempotency-Key
// header. The real binary is SIGKILLed at random moments while Assist pushes notes, the
// CAD loses the answer to every 7th write (stored, then 503), and mapping.note.max_length
// splits most notes in two. Then every acknowledged note must be in the CAD, every part of
// it once at least, and:
//   - every row carries an Idempotency-Key;
//   - a row written again (a duplicate) carries the key of its original;
//   - distinct notes, and the parts of one split note, never share a key;
//   - the figures add up: distinct keys = expected writes, rows = expected writes +
//     duplicates, duplicates ≥ lost answers (each was written again), some notes split.
//
// The seed comes from SIDECAR_TEST_SEED (else the clock) and is printed on failure.
func TestCrashIdempotencyKeys(t *testing.T) {
	const (
		kills     = 10
		maxLen    = 56 // "<createdAt>|<phrase> (note i of 8)" is 54…82 runes: most split in two
		loseEvery = 7
	)
	seed := idempotencySeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cad := sim.NewCAD(sim.CADOptions{Seed: int64(seed), LoseAnswerEvery: loseEvery, NewIncidentEvery: 400 * time.Millisecond})
	as := sim.NewAssist(sim.AssistOptions{
		Token: rigToken, Seed: int64(seed), NotesPerCall: 8, NoteEvery: 80 * time.Millisecond,
		PushRetryEvery: 50 * time.Millisecond, PushTimeout: time.Second,
	})
	r := newRig(t, cad, as)
	setRigNoteMaxLength(t, r.cfgPath, maxLen)

	for range 4 {
		cad.AddIncident()
	}
	cad.Start(ctx)
	p := r.start(t)
	for i := range kills {
		time.Sleep(time.Duration(150+rng.IntN(900)) * time.Millisecond)
		p.kill()
		p = r.start(t)
		if i == kills/2 {
			cad.Close() // no more new incidents; the linked calls go on
		}
	}
	waitFor(t, 15*time.Second, "the last restart to serve", func() bool { return httpOK("http://" + r.admin + "/healthz") })
	mapper := rigMapper(t, r.cfgPath)
	expected := func() map[string][][]string { return expectedWrites(t, as, cad.Incidents(), mapper) }
	// A write whose answer was lost is in the CAD already but still in the outbox (it is
	// written again): wait for the outbox to drain too, or the duplicates are counted early.
	var state string // the last state seen by the wait, printed if it times out
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last state of the wait: %s\noutbox: %s\ndead letters: %s", state,
				adminGet(r.admin, "/api/v1/outbox?limit=20"), adminGet(r.admin, "/api/v1/deadletters?limit=20"))
		}
	})
	waitFor(t, 120*time.Second, "every call finished, every part of every acknowledged note in the CAD and the note outbox empty", func() bool {
		pending, missing, empty := as.Pending(), missingWrites(expected(), cad), noteOutboxEmpty(r.admin)
		state = fmt.Sprintf("assist pending=%d missing writes=%d note outbox empty=%v", pending, missing, empty)
		return pending == 0 && missing == 0 && empty
	})

	rows := map[string][]sim.CADNote{}
	for _, id := range cad.Incidents() {
		rows[id] = cad.Notes(id)
	}
	rep := checkIdempotencyKeys(expected(), rows)
	for i, p := range rep.problems {
		if i == 20 {
			t.Errorf("… and %d more problems", len(rep.problems)-i)
			break
		}
		t.Error(p)
	}
	lost := cad.LostAnswers()
	t.Logf("kills=%d acknowledged=%d split_notes=%d expected_writes=%d rows=%d distinct_keys=%d duplicates=%d lost_answers=%d",
		kills, rep.notes, rep.splitNotes, rep.expected, rep.rows, rep.keys, rep.duplicates, lost)
	switch {
	case rep.notes == 0:
		t.Fatal("no note was acknowledged: the test proved nothing")
	case rep.splitNotes == 0:
		t.Errorf("no note was split by mapping.note.max_length %d: the parts' keys went untested", maxLen)
	case lost == 0:
		t.Errorf("the CAD lost no answer (every %dth write): no duplicate was forced", loseEvery)
	}
	if rep.keys != rep.expected {
		t.Errorf("distinct keys %d, want one per expected write (%d)", rep.keys, rep.expected)
	}
	if rep.rows != rep.expected+rep.duplicates {
		t.Errorf("rows %d != expected writes %d + duplicates %d", rep.rows, rep.expected, rep.duplicates)
	}
	if rep.duplicates < lost {
		t.Errorf("duplicates %d < lost answers %d: a write whose answer was lost was not written again", rep.duplicates, lost)
	}
}

// setRigNoteMaxLength adds mapping.note.max_length to the rig's config.
func setRigNoteMaxLength(t *testing.T, cfgPath string, n int) {
	t.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	const line = `note: {text: "{{.CreatedAt}}|{{.Note}}"}`
	if !strings.Contains(string(b), line) {
		t.Fatalf("the rig's config has no line %q to add max_length to:\n%s", line, b)
	}
	cfg := strings.Replace(string(b), line, fmt.Sprintf(`note: {text: "{{.CreatedAt}}|{{.Note}}", max_length: %d}`, n), 1)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// expectedWrites is, per incident and acknowledged note (in order), the text of every
// write the CAD must have received at least once: the note rendered and split by the rig's
// own mapping (the sidecar's RenderNoteParts: each part keeps the text's frame).
func expectedWrites(t *testing.T, as *sim.Assist, incidents []string, m *mapping.Mapper) map[string][][]string {
	t.Helper()
	out := map[string][][]string{}
	seen := map[string]bool{}
	for _, a := range as.Acked() {
		if !slices.Contains(incidents, a.IncidentID) {
			continue
		}
		if k := a.IncidentID + "\x00" + a.Note.CreatedAt + "|" + a.Note.Note; seen[k] {
			continue
		} else {
			seen[k] = true
		}
		parts, err := m.RenderNoteParts(adapters.Note{IncidentID: a.IncidentID, CallID: a.CallID,
			Type: a.Note.Type, Note: a.Note.Note, Critical: a.Note.Critical, CreatedAt: a.Note.CreatedAt})
		if err != nil {
			t.Fatalf("render the expected note of incident %s: %v", a.IncidentID, err)
		}
		out[a.IncidentID] = append(out[a.IncidentID], parts)
	}
	return out
}

// rigMapper compiles the mapping of the rig's config, as the binary does.
func rigMapper(t *testing.T, cfgPath string) *mapping.Mapper {
	t.Helper()
	cfg, err := config.Load(cfgPath, config.Options{Environ: []string{}})
	if err != nil {
		t.Fatalf("load the rig's config: %v", err)
	}
	return cfg.Mapper
}

// missingWrites counts the expected writes with no row in the CAD.
func missingWrites(expected map[string][][]string, cad *sim.CAD) int {
	n := 0
	for id, notes := range expected {
		have := map[string]bool{}
		for _, row := range cad.Notes(id) {
			have[row.Text] = true
		}
		for _, parts := range notes {
			for _, txt := range parts {
				if !have[txt] {
					n++
				}
			}
		}
	}
	return n
}

// idempotencyReport is what checkIdempotencyKeys found.
type idempotencyReport struct {
	notes, splitNotes int // acknowledged notes; those written in several parts
	expected, rows    int // writes that must be there; rows the CAD holds
	keys, duplicates  int // distinct Idempotency-Keys; rows beyond the expected writes
	problems          []string
}

// checkIdempotencyKeys compares the CAD's rows with the expected writes by text, without
// knowing how keys are made. Rows of one text in one incident are the writes of that text
// (usually one; more when distinct notes or parts render the same) plus their duplicates,
// so they must carry exactly as many distinct keys as there are such writes; a key must not
// appear under two texts or two incidents; every row must carry a key and come from an
// expected write.
func checkIdempotencyKeys(expected map[string][][]string, rows map[string][]sim.CADNote) idempotencyReport {
	var rep idempotencyReport
	type group struct{ incident, text string }
	owner := map[string]group{} // key → where it was first seen
	for _, id := range slices.Sorted(maps.Keys(expected)) {
		want := map[string]int{}
		for _, parts := range expected[id] {
			rep.notes++
			if len(parts) > 1 {
				rep.splitNotes++
			}
			for _, txt := range parts {
				want[txt]++
				rep.expected++
			}
		}
		keysOf := map[string]map[string]int{} // text → key → rows
		for _, row := range rows[id] {
			rep.rows++
			if row.Key == "" {
				rep.problems = append(rep.problems, fmt.Sprintf("incident %s: %q was written without an Idempotency-Key", id, row.Text))
			}
			if want[row.Text] == 0 {
				rep.problems = append(rep.problems, fmt.Sprintf("incident %s: %q is not a part of any acknowledged note", id, row.Text))
				continue
			}
			if keysOf[row.Text] == nil {
				keysOf[row.Text] = map[string]int{}
			}
			keysOf[row.Text][row.Key]++
			if row.Key == "" {
				continue
			}
			g := group{id, row.Text}
			if o, ok := owner[row.Key]; !ok {
				owner[row.Key] = g
				rep.keys++
			} else if o != g {
				rep.problems = append(rep.problems, fmt.Sprintf("Idempotency-Key %s is shared by distinct writes: %q (incident %s) and %q (incident %s)", row.Key, o.text, o.incident, row.Text, id))
			}
		}
		for _, txt := range slices.Sorted(maps.Keys(want)) {
			k, seen := want[txt], keysOf[txt]
			if len(seen) == 0 {
				rep.problems = append(rep.problems, fmt.Sprintf("incident %s: %q is missing", id, txt))
				continue
			}
			n := 0
			for _, c := range seen {
				n += c
			}
			rep.duplicates += max(0, n-k)
			if len(seen) != k {
				rep.problems = append(rep.problems, fmt.Sprintf("incident %s: %q is %d distinct write(s) but its %d rows carry %d distinct Idempotency-Keys %v (a duplicate must carry its original's key; distinct writes must not share one)",
					id, txt, k, n, len(seen), slices.Sorted(maps.Keys(seen))))
			}
		}
	}
	return rep
}

// TestCheckIdempotencyKeys pins the checker on one bad thing at a time.
func TestCheckIdempotencyKeys(t *testing.T) {
	expected := map[string][][]string{
		"1": {{"a (1/2)", "b (2/2)"}, {"c"}, {"same"}, {"same"}},
		"2": {{"d"}},
	}
	row := func(text, key string) sim.CADNote { return sim.CADNote{Text: text, Key: key} }
	clean := func() map[string][]sim.CADNote {
		return map[string][]sim.CADNote{
			"1": {row("a (1/2)", "ka1"), row("b (2/2)", "ka2"), row("c", "kc"), row("same", "ks1"), row("same", "ks2")},
			"2": {row("d", "kd")},
		}
	}
	for _, tc := range []struct {
		name    string
		change  func(map[string][]sim.CADNote)
		problem string // "" = none
		dups    int
	}{
		{name: "clean", change: func(map[string][]sim.CADNote) {}},
		{name: "duplicate with its key", change: func(r map[string][]sim.CADNote) { r["1"] = append(r["1"], row("b (2/2)", "ka2")) }, dups: 1},
		{name: "duplicate with another key", change: func(r map[string][]sim.CADNote) { r["1"] = append(r["1"], row("c", "kc-retry")) },
			problem: `"c" is 1 distinct write(s) but its 2 rows carry 2 distinct Idempotency-Keys`, dups: 1},
		{name: "no key", change: func(r map[string][]sim.CADNote) { r["2"][0].Key = "" }, problem: `"d" was written without an Idempotency-Key`},
		{name: "split parts share a key", change: func(r map[string][]sim.CADNote) { r["1"][1].Key = "ka1" },
			problem: `Idempotency-Key ka1 is shared by distinct writes: "a (1/2)" (incident 1) and "b (2/2)"`},
		{name: "distinct notes of the same text share a key", change: func(r map[string][]sim.CADNote) { r["1"][4].Key = "ks1" },
			problem: `"same" is 2 distinct write(s) but its 2 rows carry 1 distinct Idempotency-Keys`},
		{name: "notes of two incidents share a key", change: func(r map[string][]sim.CADNote) { r["2"][0].Key = "kc" },
			problem: `Idempotency-Key kc is shared by distinct writes: "c" (incident 1) and "d" (incident 2)`},
		{name: "a part missing", change: func(r map[string][]sim.CADNote) { r["1"] = r["1"][1:] }, problem: `incident 1: "a (1/2)" is missing`},
		{name: "a row from nowhere", change: func(r map[string][]sim.CADNote) { r["2"] = append(r["2"], row("zzz", "kz")) },
			problem: `incident 2: "zzz" is not a part of any acknowledged note`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := clean()
			tc.change(rows)
			rep := checkIdempotencyKeys(expected, rows)
			if rep.notes != 5 || rep.splitNotes != 1 || rep.expected != 6 || rep.duplicates != tc.dups {
				t.Errorf("figures %+v, want 5 notes, 1 split, 6 expected writes, %d duplicates", rep, tc.dups)
			}
			switch {
			case tc.problem == "" && len(rep.problems) != 0:
				t.Errorf("problems %q, want none", rep.problems)
			case tc.problem != "" && (len(rep.problems) != 1 || !strings.Contains(rep.problems[0], tc.problem)):
				t.Errorf("problems %q, want exactly one containing %q", rep.problems, tc.problem)
			}
		})
	}
}

// noteOutboxEmpty reports whether the sidecar at admin says no note is waiting
// (cad_sidecar_outbox_depth{topic="note"} 0 on /metrics).
func noteOutboxEmpty(admin string) bool {
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, `cad_sidecar_outbox_depth{topic="note"} `); ok {
			return strings.TrimSpace(v) == "0"
		}
	}
	return false
}

// adminGet returns the body of GET path on the admin listener (or the error), for a
// failure's log.
func adminGet(admin, path string) string {
	resp, err := http.Get("http://" + admin + path)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	return resp.Status + " " + string(b)
}
