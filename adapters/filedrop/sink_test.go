package filedrop_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/adapters/filedrop"
	"github.com/cad-sidecar/cad-sidecar/delivery"
)

func newSink(t *testing.T, format, tmpl string) (*filedrop.Sink, string) {
	t.Helper()
	out := t.TempDir()
	c := filedrop.NewConfig()
	c.Outbound, c.NoteFormat, c.NoteTemplate = out, format, tmpl
	s, err := filedrop.NewSink(c, adapters.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return s, out
}

func note(i int) adapters.Note {
	return adapters.Note{IncidentID: "INC/7", CallID: "c-1", UserID: "u", Type: "INFO", Note: "n",
		Critical: i%2 == 0, CreatedAt: "2026-12-01T16:59:0" + string(rune('0'+i)) + ".123Z",
		Text: `caller <says> "fire" & smoke`, Key: "key-" + string(rune('a'+i))}
}

func listNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestSinkJSONNames: one file per note holding its fields and key; names sort by the
// note's time; the same key gives the same name, so a retry replaces the file.
func TestSinkJSONNames(t *testing.T) {
	s, out := newSink(t, "json", "")
	ctx := context.Background()
	for _, i := range []int{3, 1, 2} {
		if err := s.WriteNote(ctx, note(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WriteNote(ctx, note(1)); err != nil { // a retry of the same note
		t.Fatal(err)
	}
	names := listNames(t, out)
	if len(names) != 3 {
		t.Fatalf("files %v, want 3 (the retry replaced its file)", names)
	}
	if !sort.StringsAreSorted(names) || !strings.HasPrefix(names[0], "20261201T165901.123Z-INC_7-") || !strings.HasSuffix(names[0], ".json") {
		t.Fatalf("names %v: want time-sorted 20261201T165901.123Z-INC_7-<hash>.json", names)
	}
	b, err := os.ReadFile(filepath.Join(out, names[0]))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["key"] != "key-b" || got["incident_id"] != "INC/7" || got["text"] != note(1).Text || got["critical"] != false {
		t.Fatalf("note file = %v", got)
	}
}

// TestSinkXMLAndText: the default templates give well-formed XML and text carrying the
// key; a custom template renders the note data.
func TestSinkXMLAndText(t *testing.T) {
	for _, tt := range []struct{ format, tmpl, ext, want string }{
		{"xml", "", ".xml", "<IdempotencyKey>key-a</IdempotencyKey>"},
		{"text", "", ".txt", "Idempotency-Key: key-a"},
		{"xml", `<Comment incident="{{xml .IncidentID}}" key="{{xml .Key}}">{{xml .Text}}</Comment>`, ".xml",
			`<Comment incident="INC/7" key="key-a">caller &lt;says&gt; &#34;fire&#34; &amp; smoke</Comment>`},
		{"text", "{{.IncidentID}}: {{.Text}}", ".txt", `INC/7: caller <says> "fire" & smoke`},
	} {
		t.Run(tt.format+tt.ext+tt.tmpl, func(t *testing.T) {
			s, out := newSink(t, tt.format, tt.tmpl)
			if err := s.WriteNote(context.Background(), note(0)); err != nil {
				t.Fatal(err)
			}
			names := listNames(t, out)
			if len(names) != 1 || filepath.Ext(names[0]) != tt.ext {
				t.Fatalf("files %v", names)
			}
			b, _ := os.ReadFile(filepath.Join(out, names[0]))
			if !strings.Contains(string(b), tt.want) {
				t.Fatalf("file:\n%s\nwant it to hold %s", b, tt.want)
			}
			if tt.format == "xml" {
				d := xml.NewDecoder(strings.NewReader(string(b)))
				for {
					if _, err := d.Token(); err != nil {
						if err.Error() != "EOF" {
							t.Fatalf("not well-formed: %v", err)
						}
						break
					}
				}
			}
		})
	}
}

// TestSinkFolderMissingIsTransient: an outbound folder that is not there (or cannot be
// written) is transient: the note is retried, never dead-lettered; once the folder is
// back the note is written.
func TestSinkFolderMissingIsTransient(t *testing.T) {
	s, out := newSink(t, "json", "")
	if err := os.Rename(out, out+".away"); err != nil {
		t.Fatal(err)
	}
	err := s.WriteNote(context.Background(), note(0))
	if err == nil || delivery.IsPermanent(err) {
		t.Fatalf("WriteNote with the folder missing = %v, want a transient error", err)
	}
	if strings.Contains(err.Error(), "smoke") {
		t.Fatalf("the error quotes the note: %v", err)
	}
	if err := os.Rename(out+".away", out); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteNote(context.Background(), note(0)); err != nil {
		t.Fatal(err)
	}
	// A file where the folder should be: still transient (an operator fixes it).
	s2, out2 := newSink(t, "json", "")
	_ = os.Remove(out2)
	write(t, out2, "not a folder")
	if err := s2.WriteNote(context.Background(), note(0)); err == nil || delivery.IsPermanent(err) {
		t.Fatalf("WriteNote into a file = %v, want transient", err)
	}
}

// TestSinkTemplateFailureIsPermanent: a note the template cannot render (a branch the
// start-up check did not take) is permanent: retrying cannot help.
func TestSinkTemplateFailureIsPermanent(t *testing.T) {
	s, out := newSink(t, "text", `{{if eq .Type "CALL_COMPLETED"}}{{index .Text 99}}{{end}}{{.Text}}`)
	n := note(0)
	n.Type = "CALL_COMPLETED"
	err := s.WriteNote(context.Background(), n)
	if !delivery.IsPermanent(err) {
		t.Fatalf("WriteNote = %v, want permanent", err)
	}
	if names := listNames(t, out); len(names) != 0 {
		t.Fatalf("files %v left behind", names)
	}
}

// TestSinkAtomic: while notes are written, a reader listing *.json never sees a partial
// file, and the temp files' names never match the note patterns.
func TestSinkAtomic(t *testing.T) {
	for _, p := range []string{"*.json", "*.xml", "*.txt"} {
		if ok, _ := path.Match(p, ".note-123.tmp"); ok {
			t.Fatalf("a temp file name matches %s", p)
		}
	}
	if ok, _ := path.Match(filedrop.TempPattern, ".note-123.tmp"); !ok {
		t.Fatalf("TempPattern %q is not what this test assumes", filedrop.TempPattern)
	}
	s, out := newSink(t, "json", "")
	big := strings.Repeat("x", 256<<10)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var readErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			files, _ := filepath.Glob(filepath.Join(out, "*.json"))
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err == nil && !json.Valid(b) {
					readErr = &os.PathError{Op: "partial", Path: f}
					return
				}
			}
		}
	}()
	for i := range 50 {
		n := note(i % 10)
		n.Key = "k" + strings.Repeat("z", i)
		n.Text = big
		if err := s.WriteNote(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	if readErr != nil {
		t.Fatalf("a reader saw a partial note: %v", readErr)
	}
	for _, n := range listNames(t, out) {
		if strings.HasSuffix(n, ".tmp") {
			t.Fatalf("temp file %s left behind", n)
		}
	}
}
