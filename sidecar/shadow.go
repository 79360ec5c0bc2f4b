package sidecar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/mapping"
)

// Shadow mode (shadow.mode, `run --shadow[=cad|all]`) is a go-live rehearsal against the
// production CAD: the CAD is polled and mapped as usual and nothing is written into it.
//
//   - cad: links go to Assist as usual (through the outbox), notes arrive as usual and are
//     rendered and split as usual, and go through the outbox to the shadow sink — a line
//     of the shadow file for each write the CAD would have received.
//   - all: no call to Assist at all (no link, no webhook registration, no notes pull):
//     each LinkIncidentRequest goes through the outbox to the shadow file instead.
//
// Both modes also write a line for each record the mapping filtered out (with the filter)
// and each record it could not map (with the key and field), so that `cad-sidecar shadow
// report` can say what a real run would have done. A shadow run keeps its own data file
// (ShadowStoreFile): its cursor, content hashes and links never become a real run's.
// It cannot go unnoticed: a WARN line at start and every hour, the readiness check
// "shadow" and the gauge cad_sidecar_shadow_mode{mode}.

// ShadowStoreFile is the data file of a shadow run, inside data_dir (StorePath).
const ShadowStoreFile = "sidecar-shadow.db"

// shadowSinkName names the shadow sink in the "sidecar started" line.
const shadowSinkName = "shadow-file"

// shadowTimeLayout is the time of a shadow line: RFC 3339, UTC, milliseconds (fixed width).
const shadowTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// defaultShadowReminder is how often the shadow-mode WARN line is repeated.
const defaultShadowReminder = time.Hour

// Mode is the sidecar's mode as the admin API shows it: "normal", "shadow-cad" or
// "shadow-all".
func (s *Sidecar) Mode() string {
	if s.shadow == nil {
		return "normal"
	}
	return "shadow-" + s.shadow.mode
}

// shadowAll reports whether Assist must not be called at all (shadow.mode all).
func (s *Sidecar) shadowAll() bool { return s.shadow != nil && s.shadow.mode == config.ShadowAll }

// shadowFile writes the shadow file of a shadow-mode sidecar: JSON lines (ShadowRecord),
// each fsynced before the write counts, rotated as the read-only notes file is (noteFile:
// path → path.1 … path.max_files), 0600.
type shadowFile struct {
	mode  string // config.ShadowCAD | config.ShadowAll
	sink  string // the sink adapter the notes would have gone through
	file  *noteFile
	lines *prometheus.CounterVec // kind
	now   func() time.Time
}

// ShadowPath is shadow.file made absolute against data_dir.
func ShadowPath(cfg *config.Config) string {
	p := cfg.Shadow.File
	if p == "" {
		p = "shadow.jsonl"
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(cfg.DataDir, p)
	}
	return p
}

// newShadowFile opens (creating) the shadow file once, so that a shadow-mode sidecar whose
// shadow.file cannot be written refuses to start, naming the key and the file.
func newShadowFile(cfg *config.Config, sinkName string, log *slog.Logger) (*shadowFile, error) {
	path := ShadowPath(cfg)
	maxSize, maxFiles := int64(cfg.Shadow.MaxSize), cfg.Shadow.MaxFiles
	if maxSize <= 0 {
		maxSize = readOnlyDefaultMaxSize
	}
	if maxFiles <= 0 {
		maxFiles = 10
	}
	f := newNoteFile(path, maxSize, maxFiles, log.With("component", "shadow"))
	f.what = "shadow file"
	fh, _, err := f.open()
	if err != nil {
		return nil, fmt.Errorf("shadow.file %s is not writable (shadow mode %s writes what would have been sent there): %w", path, cfg.Shadow.Mode, err)
	}
	if err := fh.Close(); err != nil {
		return nil, fmt.Errorf("shadow.file %s: close: %w", path, err)
	}
	return &shadowFile{mode: cfg.Shadow.Mode, sink: sinkName, file: f, now: time.Now}, nil
}

// write appends one record (its time and mode filled in).
func (f *shadowFile) write(r ShadowRecord) error { return f.writeAll([]ShadowRecord{r}) }

// writeAll appends records in one write and one fsync (a poll's mapping outcomes), each
// with its time and mode filled in; they land in the same file, whole.
func (f *shadowFile) writeAll(rs []ShadowRecord) error {
	if len(rs) == 0 {
		return nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	at := f.now().UTC().Format(shadowTimeLayout)
	for _, r := range rs {
		r.Time, r.Mode = at, f.mode
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("encode the %s line of incident %s: %w", r.Kind, r.IncidentID, err)
		}
	}
	f.file.mu.Lock()
	defer f.file.mu.Unlock()
	if err := f.file.append(b.Bytes()); err != nil {
		return fmt.Errorf("shadow file: %w", err)
	}
	if f.lines != nil {
		for _, r := range rs {
			f.lines.WithLabelValues(r.Kind).Inc()
		}
	}
	return nil
}

// shadowSink is the Sink of a shadow-mode sidecar: each write the CAD would have received
// (one part of a split note) becomes a "note" line of the shadow file.
type shadowSink struct{ f *shadowFile }

// partSuffix is what deliverNote adds to a split note's key: "#i/n".
var partSuffix = regexp.MustCompile(`#([0-9]+)/([0-9]+)$`)

// WriteNote appends n to the shadow file; a failure is transient (the note stays in the
// outbox and is retried), and its message never carries the text.
func (k shadowSink) WriteNote(ctx context.Context, n adapters.Note) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := ShadowRecord{Kind: ShadowNote, To: "cad", Sink: k.f.sink, IncidentID: n.IncidentID, CallID: n.CallID,
		Type: n.Type, Critical: n.Critical, CreatedAt: n.CreatedAt, Key: n.Key, Part: 1, Parts: 1,
		Length: utf8.RuneCountInString(n.Text), Text: n.Text}
	if m := partSuffix.FindStringSubmatch(n.Key); m != nil {
		r.Part, _ = strconv.Atoi(m[1])
		r.Parts, _ = strconv.Atoi(m[2])
	}
	if err := k.f.write(r); err != nil {
		return delivery.Transient(err)
	}
	return nil
}

// shadowLink records a link: sent (mode cad, with the call id Assist gave) or, in mode
// all, the LinkIncidentRequest that would have been sent. A failure is transient.
func (s *Sidecar) shadowLink(req assist.LinkIncidentRequest, callID string) error {
	r := ShadowRecord{Kind: ShadowLink, To: "assist", Sent: callID != "", IncidentID: req.IncidentID, CallID: callID, Request: &req}
	if err := s.shadow.write(r); err != nil {
		return delivery.Transient(err)
	}
	if callID == "" {
		s.log.Info("link written to the shadow file (not sent to Assist)", "incident_id", req.IncidentID)
	}
	return nil
}

// shadowMapped records the records of a poll the mapping filtered out or could not map
// (the hook of takeBatch; nothing in normal mode). A failure fails the poll: the records
// are read again at the next one.
func (s *Sidecar) shadowMapped(changes []Change) error {
	if s.shadow == nil {
		return nil
	}
	var rs []ShadowRecord
	for _, c := range changes {
		switch c.Outcome {
		case Filtered:
			rs = append(rs, ShadowRecord{Kind: ShadowFiltered, IncidentID: c.IncidentID, Filter: c.Reason})
		case Failed:
			rs = append(rs, ShadowRecord{Kind: ShadowMappingError, IncidentID: c.IncidentID, Field: mappingErrorField(c.Err), Error: errString(c.Err)})
		}
	}
	return s.shadow.writeAll(rs) // one fsync per poll
}

// mappingErrorField names what a mapping error is about: the key under mapping, with the
// field's name for fields ("fields[1] (Address)", "incident_id"); "" if not known.
func mappingErrorField(err error) string {
	var me *mapping.Error
	if !errors.As(err, &me) {
		return ""
	}
	if me.Field != "" {
		return me.Key + " (" + me.Field + ")"
	}
	return me.Key
}

// shadowChecks adds the readiness check "shadow" (ok, saying where everything goes) and, in
// mode all, answers the webhook check: nothing is registered on purpose.
func (s *Sidecar) shadowChecks(checks map[string]Check) {
	if s.shadow == nil {
		return
	}
	detail := "shadow mode cad: nothing is written into the CAD; notes go to " + s.shadow.file.path + "; links go to Assist"
	if s.shadow.mode == config.ShadowAll {
		detail = "shadow mode all: nothing is written into the CAD nor sent to Assist; links and notes go to " + s.shadow.file.path
		checks["webhook"] = Check{OK: true, Detail: "shadow mode all: not registered (no call to Assist)"}
	}
	checks["shadow"] = Check{OK: true, Detail: detail}
}

// registerShadow registers cad_sidecar_shadow_mode{mode} (1 for the mode in use, 0 for the
// others: off, cad, all) and cad_sidecar_shadow_lines_total{kind}.
func (s *Sidecar) registerShadow(reg prometheus.Registerer) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "cad_sidecar_shadow_mode",
		Help: "1 for the shadow mode in use (off, cad, all), 0 for the others; cad and all write nothing into the CAD.",
	}, []string{"mode"})
	mode := config.ShadowOff
	if s.shadow != nil {
		mode = s.shadow.mode
	}
	for _, m := range []string{config.ShadowOff, config.ShadowCAD, config.ShadowAll} {
		v := 0.0
		if m == mode {
			v = 1
		}
		g.WithLabelValues(m).Set(v)
	}
	lines := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cad_sidecar_shadow_lines_total",
		Help: "Lines written to the shadow file, by kind (link, note, filtered, mapping_error).",
	}, []string{"kind"})
	for _, k := range []string{ShadowLink, ShadowNote, ShadowFiltered, ShadowMappingError} {
		lines.WithLabelValues(k)
	}
	reg.MustRegister(g, lines)
	if s.shadow != nil {
		s.shadow.lines = lines
	}
}

// warnShadow logs the shadow-mode line: at start and every reminder interval.
func (s *Sidecar) warnShadow(since time.Time) {
	msg := "SHADOW MODE: nothing is written into the CAD; notes go to the shadow file; links go to Assist"
	if s.shadow.mode == config.ShadowAll {
		msg = "SHADOW MODE: nothing is written into the CAD and nothing is sent to Assist; links and notes go to the shadow file"
	}
	s.log.Warn(msg, "mode", s.shadow.mode, "file", s.shadow.file.path, "since", since.UTC().Format(time.RFC3339),
		"report", "cad-sidecar shadow report "+s.shadow.file.path)
}

// remindShadow repeats the shadow-mode WARN line every interval until ctx ends.
func (s *Sidecar) remindShadow(ctx context.Context, every time.Duration, since time.Time) error {
	if every <= 0 {
		every = defaultShadowReminder
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.warnShadow(since)
		}
	}
}
