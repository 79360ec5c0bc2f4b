package rest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"text/template"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/internal/ident"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// Detail calls (cad.rest.poll.detail). A list that holds only ids or summaries is followed,
// for each listed record that is new or changed — by the list's own change marker,
// poll.cursor_field (else the listed record's content) — by one GET of its detail path,
// several at a time; the detail becomes the record (or goes under detail.into).
//
// Per-incident marks (State key detail.marks: identity → marker) say which listed records
// were taken already; they are written only once the batch holding the details is durable,
// so a crash re-fetches, never skips. A detail that fails does not hold up the others nor
// the cursor: its listed record is kept in State (detail.retry) *before* the batch goes to
// the host — so a cursor that moves past it cannot lose it — and fetched again at each
// poll until it succeeds (or, refused for good with a 4xx, after detailGiveUp attempts;
// failing while the CAD answers the other details, after detailGiveUp such polls).
// When every detail of a poll fails, two or more of newly listed records for want of the
// CAD (network, 5xx, 429), the poll fails instead: the CAD is down, and polls back off.
// One failing detail alone never fails a poll (it would fail every poll after it).

const (
	marksKey = "detail.marks"
	retryKey = "detail.retry"
	// detailGiveUp is how many polls a detail the CAD refuses for good (4xx) is tried, and
	// how many polls in which the CAD answered other details one that fails is tried.
	detailGiveUp = 10
	// markSeenEvery: a mark's last-seen time is refreshed at most this often; marks not
	// seen for markKeep are dropped.
	markSeenEvery = time.Hour
	markKeep      = 7 * 24 * time.Hour
)

// mark is what the source last took of one listed record.
type mark struct {
	M string `json:"m"` // the change marker
	S int64  `json:"s"` // last seen, Unix seconds
}

// retryEntry is a listed record whose detail failed.
type retryEntry struct {
	Rec  adapters.Record `json:"rec"`
	N    int             `json:"n"`    // attempts so far
	Perm bool            `json:"perm"` // the last failure was permanent (4xx)
	// S counts the failures in polls where the CAD answered other details: a detail that
	// keeps failing while the others answer is given up after detailGiveUp of them.
	S int `json:"s,omitempty"`
}

// detailer fetches details and keeps the marks.
type detailer struct {
	path   *template.Template
	items  string
	into   string
	conc   int
	format record.Format
	marker func(adapters.Record) string
	ident  func(adapters.Record) (string, bool)
	state  adapters.State
	log    *slog.Logger
	m      *metrics

	loaded bool
	marks  map[string]mark
	retry  map[string]retryEntry
}

// detailData is a listed record as the detail path template sees it: every string, at
// any depth, already path-escaped.
func detailData(v any) any {
	switch x := v.(type) {
	case string:
		return pathEscaped(url.PathEscape(x))
	case json.Number:
		return pathEscaped(url.PathEscape(x.String()))
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = detailData(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = detailData(e)
		}
		return l
	}
	return v
}

// contentMarker is the marker of a list without a change marker: its record's content.
func contentMarker(r adapters.Record) string {
	b, _ := json.Marshal(r) // map keys sorted: stable
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

func (d *detailer) load() error {
	if d.loaded {
		return nil
	}
	d.marks, d.retry = map[string]mark{}, map[string]retryEntry{}
	for key, dst := range map[string]any{marksKey: &d.marks, retryKey: &d.retry} {
		v, ok, err := d.state.Get(key)
		if err != nil {
			return fmt.Errorf("rest: read %s: %w", key, err)
		}
		if ok {
			if err := json.Unmarshal([]byte(v), dst); err != nil {
				d.log.Warn("cad poll: stored detail state unreadable; starting afresh", "key", key, "err", err)
			}
		}
	}
	d.loaded = true
	d.m.retry.Set(float64(len(d.retry)))
	return nil
}

// detailResult is one detail fetched (rec) or failed (err).
type detailResult struct {
	id    string
	list  adapters.Record
	rec   adapters.Record
	err   error
	retry bool // from the retry set
}

// run fetches the details of the listed records that are new or changed, and of the
// failed ones of earlier polls; it returns the records to emit and commit, which stores
// the marks and the retry set once they are durable.
func (d *detailer) run(ctx context.Context, cl *client, listed []adapters.Record) (out []adapters.Record, commit func() error, err error) {
	if err := d.load(); err != nil {
		return nil, nil, err
	}
	now := time.Now()
	// The newest listing of each identity (a shifted list may hold one twice).
	type job struct {
		id    string
		rec   adapters.Record
		retry bool
	}
	var jobs []job
	pos := map[string]int{}
	touched := map[string]bool{} // marks whose seen time is refreshed
	for _, r := range listed {
		id, ok := d.ident(r)
		if !ok {
			d.log.Warn("cad poll: listed record without an identity skipped (check poll.id_field and poll.detail.path)")
			continue
		}
		if m, ok := d.marks[id]; ok && m.M == d.marker(r) {
			if now.Sub(time.Unix(m.S, 0)) > markSeenEvery {
				touched[id] = true
			}
			continue
		}
		if i, dup := pos[id]; dup {
			jobs[i] = job{id: id, rec: r}
			continue
		}
		pos[id] = len(jobs)
		jobs = append(jobs, job{id: id, rec: r})
	}
	for id, e := range d.retry {
		if _, listedNow := pos[id]; !listedNow {
			pos[id] = len(jobs)
			jobs = append(jobs, job{id: id, rec: e.Rec, retry: true})
		}
	}
	results := make([]detailResult, len(jobs))
	sem := make(chan struct{}, max(1, d.conc))
	var wg sync.WaitGroup
	for i, j := range jobs {
		if j.rec == nil {
			continue
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = detailResult{id: j.id, list: j.rec, err: ctx.Err(), retry: j.retry}
				return
			}
			defer func() { <-sem }()
			rec, err := d.fetch(ctx, cl, j.rec)
			results[i] = detailResult{id: j.id, list: j.rec, rec: rec, err: err, retry: j.retry}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}

	newRetry := make(map[string]retryEntry, len(d.retry))
	for id, e := range d.retry {
		newRetry[id] = e
	}
	added := false
	var ok, transient int
	var firstTransient error
	var done []detailResult // emitted, or given up: marked once durable
	answered := false       // the CAD answered some detail in this poll (not an outage)
	for _, r := range results {
		answered = answered || (r.list != nil && r.err == nil)
	}
	for _, r := range results {
		if r.list == nil {
			continue
		}
		if r.err == nil {
			d.m.details.WithLabelValues("ok").Inc()
			ok++
			out = append(out, r.rec)
			done = append(done, r)
			continue
		}
		e := d.retry[r.id]
		e.Rec, e.N, e.Perm = r.list, e.N+1, delivery.IsPermanent(r.err)
		if !e.Perm && !r.retry {
			transient++
			if firstTransient == nil {
				firstTransient = r.err
			}
		}
		if answered {
			e.S++
		}
		if (e.Perm && e.N >= detailGiveUp) || e.S >= detailGiveUp {
			// Marked as taken: not asked again until the list shows it changed.
			d.log.Warn("cad poll: detail given up after "+fmt.Sprint(e.N)+" attempts", "incident_id", ident.ForLog(r.id), "err", r.err)
			d.m.details.WithLabelValues("given_up").Inc()
			delete(newRetry, r.id)
			done = append(done, detailResult{id: r.id, list: r.list})
			continue
		}
		d.m.details.WithLabelValues("failed").Inc()
		if e.N == 1 {
			d.log.Warn("cad poll: detail failed; retried at the next poll", "incident_id", ident.ForLog(r.id), "err", r.err)
		} else {
			d.log.Debug("cad poll: detail failed again", "incident_id", ident.ForLog(r.id), "attempts", e.N, "err", r.err)
		}
		if _, had := d.retry[r.id]; !had {
			added = true
		}
		newRetry[r.id] = e
	}
	if ok == 0 && transient > 1 {
		return nil, nil, fmt.Errorf("every detail failed (%d): %w", transient, firstTransient)
	}
	// The failed ones are kept before the batch goes to the host (its cursor may pass them).
	if added {
		if err := d.saveRetry(newRetry); err != nil {
			return nil, nil, err
		}
	}
	commit = func() error {
		for _, r := range done {
			delete(newRetry, r.id)
			d.marks[r.id] = mark{M: d.marker(r.list), S: now.Unix()}
		}
		for id := range touched {
			m := d.marks[id]
			m.S = now.Unix()
			d.marks[id] = m
		}
		pruned := false
		for id, m := range d.marks {
			if now.Sub(time.Unix(m.S, 0)) > markKeep {
				delete(d.marks, id)
				pruned = true
			}
		}
		var errs []error
		if len(done) > 0 || len(touched) > 0 || pruned {
			b, _ := json.Marshal(d.marks)
			if err := d.state.Put(marksKey, string(b)); err != nil {
				errs = append(errs, fmt.Errorf("rest: store %s: %w", marksKey, err))
			}
		}
		if len(newRetry) > 0 || len(d.retry) > 0 { // attempts counted: small, so stored whole
			errs = append(errs, d.saveRetry(newRetry))
		}
		return errors.Join(errs...)
	}
	d.log.Debug("cad poll: details", "fetched", ok, "failed", len(results)-ok-countNil(results), "unchanged", len(listed)-len(jobs))
	return out, commit, nil
}

func countNil(rs []detailResult) int {
	n := 0
	for _, r := range rs {
		if r.list == nil {
			n++
		}
	}
	return n
}

func (d *detailer) saveRetry(m map[string]retryEntry) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := d.state.Put(retryKey, string(b)); err != nil {
		return fmt.Errorf("rest: store %s: %w", retryKey, err)
	}
	d.retry = m
	d.m.retry.Set(float64(len(m)))
	return nil
}

// fetch GETs the detail of one listed record.
func (d *detailer) fetch(ctx context.Context, cl *client, listed adapters.Record) (adapters.Record, error) {
	path, err := render(d.path, detailData(map[string]any(listed)))
	if err != nil {
		return nil, delivery.Permanentf("rest: poll.detail.path: %w", err)
	}
	if seg, i, ok := dotSegment(path); ok {
		return nil, delivery.Permanentf("rest: poll.detail.path renders to a path whose segment %d is the dot segment %q: not sent", i, seg)
	}
	resp, err := cl.do(ctx, "GET", path, nil, map[string]string{"Accept": accept[d.format]})
	if err != nil {
		return nil, err
	}
	if err := cl.classify(ctx, "GET", path, resp); err != nil {
		return nil, err
	}
	doc, err := decodeDoc(resp.body, d.format, record.Options{})
	if err != nil {
		return nil, delivery.Transient(fmt.Errorf("rest: GET %s: %w", withoutQuery(path), err))
	}
	v := doc
	if d.items != "" {
		var ok bool
		if v, ok = bodyLookup(doc, d.items); !ok {
			return nil, delivery.Permanentf("rest: GET %s: poll.detail.items %q not found in the answer", withoutQuery(path), d.items)
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, delivery.Permanentf("rest: GET %s: the detail is %s, not an object", withoutQuery(path), jsonKind(v))
	}
	if d.into == "" {
		return m, nil
	}
	merged := make(adapters.Record, len(listed)+1)
	for k, x := range listed {
		merged[k] = x
	}
	merged[d.into] = m
	return merged, nil
}
