package sidecar_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/outbox"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// shadowMapping filters closed incidents out, needs a nature code (the sim CAD's
// AddIncidentWithoutNature fails it) and splits notes longer than 40 characters.
const shadowMapping = `
mapping:
  incident_id: IncidentNumber
  user_id: CallTaker.Id
  filter: 'Status != "CLOSED"'
  fields:
    - {name: Status, from: Status}
    - {name: Nature, from: Nature.Code, required: true}
  note: {text: "{{.Note}}", max_length: 40}
`

// shadowCAD is a simulated CAD shared by several runs: open incidents, two closed ones
// (filtered out) and one without a nature code (a mapping error).
type shadowCAD struct {
	cad                    *sim.CAD
	url                    string
	open, closed, noNature []string
}

func newShadowCAD(t *testing.T, open int) *shadowCAD {
	t.Helper()
	c := &shadowCAD{cad: sim.NewCAD(sim.CADOptions{Seed: 5})}
	for range open {
		c.open = append(c.open, c.cad.AddIncident())
	}
	for range 2 {
		id := c.cad.AddIncident()
		for i := 0; ; i++ {
			if inc, _ := c.cad.Incident(id); inc.Status == "CLOSED" {
				break
			}
			if i == 100 {
				t.Fatalf("incident %s not closed after 100 updates", id)
			}
			c.cad.UpdateIncident(id)
		}
		c.closed = append(c.closed, id)
	}
	c.noNature = []string{c.cad.AddIncidentWithoutNature()}
	srv := httptest.NewServer(c.cad)
	t.Cleanup(srv.Close)
	c.url = srv.URL + "/api"
	return c
}

// shadowEdit puts a run in shadow mode (or "off") with its data in dataDir.
func shadowEdit(mode, dataDir string) func(*config.Config) {
	return func(c *config.Config) {
		c.DataDir = dataDir
		c.Shadow.Mode = mode
	}
}

// settled waits until every incident of want is linked in the simulated Assist, every
// call's script is done and the outbox is empty.
func (e *env) settled(t *testing.T, what string, linked func() int, want int) {
	t.Helper()
	waitFor(t, 60*time.Second, what, func() bool {
		st := e.stats(t)
		return linked() >= want && e.as.Pending() == 0 && st.Pending[outbox.TopicLink] == 0 && st.Pending[outbox.TopicNote] == 0
	})
}

// A shadow run (mode cad) writes nothing into the CAD — by the CAD's own record — and its
// report says what the normal run that follows on the same CAD data, with the same data
// folder, then does: the same incidents linked, the same notes per incident, the same
// CAD writes and splits and longest write, the same filtered and failed records.
func TestShadowReportMatchesNormalRun(t *testing.T) {
	cad := newShadowCAD(t, 4)
	dataDir := filepath.Join(t.TempDir(), "data")
	var rep *sidecar.ShadowReport

	t.Run("shadow", func(t *testing.T) {
		e := start(t, envOptions{cadURL: cad.url, register: true, mapping: shadowMapping, edit: shadowEdit(config.ShadowCAD, dataDir)})
		if m := e.s.Mode(); m != "shadow-cad" {
			t.Fatalf("Mode() = %q, want shadow-cad", m)
		}
		e.settled(t, "the shadow run to link every open incident and relay every note", e.as.LinkCount, len(cad.open))
		waitFor(t, 30*time.Second, "every record mapped", func() bool {
			return e.metric(t, "cad_sidecar_cad_records_total", "result", "error") >= 1
		})
		if n := cad.cad.NoteCount(); n != 0 {
			t.Fatalf("the shadow run wrote %d notes into the CAD", n)
		}
		for _, id := range cad.cad.Incidents() {
			if notes := cad.cad.Notes(id); len(notes) != 0 {
				t.Fatalf("incident %s has notes in the CAD after a shadow run: %d", id, len(notes))
			}
		}
		var err error
		if rep, err = sidecar.ReadShadowReport(sidecar.ShadowPath(e.cfg)); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dataDir, "sidecar.db")); err == nil {
			t.Fatal("the shadow run made the real data file sidecar.db")
		}
		if got := e.metric(t, "cad_sidecar_shadow_lines_total", "kind", "note"); got != float64(rep.Writes) {
			t.Fatalf("cad_sidecar_shadow_lines_total{kind=note} = %v, the file has %d writes", got, rep.Writes)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("normal", func(t *testing.T) {
		e := start(t, envOptions{cadURL: cad.url, register: true, mapping: shadowMapping, edit: shadowEdit(config.ShadowOff, dataDir)})
		if m := e.s.Mode(); m != "normal" {
			t.Fatalf("Mode() = %q, want normal", m)
		}
		e.settled(t, "the normal run to link every open incident and write every note", e.as.LinkCount, len(cad.open))
		waitFor(t, 30*time.Second, "every record mapped", func() bool {
			return e.metric(t, "cad_sidecar_cad_records_total", "result", "error") >= 1
		})

		// Linked: the same incidents.
		var linked []string
		for _, inc := range rep.PerIncident {
			if inc.Linked {
				linked = append(linked, inc.IncidentID)
			}
		}
		var real []string
		for id := range e.as.Links() {
			real = append(real, id)
		}
		sort.Strings(linked)
		sort.Strings(real)
		if !slices.Equal(linked, real) || rep.Linked != len(cad.open) {
			t.Fatalf("shadow report linked %v (%d), the normal run linked %v", linked, rep.Linked, real)
		}

		// Notes: per incident the same number; in all the same writes, splits, longest.
		part := regexp.MustCompile(`#[0-9]+/([0-9]+)$`)
		writes, split, longest := 0, 0, 0
		for _, inc := range rep.PerIncident {
			notes := cad.cad.Notes(inc.IncidentID)
			keys := map[string]bool{}
			for _, n := range notes {
				keys[part.ReplaceAllString(n.Key, "")] = true
				if m := part.FindStringSubmatch(n.Key); m != nil && strings.HasSuffix(n.Key, "#1/"+m[1]) {
					split++
				}
				longest = max(longest, len([]rune(n.Text)))
			}
			writes += len(notes)
			if len(keys) != inc.Notes {
				t.Errorf("incident %s: the shadow report has %d notes, the normal run wrote %d", inc.IncidentID, inc.Notes, len(keys))
			}
		}
		if writes != rep.Writes || split != rep.Split || rep.Longest == nil || longest != rep.Longest.Length {
			t.Errorf("CAD writes %d, split %d, longest %d; shadow report %d, %d, %+v", writes, split, longest, rep.Writes, rep.Split, rep.Longest)
		}
		if rep.Split == 0 || rep.Notes != 4*len(cad.open) {
			t.Errorf("the data should give split notes and 4 notes a call: %+v", rep)
		}

		// Filtered and failed records: the normal run's counts.
		filtered, failed := 0, 0
		for _, c := range rep.Filtered {
			filtered += c.Records
			if c.What != `filter Status != "CLOSED" is false` {
				t.Errorf("filtered by %q", c.What)
			}
		}
		for _, c := range rep.MappingErrors {
			failed += c.Records
			if c.What != "fields[1] (Nature)" {
				t.Errorf("mapping error about %q, want fields[1] (Nature)", c.What)
			}
		}
		if float64(filtered) != e.metric(t, "cad_sidecar_cad_records_total", "result", "filtered") || filtered != len(cad.closed) {
			t.Errorf("shadow report filtered %d records, the normal run %v", filtered, e.metric(t, "cad_sidecar_cad_records_total", "result", "filtered"))
		}
		if float64(failed) != e.metric(t, "cad_sidecar_cad_records_total", "result", "error") || failed != len(cad.noNature) {
			t.Errorf("shadow report has %d mapping errors, the normal run %v", failed, e.metric(t, "cad_sidecar_cad_records_total", "result", "error"))
		}
		if rep.Incidents != len(cad.cad.Incidents()) || len(rep.BadLines) != 0 {
			t.Errorf("incidents seen %d, want %d; bad lines %v", rep.Incidents, len(cad.cad.Incidents()), rep.BadLines)
		}
	})
}

// Shadow mode all: no request at all reaches Assist (no link, no registration, no pull),
// nothing is written into the CAD, each LinkIncidentRequest is in the shadow file;
// readiness and the metrics say so.
func TestShadowAllSendsNothingToAssist(t *testing.T) {
	cad := newShadowCAD(t, 3)
	var requests atomic.Int64
	count := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			h.ServeHTTP(w, r)
		})
	}
	e := start(t, envOptions{cadURL: cad.url, register: true, notes: "both", wrapAssist: count, mapping: shadowMapping,
		edit: shadowEdit(config.ShadowAll, filepath.Join(t.TempDir(), "data"))})
	if m := e.s.Mode(); m != "shadow-all" {
		t.Fatalf("Mode() = %q, want shadow-all", m)
	}
	waitFor(t, 30*time.Second, "a link line for every open incident", func() bool {
		return e.metric(t, "cad_sidecar_shadow_lines_total", "kind", "link") >= float64(len(cad.open)) &&
			e.stats(t).Pending[outbox.TopicLink] == 0
	})
	if n := requests.Load(); n != 0 || e.as.LinkRequests() != 0 || e.as.Registrations() != 0 {
		t.Fatalf("shadow mode all sent %d requests to Assist (%d links, %d registrations)", n, e.as.LinkRequests(), e.as.Registrations())
	}
	if n := cad.cad.NoteCount(); n != 0 {
		t.Fatalf("%d notes written into the CAD", n)
	}
	rep, err := sidecar.ReadShadowReport(sidecar.ShadowPath(e.cfg))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Linked != len(cad.open) || rep.LinkRequests != len(cad.open) || rep.Notes != 0 || !slices.Equal(rep.Modes, []string{"all"}) {
		t.Fatalf("report: %+v", rep)
	}
	for _, inc := range rep.PerIncident {
		if inc.Linked && inc.CallID != "" {
			t.Fatalf("incident %s has a call id in mode all: %s", inc.IncidentID, inc.CallID)
		}
	}
	lines := readShadowLines(t, sidecar.ShadowPath(e.cfg))
	for _, l := range lines {
		if l.Kind == sidecar.ShadowLink && (l.Request == nil || l.Request.IncidentID != l.IncidentID || len(l.Request.Fields) != 2 || l.Sent || l.To != "assist") {
			t.Fatalf("link line without its request: %+v", l)
		}
	}

	for _, want := range [][2]string{{"off", "0"}, {"cad", "0"}, {"all", "1"}} {
		if got := e.metric(t, "cad_sidecar_shadow_mode", "mode", want[0]); got != map[string]float64{"0": 0, "1": 1}[want[1]] {
			t.Errorf("cad_sidecar_shadow_mode{mode=%s} = %v, want %s", want[0], got, want[1])
		}
	}
	waitFor(t, 30*time.Second, "ready", func() bool { ok, _ := e.s.Ready(); return ok })
	resp, err := http.Get(e.adminURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ready struct {
		Ready  bool
		Checks map[string]sidecar.Check
	}
	if err := json.NewDecoder(resp.Body).Decode(&ready); err != nil {
		t.Fatal(err)
	}
	sh, web := ready.Checks["shadow"], ready.Checks["webhook"]
	if !ready.Ready || !sh.OK || !strings.Contains(sh.Detail, "shadow mode all") || !strings.Contains(sh.Detail, "shadow.jsonl") ||
		!web.OK || !strings.Contains(web.Detail, "not registered") {
		t.Fatalf("/readyz: %+v", ready)
	}
	if !strings.Contains(e.logs.String(), "sink=shadow-file") {
		t.Fatal(`"sidecar started" does not name the shadow sink`)
	}
}

// A sidecar in normal mode has no shadow check and reports mode off.
func TestShadowOffMetricAndReadiness(t *testing.T) {
	e := start(t, envOptions{})
	if got := e.metric(t, "cad_sidecar_shadow_mode", "mode", "off"); got != 1 {
		t.Fatalf("cad_sidecar_shadow_mode{mode=off} = %v", got)
	}
	if got := e.metric(t, "cad_sidecar_shadow_mode", "mode", "cad"); got != 0 {
		t.Fatalf("cad_sidecar_shadow_mode{mode=cad} = %v", got)
	}
	if _, checks := e.s.Ready(); checks["shadow"] != (sidecar.Check{}) {
		t.Fatalf("normal mode has a shadow check: %+v", checks["shadow"])
	}
	if strings.Contains(e.logs.String(), "SHADOW MODE") {
		t.Fatal("normal mode logs SHADOW MODE")
	}
}

// The loud line: at start and at every reminder interval (injected), at WARN.
func TestShadowReminder(t *testing.T) {
	e := start(t, envOptions{edit: shadowEdit(config.ShadowCAD, filepath.Join(t.TempDir(), "data")),
		options: func(o *sidecar.Options) { o.ShadowReminder = 20 * time.Millisecond }})
	line := regexp.MustCompile(`level=WARN msg="SHADOW MODE: nothing is written into the CAD[^"]*" mode=cad file=\S+shadow.jsonl`)
	waitFor(t, 30*time.Second, "the SHADOW MODE line at start and twice more", func() bool {
		return len(line.FindAllString(e.logs.String(), -1)) >= 3
	})
}

// A shadow-mode sidecar whose shadow.file cannot be written refuses to start, naming the
// key and the file; nothing is opened.
func TestShadowFileNotWritableRefusesStart(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "not-a-folder")
	if err := os.WriteFile(blocker, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := shadowConfig(t, dir)
	cfg.Shadow.File = filepath.Join(blocker, "shadow.jsonl")
	_, err := sidecar.New(cfg, sidecar.Options{})
	if err == nil || !strings.Contains(err.Error(), "shadow.file "+cfg.Shadow.File+" is not writable") {
		t.Fatalf("New: %v", err)
	}
	if _, err := os.Stat(sidecar.StorePath(cfg)); err == nil {
		t.Fatal("the data file was created by a sidecar that refused to start")
	}
}

// shadowConfig loads a minimal shadow-mode (cad) config with data in dir/data.
func shadowConfig(t *testing.T, dir string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, "config.yaml")
	yaml := `
data_dir: ./data
server: {listen: "127.0.0.1:0", public_url: "http://127.0.0.1"}
admin: {listen: "127.0.0.1:0"}
assist: {base_url: "http://127.0.0.1:1", token: t, webhook: {auth_token: ` + hookToken + `}}
cad: {adapter: rest, rest: {base_url: "http://127.0.0.1:1/api", poll: {path: "/incidents"}}}
mapping: {incident_id: IncidentNumber}
shadow: {mode: cad}
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func readShadowLines(t *testing.T, path string) []sidecar.ShadowRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	var out []sidecar.ShadowRecord
	for {
		var r sidecar.ShadowRecord
		if err := dec.Decode(&r); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
}

// The shadow file rotates at shadow.max_size, keeping shadow.max_files old files; no line
// is split across two files, and the report over the file and its rotated ones (oldest
// first) counts every line.
func TestShadowFileRotation(t *testing.T) {
	cad := newShadowCAD(t, 8)
	e := start(t, envOptions{cadURL: cad.url, mapping: shadowMapping, edit: func(c *config.Config) {
		shadowEdit(config.ShadowAll, filepath.Join(t.TempDir(), "data"))(c)
		c.Shadow.MaxSize, c.Shadow.MaxFiles = config.KiB, 50
	}})
	waitFor(t, 30*time.Second, "a link line for every open incident", func() bool {
		return e.metric(t, "cad_sidecar_shadow_lines_total", "kind", "link") >= float64(len(cad.open))
	})
	path := sidecar.ShadowPath(e.cfg)
	files := sidecar.ShadowFiles(path)
	if len(files) < 3 || files[len(files)-1] != path || files[len(files)-2] != path+".1" {
		t.Fatalf("rotated files: %v", files)
	}
	total := 0
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600 (it holds note text)", f, st.Mode().Perm())
		}
		if st.Size() > int64(config.KiB) {
			t.Errorf("%s is %d bytes, past max_size 1KiB", f, st.Size())
		}
		total += len(readShadowLines(t, f)) // each file is whole JSON lines
	}
	rep, err := sidecar.ReadShadowReport(files...)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Lines != total || rep.Linked != len(cad.open) || len(rep.BadLines) != 0 ||
		rep.Incidents != len(cad.cad.Incidents()) {
		t.Fatalf("report over %d files: %d lines (%d in the files), %d linked, %d incidents, bad %v",
			len(files), rep.Lines, total, rep.Linked, rep.Incidents, rep.BadLines)
	}
}

// A shadow run of an integration that has a sink does not call itself read-only.
func TestShadowNotReadOnly(t *testing.T) {
	e := start(t, envOptions{edit: shadowEdit(config.ShadowCAD, filepath.Join(t.TempDir(), "data"))})
	waitFor(t, 30*time.Second, "the start line", func() bool { return strings.Contains(e.logs.String(), "sidecar started") })
	if logs := e.logs.String(); strings.Contains(logs, "read-only integration") || !strings.Contains(logs, "sink=shadow-file") {
		t.Fatalf("start logs:\n%s", logs)
	}
}

// A shadow file that cannot be written (a folder in its place) holds the note in the
// outbox, retried, never dead-lettered; once writable the note is there, once. The log
// names the file, never the note's text.
func TestShadowFileUnwritableRetried(t *testing.T) {
	e := start(t, envOptions{logHandler: infoLogs, edit: shadowEdit(config.ShadowCAD, filepath.Join(t.TempDir(), "data"))})
	file := sidecar.ShadowPath(e.cfg)
	mustDo(t, os.Remove(file)) // made by New, which checks it can be written
	mustDo(t, os.MkdirAll(file, 0o700))
	if resp, _ := post(t, e.hookURL, hookToken, noteBody("INC-SH-1", "PATIENT NOT BREATHING")); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
	waitFor(t, 30*time.Second, "three failed attempts", func() bool {
		return e.metric(t, "cad_sidecar_note_write_errors_total", "kind", "transient") >= 3
	})
	if st := e.stats(t); st.Dead[outbox.TopicNote] != 0 || st.Pending[outbox.TopicNote] != 1 {
		t.Fatalf("while unwritable: outbox %+v, want the note pending", st)
	}
	mustDo(t, os.Remove(file))
	waitFor(t, 30*time.Second, "the note in the shadow file once it is writable", func() bool {
		return e.metric(t, "cad_sidecar_shadow_lines_total", "kind", "note") == 1 && e.stats(t).Pending[outbox.TopicNote] == 0
	})
	lines := readShadowLines(t, file)
	if len(lines) != 1 || lines[0].IncidentID != "INC-SH-1" || lines[0].Text != "2026-11-25T10:00:00Z|PATIENT NOT BREATHING" ||
		lines[0].Kind != sidecar.ShadowNote || lines[0].To != "cad" || lines[0].Sink != "rest" || !lines[0].Critical {
		t.Fatalf("shadow file: %+v", lines)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "shadow.jsonl") || !strings.Contains(logs, "writing note to CAD failed") {
		t.Errorf("the log does not say the file could not be written:\n%s", logs)
	}
	if strings.Contains(logs, "NOT BREATHING") {
		t.Fatalf("note text in the log at info:\n%s", logs)
	}
}
