package filedrop_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters/adaptertest"
	_ "github.com/cad-sidecar/cad-sidecar/adapters/filedrop"
)

// TestConformance runs the adapter conformance suite against a CAD that is two folders:
// it drops one JSON file per incident change into in/ and reads the notes from out/.
// "Down" is both folders gone (an unreachable share). A folder cannot refuse one
// incident's notes, so the permanent-refusal case is skipped (sink_test.go holds the
// sink's permanent errors).
func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{Adapter: "filedrop", Start: startFolderCAD})
}

type folderCAD struct {
	in, out string
	mu      sync.Mutex
	ids     int
	seq     int
}

func startFolderCAD(t *testing.T, _ adaptertest.Options) adaptertest.CAD {
	root := t.TempDir()
	c := &folderCAD{in: filepath.Join(root, "in"), out: filepath.Join(root, "out")}
	for _, d := range []string{c.in, c.out} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *folderCAD) Section(*testing.T) string {
	return fmt.Sprintf(`inbound: %q
pattern: "*.json"
format: json
stable_for: 200ms
rescan: 1s
outbound: %q
note_format: json
`, c.in, c.out)
}

func (c *folderCAD) Mapping(*testing.T) string {
	return `incident_id: IncidentNumber
fields:
  - {name: Nature, from: Nature, required: true}
  - {name: Status, from: Status}
`
}

// drop writes one incident file (written whole, then renamed: the CAD's own atomicity is
// not what this suite tests).
func (c *folderCAD) drop(t *testing.T, rec map[string]any) {
	t.Helper()
	c.mu.Lock()
	c.seq++
	seq := c.seq
	c.mu.Unlock()
	b, _ := json.Marshal(rec)
	name := fmt.Sprintf("%s-%04d.json", rec["IncidentNumber"], seq)
	tmp := filepath.Join(c.in, name+".part")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.in, name)); err != nil {
		t.Fatal(err)
	}
}

func (c *folderCAD) newID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids++
	return fmt.Sprintf("INC-%04d", c.ids)
}

func (c *folderCAD) Add(t *testing.T) string {
	id := c.newID()
	c.drop(t, map[string]any{"IncidentNumber": id, "Nature": "FIRE", "Status": "OPEN"})
	return id
}

func (c *folderCAD) AddMalformed(t *testing.T) string {
	id := c.newID()
	c.drop(t, map[string]any{"IncidentNumber": id, "Status": "OPEN"})
	return id
}

func (c *folderCAD) Change(t *testing.T, id string) {
	c.mu.Lock()
	s := fmt.Sprintf("S%d", c.seq)
	c.mu.Unlock()
	c.drop(t, map[string]any{"IncidentNumber": id, "Nature": "FIRE", "Status": s})
}

func (c *folderCAD) TakesKey() bool { return true }

func (c *folderCAD) Refuse(*testing.T, string) string { return "" }

// Notes reads out/*.json, in name order (the names sort by the note's time).
func (c *folderCAD) Notes(t *testing.T, id string) []adaptertest.Note {
	files, err := filepath.Glob(filepath.Join(c.out, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var out []adaptertest.Note
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Logf("read %s: %v", f, err)
			continue
		}
		var n struct {
			IncidentID string `json:"incident_id"`
			Text       string `json:"text"`
			Key        string `json:"key"`
		}
		if err := json.Unmarshal(b, &n); err != nil {
			t.Fatalf("%s is not a whole JSON note: %v", f, err)
		}
		if n.IncidentID == id {
			out = append(out, adaptertest.Note{Text: n.Text, Key: n.Key})
		}
	}
	return out
}

func (c *folderCAD) SetDown(t *testing.T, down bool) {
	t.Helper()
	for _, d := range []string{c.in, c.out} {
		from, to := d, d+".down"
		if !down {
			from, to = to, from
		}
		if err := os.Rename(from, to); err != nil {
			t.Fatalf("SetDown(%v): %v", down, err)
		}
	}
}
