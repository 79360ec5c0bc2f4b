package filedrop_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/adapters/filedrop"
	"github.com/cad-sidecar/cad-sidecar/config"
)

// TestValidate: each mistake is reported under its key (relative to cad.filedrop).
func TestValidate(t *testing.T) {
	ok := func(c *filedrop.Config) { c.Inbound = "/in" }
	tests := []struct {
		name string
		mod  func(*filedrop.Config)
		key  string // "" = valid
	}{
		{"minimal", ok, ""},
		{"with outbound xml", func(c *filedrop.Config) { ok(c); c.Outbound, c.NoteFormat = "/out", "xml" }, ""},
		{"inbound missing", func(*filedrop.Config) {}, "inbound"},
		{"bad glob", func(c *filedrop.Config) { ok(c); c.Pattern = "[" }, "pattern"},
		{"bad format", func(c *filedrop.Config) { ok(c); c.Format = "yaml" }, "format"},
		{"items with csv", func(c *filedrop.Config) { ok(c); c.Format, c.Items = "csv", "data" }, "items"},
		{"stable_for 0", func(c *filedrop.Config) { ok(c); c.StableFor = 0 }, "stable_for"},
		{"rescan tiny", func(c *filedrop.Config) { ok(c); c.Rescan = time.Millisecond }, "rescan"},
		{"lookback negative", func(c *filedrop.Config) { ok(c); c.Lookback = -time.Hour }, "lookback"},
		{"after", func(c *filedrop.Config) { ok(c); c.After = "archive" }, "after"},
		{"note_format", func(c *filedrop.Config) { ok(c); c.Outbound, c.NoteFormat = "/out", "pdf" }, "note_format"},
		{"template field", func(c *filedrop.Config) { ok(c); c.NoteFormat, c.NoteTemplate = "text", "{{.Nope}}" }, "note_template"},
		{"template syntax", func(c *filedrop.Config) { ok(c); c.NoteFormat, c.NoteTemplate = "text", "{{" }, "note_template"},
		{"xml template malformed", func(c *filedrop.Config) { ok(c); c.NoteFormat, c.NoteTemplate = "xml", "<a>{{.Text}}</a>" }, "note_template"},
		{"json template invalid", func(c *filedrop.Config) { ok(c); c.NoteFormat, c.NoteTemplate = "json", `{"t": {{.Text}}}` }, "note_template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := filedrop.NewConfig()
			tt.mod(c)
			probs := filedrop.Validate(c)
			if tt.key == "" {
				if len(probs) != 0 {
					t.Fatalf("problems %v, want none", probs)
				}
				return
			}
			if len(probs) != 1 || probs[0].Key != tt.key {
				t.Fatalf("problems %v, want one under %q", probs, tt.key)
			}
		})
	}
}

// TestValidateSink: as cad.sink, outbound is required and inbound is not.
func TestValidateSink(t *testing.T) {
	c := filedrop.NewConfig()
	if probs := filedrop.ValidateSink(c); len(probs) != 1 || probs[0].Key != "outbound" {
		t.Fatalf("problems %v, want outbound", probs)
	}
	c.Outbound = "/out"
	if probs := filedrop.ValidateSink(c); len(probs) != 0 {
		t.Fatalf("problems %v", probs)
	}
	f, _ := adapters.Lookup(filedrop.Name)
	if f.NewSink == nil {
		t.Fatal("filedrop has no sink role")
	}
}

// TestConfigFileProblems: through the config loader a mistake names cad.filedrop.<key>
// and its line; a section without outbound builds no Sink (a read-only integration).
func TestConfigFileProblems(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	base := `data_dir: ./data
assist: {base_url: "https://assist.example.com/realtime/v1", token: t, webhook: {auth_token: 0123456789abcdef0123456789abcdef}}
server: {public_url: "https://sidecar.example.org"}
mapping: {incident_id: id}
cad:
  adapter: filedrop
  filedrop:
    inbound: in
`
	if err := os.WriteFile(cfg, []byte(base+"    after: archive\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(cfg, config.Options{Environ: []string{}})
	if err == nil || !strings.Contains(err.Error(), "cad.filedrop.after") || !strings.Contains(err.Error(), ":9") {
		t.Fatalf("Load = %v, want cad.filedrop.after at line 9", err)
	}
	if err := os.WriteFile(cfg, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(cfg, config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := adapters.Lookup(filedrop.Name)
	src, sink, err := f.New(c.CAD.Settings, adapters.Deps{Dir: dir})
	if err != nil || src == nil || sink != nil {
		t.Fatalf("New = %v, %v, %v: want a Source and no Sink", src, sink, err)
	}
}
