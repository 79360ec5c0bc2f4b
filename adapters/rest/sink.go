package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"text/template"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/internal/ident"
)

var _ adapters.Sink = (*Sink)(nil)

// Sink writes notes into CAD incidents, one request per note.
type Sink struct {
	cl          *client
	method      string
	path, body  *template.Template
	contentType string
	log         *slog.Logger
	// defaultPath / defaultBody: the templates are the defaults, rendered without
	// text/template (the note path is hot when a backlog drains).
	defaultPath, defaultBody bool
}

// renderDefaultPath and renderDefaultBody render DefaultNotePath and DefaultNoteBody directly, byte for byte as the
// templates would (TestDefaultTemplatesFastPath).
func renderDefaultPath(n adapters.Note) string {
	return "/incidents/" + url.PathEscape(n.IncidentID) + "/notes"
}

func renderDefaultBody(n adapters.Note) (string, error) {
	var b bytes.Buffer
	b.WriteString(`{"text": `)
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as the json template helper
	if err := enc.Encode(n.Text); err != nil {
		return "", err
	}
	b.Truncate(b.Len() - 1) // Encode's newline
	b.WriteString(`, "critical": ` + strconv.FormatBool(n.Critical) + `}`)
	return b.String(), nil
}

// WriteNote renders write_note.path and write_note.body for n and sends them. It returns
// nil on 2xx; an delivery.Permanent error on other 4xx and on template errors (also when a
// JSON content type gets a body that is not JSON); delivery.Transient (or delivery.RetryAfter
// when the CAD sent Retry-After) on 408, 429, 5xx and network errors. n.Key, when set, is
// sent as the Idempotency-Key header.
func (s *Sink) WriteNote(ctx context.Context, n adapters.Note) error {
	var path, body string
	var err error
	if s.defaultPath {
		path = renderDefaultPath(n)
	} else if path, err = render(s.path, newNotePathData(n)); err != nil {
		return delivery.Permanentf("rest: incident %s: write_note.path: %w", ident.ForLog(n.IncidentID), err)
	}
	if seg, i, ok := dotSegment(path); ok {
		return delivery.Permanentf("rest: incident %s: write_note.path renders to a path whose segment %d is the dot segment %q: the CAD would apply the note to another resource; not sent", ident.ForLog(n.IncidentID), i, seg)
	}
	if s.defaultBody {
		body, err = renderDefaultBody(n)
	} else {
		body, err = render(s.body, n)
	}
	if err != nil {
		return delivery.Permanentf("rest: incident %s: write_note.body: %w", ident.ForLog(n.IncidentID), err)
	}
	if strings.Contains(s.contentType, "json") && strings.TrimSpace(body) != "" && !json.Valid([]byte(body)) {
		return delivery.Permanentf("rest: incident %s: write_note.body did not render to valid JSON (check the escaping: {{json .Text}})", ident.ForLog(n.IncidentID))
	}
	h := map[string]string{"Content-Type": s.contentType}
	if n.Key != "" {
		h["Idempotency-Key"] = n.Key
	}
	resp, err := s.cl.do(ctx, s.method, path, []byte(body), h)
	if err != nil {
		return err
	}
	if err := s.cl.classify(ctx, s.method, path, resp); err != nil {
		return err
	}
	s.log.Debug("note written", "incident_id", n.IncidentID, "call_id", n.CallID, "status", resp.status)
	return nil
}

// dotSegment finds the first "." or ".." segment of a rendered path — raw or
// percent-encoded ("%2e%2E"), in a relative path or the path of an absolute URL — and
// returns it ("." or "..") with its 1-based position. Such a path names another resource
// once the CAD (or a proxy) resolves it: POST /incidents/../notes.
func dotSegment(path string) (string, int, bool) {
	p := withoutQuery(path)
	if i := strings.Index(p, "://"); i >= 0 { // absolute URL: skip scheme and authority
		rest := p[i+3:]
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return "", 0, false
		}
		p = rest[j:]
	}
	for i, seg := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if dec, err := url.PathUnescape(seg); err == nil {
			seg = dec
		}
		if seg == "." || seg == ".." {
			return seg, i + 1, true
		}
	}
	return "", 0, false
}
