package filedrop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/template"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/internal/tmplfuncs"
)

var _ adapters.Sink = (*Sink)(nil)

// Default note templates (note_template ""); data: adapters.Note.
const (
	DefaultXMLTemplate = `<?xml version="1.0" encoding="UTF-8"?>
<Note>
  <IncidentID>{{xml .IncidentID}}</IncidentID>
  <CallID>{{xml .CallID}}</CallID>
  <UserID>{{xml .UserID}}</UserID>
  <Type>{{xml .Type}}</Type>
  <Critical>{{.Critical}}</Critical>
  <CreatedAt>{{xml .CreatedAt}}</CreatedAt>
  <IdempotencyKey>{{xml .Key}}</IdempotencyKey>
  <Text>{{xml .Text}}</Text>
</Note>
`
	DefaultTextTemplate = `Incident: {{.IncidentID}}
Type: {{.Type}}{{if .Critical}} CRITICAL{{end}}
Created: {{.CreatedAt}}
Idempotency-Key: {{.Key}}

{{.Text}}
`
)

// tempPattern names the temp files of the sink: hidden and ending in .tmp, so a reader of
// *.json, *.xml or *.txt never sees a partial note.
const tempPattern = ".note-*.tmp"

// Sink writes each note as one file into outbound (see the package doc).
type Sink struct {
	dir  string
	ext  string
	json bool // the note fields as JSON (no template)
	tmpl *template.Template
	log  *slog.Logger
}

// noteJSON is a note as note_format json writes it.
type noteJSON struct {
	IncidentID string `json:"incident_id"`
	CallID     string `json:"call_id"`
	UserID     string `json:"user_id,omitempty"`
	Type       string `json:"type"`
	Critical   bool   `json:"critical"`
	CreatedAt  string `json:"created_at"`
	Key        string `json:"key"`
	Note       string `json:"note"`
	Text       string `json:"text"` // the rendered mapping.note.text
}

func newSink(c *Config, deps adapters.Deps) (*Sink, error) {
	t, err := parseNoteTemplate(c.NoteFormat, c.NoteTemplate)
	if err != nil {
		return nil, fmt.Errorf("filedrop: note_template: %w", err)
	}
	ext := map[string]string{"json": ".json", "xml": ".xml", "text": ".txt"}[c.NoteFormat]
	return &Sink{dir: deps.Path(c.Outbound), ext: ext, json: t == nil, tmpl: t,
		log: deps.Log().With("adapter", Name)}, nil
}

// parseNoteTemplate parses note_template (or the format's default; nil for json without
// one) and runs it on a sample note, so a misspelt field fails at start-up. A json
// template must render valid JSON, an xml one well-formed XML.
func parseNoteTemplate(format, text string) (*template.Template, error) {
	if text == "" {
		switch format {
		case "json":
			return nil, nil
		case "xml":
			text = DefaultXMLTemplate
		default:
			text = DefaultTextTemplate
		}
	}
	t, err := template.New("note_template").Funcs(tmplfuncs.Funcs()).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	sample := adapters.Note{IncidentID: "1", CallID: "c", UserID: "u", Type: "INFO", Note: `n <&> "q"`,
		CreatedAt: "2006-01-02T15:04:05Z", Text: `t <&> "q"`, Key: "k"}
	var b bytes.Buffer
	if err := t.Execute(&b, sample); err != nil {
		return nil, err
	}
	if err := checkRendered(format, b.Bytes()); err != nil {
		return nil, fmt.Errorf("on a sample note: %w", err)
	}
	return t, nil
}

// checkRendered checks that a rendered note is valid in its format.
func checkRendered(format string, b []byte) error {
	switch format {
	case "json":
		if !json.Valid(b) {
			return errors.New("renders invalid JSON (use {{json .Text}} for values)")
		}
	case "xml":
		d := xml.NewDecoder(bytes.NewReader(b))
		for {
			_, err := d.Token()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("renders malformed XML (use {{xml .Text}} for values): %v", err)
			}
		}
	}
	return nil
}

// WriteNote writes n as one file in outbound, atomically; the same key gives the same
// file name, so a retry replaces the file rather than adding one.
func (s *Sink) WriteNote(ctx context.Context, n adapters.Note) error {
	if err := ctx.Err(); err != nil {
		return delivery.Transient(err)
	}
	body, err := s.render(n)
	if err != nil {
		return delivery.Permanent(fmt.Errorf("filedrop: note for incident %s: %w", n.IncidentID, err))
	}
	name := NoteFileName(n, s.ext)
	if err := writeAtomic(s.dir, name, body); err != nil {
		return delivery.Transient(fmt.Errorf("filedrop: write note %s: %w", filepath.Join(s.dir, name), err))
	}
	s.log.Debug("note written", "incident_id", n.IncidentID, "file", name, "bytes", len(body))
	return nil
}

func (s *Sink) render(n adapters.Note) ([]byte, error) {
	if s.json {
		b, err := json.MarshalIndent(noteJSON{IncidentID: n.IncidentID, CallID: n.CallID, UserID: n.UserID, Type: n.Type,
			Critical: n.Critical, CreatedAt: n.CreatedAt, Key: n.Key, Note: n.Note, Text: n.Text}, "", "  ")
		return append(b, '\n'), err
	}
	var b bytes.Buffer
	if err := s.tmpl.Execute(&b, n); err != nil {
		return nil, fmt.Errorf("note_template: %w", err)
	}
	return b.Bytes(), nil
}

// NoteFileName is the name of n's file: its time (UTC, milliseconds; the zero time when
// CreatedAt is not RFC 3339), its incident id made safe for a file name (at most 64
// characters) and a hash of its idempotency key — so names sort by time and the same key
// always gives the same name.
func NoteFileName(n adapters.Note, ext string) string {
	var at time.Time
	if t, err := time.Parse(time.RFC3339Nano, n.CreatedAt); err == nil {
		at = t.UTC()
	}
	key := n.Key
	if key == "" {
		key = n.IncidentID + "\x00" + n.CreatedAt + "\x00" + n.Text
	}
	h := sha256.Sum256([]byte(key))
	return at.Format("20060102T150405.000Z") + "-" + safeName(n.IncidentID) + "-" + hex.EncodeToString(h[:8]) + ext
}

// safeName keeps letters, digits, '-', '_' and '.' (not first) of s, replaces the rest
// with '_' and cuts it to 64 bytes.
func safeName(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.' && i > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// writeAtomic writes data to dir/name: a temp file in dir, fsynced, renamed over name, and
// dir fsynced, so a reader sees the whole file or none, even after a power cut.
func writeAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs a folder so a rename in it is durable (Windows cannot open a folder
// for fsync: there the rename alone is done).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("fsync folder: %w", err)
	}
	return nil
}
