package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/delivery"
	"github.com/cad-sidecar/cad-sidecar/record"
)

var _ adapters.Source = (*Source)(nil)

// Source polls the CAD's incident list on poll.schedule (adapters.PollSource over Poll).
type Source struct {
	poller      *adapters.Poller
	cl          *client
	path        *template.Template
	items       string
	format      record.Format
	cursorField string
	schedule    string
	tolerance   time.Duration // Deps.CursorTolerance; 0 = no check
	log         *slog.Logger
	input       record.Options // mapping.input (SetInput); zero = the defaults
	pager       *pager
	state       adapters.State // Deps.State: the page position, detail marks
	// identify is a listed record's identity (poll.id_field, or the rendered detail path);
	// nil = records have none.
	identify func(adapters.Record) (string, bool)
	// pending stores what the last poll keeps once its batch is durable (emitted).
	pending func() error
	// detail fetches each new or changed listed record (nil = the list holds the records).
	detail *detailer
	m      *metrics
}

// SetInput sets how the poll answer is decoded: mapping.input's encoding, CSV delimiter
// and limits (mapping.Mapper.Input). Call it before the first Poll.
func (s *Source) SetInput(o record.Options) { s.input = o }

// Schedule is poll.schedule.
func (s *Source) Schedule() string { return s.schedule }

// Run polls until ctx is done (adapters.PollSource): the first poll at once, then on
// poll.schedule, never two at a time.
func (s *Source) Run(ctx context.Context, emit adapters.Emit) error { return s.poller.Run(ctx, emit) }

// Poll fetches the records changed since cursor: every page of the list (pagination.go),
// up to poll.pagination.max_pages. The next cursor is the maximum of poll.cursor_field over
// the records of the whole read and the incoming cursor, leaving out values that read as
// times later than now + Deps.CursorTolerance (adapters.ParseCursorTime: a wrong clock in
// the CAD): the largest of those is reported in Batch.FutureCursor, so the cursor still
// advances over the sane records. A read cut short by max_pages keeps the incoming cursor
// (the next poll goes on from the page it stopped at: resume.go), and so does a read that
// saw a record listed twice (the list shifted between pages: one may have been skipped, so
// the next poll reads it all again). A page that fails fails the poll. CursorKind stays
// unknown: the host guesses too. Errors are classified like the Sink's
// (delivery.IsPermanent / delivery.RetryDelay).
func (s *Source) Poll(ctx context.Context, cursor string) (adapters.Batch, error) {
	s.pending = nil
	first, err := render(s.path, pollData{Cursor: queryEscaped(url.QueryEscape(cursor)), RawCursor: cursor})
	if err != nil {
		return adapters.Batch{}, fmt.Errorf("rest: poll.path: %w", err)
	}
	paged := s.pager.style != pageNone
	seq := &sequence{Since: cursor, Cursor: cursor}
	if paged {
		if seq, err = loadSequence(s.state, cursor); err != nil {
			return adapters.Batch{}, err
		}
	}
	seen := make(map[string]bool, len(seq.IDs))
	for _, id := range seq.IDs {
		seen[id] = true
	}
	var records []adapters.Record
	done := false
	for pages := 0; ; {
		req, err := s.pager.request(first, seq.Pos)
		if err != nil {
			return adapters.Batch{}, fmt.Errorf("rest: poll.path: %w", err)
		}
		pg, full, err := s.fetchPage(ctx, req)
		if err != nil {
			if paged {
				return adapters.Batch{}, fmt.Errorf("page %d: %w", seq.Pages+1, err)
			}
			return adapters.Batch{}, err
		}
		pages++
		seq.Pages++
		s.m.pages.Inc()
		if s.identify != nil && paged {
			// A record of an earlier page listed again: the list shifted between pages. (One
			// listed twice within a page is the CAD's own answer, no shift.)
			var onPage []string
			for _, r := range pg.records {
				if id, ok := s.identify(r); ok {
					if seen[id] {
						seq.Shifted = true
					}
					onPage = append(onPage, id)
				}
			}
			for _, id := range onPage {
				seen[id] = true
			}
			seq.IDs = append(seq.IDs, onPage...)
		}
		records = append(records, pg.records...)
		next, more, err := s.pager.next(full, pg, seq.Pos)
		if err != nil {
			return adapters.Batch{}, delivery.Transient(fmt.Errorf("rest: GET %s (page %d): %w", withoutQuery(req), seq.Pages, err))
		}
		if !more {
			done = true
			break
		}
		seq.Pos = next
		if pages >= s.pager.maxPages() {
			break
		}
	}
	b := adapters.Batch{Records: records, Cursor: cursor}
	before := seq.Cursor
	from, fut, futFrom := s.maxCursor(records, &seq.Cursor)
	b.FutureCursor, b.FutureFrom = fut, futFrom
	var detailCommit func() error
	if s.detail != nil {
		// The batch holds the details, not the listed records: no index names a record.
		if b.Records, detailCommit, err = s.detail.run(ctx, s.cl, records); err != nil {
			return adapters.Batch{}, err
		}
		from, b.FutureFrom = 0, 0
	}
	switch {
	case done && seq.Shifted:
		s.log.Info("cad poll: a record was listed twice while the list was paged (it changed between pages, so one may have been skipped): the cursor stays, the next poll reads the list again",
			"pages", seq.Pages, "records", len(records))
	case done:
		b.Cursor = seq.Cursor
		if seq.Cursor != before {
			b.CursorFrom = from
		}
	}
	var commits []func() error
	if detailCommit != nil {
		commits = append(commits, detailCommit)
	}
	if paged {
		keep := seq
		if done {
			keep = nil
		}
		commits = append(commits, func() error { return saveSequence(s.state, keep) })
	}
	if len(commits) > 0 {
		s.pending = func() error {
			var errs []error
			for _, c := range commits {
				errs = append(errs, c())
			}
			return errors.Join(errs...)
		}
	}
	s.log.Debug("cad poll", "path", withoutQuery(first), "pages", seq.Pages, "records", len(records), "emitted", len(b.Records), "done", done, "cursor", b.Cursor, "future_cursor", b.FutureCursor)
	return b, nil
}

// emitted stores what the last poll keeps for the next (its page position), once its
// batch is durable (adapters.PollOptions.Emitted). Storing fails safe: the next poll reads
// the same pages again.
func (s *Source) emitted(_ context.Context, _ adapters.Batch, emitErr error) {
	p := s.pending
	s.pending = nil
	if p == nil || emitErr != nil {
		return
	}
	if err := p(); err != nil {
		s.log.Warn("cad poll: cannot keep the poll's position; the next poll reads the same records again", "err", err)
	}
}

// maxCursor raises *cur to the largest sane poll.cursor_field value of records and returns
// 1 + the index of the record that gave it (0 = none did), and the largest value later than
// now + tolerance with 1 + its record's index.
func (s *Source) maxCursor(records []adapters.Record, cur *string) (from int, future string, futureFrom int) {
	if s.cursorField == "" {
		return 0, "", 0
	}
	now := time.Now()
	var fut time.Time
	for i, r := range records {
		v, ok := record.Lookup(r, s.cursorField)
		if !ok || v == nil {
			continue
		}
		c := cursorString(v)
		if c == "" {
			continue
		}
		if t, inFuture := adapters.CursorInFuture(c, adapters.CursorUnknown, now, s.tolerance); inFuture {
			if future == "" || t.After(fut) {
				future, futureFrom, fut = c, i+1, t
			}
			continue
		}
		if *cur == "" || compareCursor(c, *cur) > 0 {
			*cur, from = c, i+1
		}
	}
	return from, future, futureFrom
}

// page is one answer of the list.
type page struct {
	records []adapters.Record
	doc     any // the decoded body (nil for CSV)
	header  http.Header
	n       int
}

// fetchPage GETs one page (a path under base_url, or an absolute URL on its host) and
// decodes its records; full is the URL asked.
func (s *Source) fetchPage(ctx context.Context, path string) (pg page, full string, err error) {
	full, err = s.cl.url(path)
	if err != nil {
		return page{}, "", delivery.Permanentf("rest: GET %s: bad URL: %w", withoutQuery(path), err)
	}
	resp, err := s.cl.do(ctx, "GET", path, nil, map[string]string{"Accept": accept[s.format]})
	if err != nil {
		return page{}, "", err
	}
	if err := s.cl.classify(ctx, "GET", path, resp); err != nil {
		return page{}, "", err
	}
	records, doc, err := decodeAnswer(resp.body, s.format, s.items, s.input)
	var skipped *record.SkippedRows
	if errors.As(err, &skipped) {
		// The good rows flow; each bad one is reported by its line (never its content).
		for _, r := range skipped.Rows {
			s.log.Warn("cad poll: CSV row skipped", "path", withoutQuery(path), "line", r.Line, "err", r.Err)
		}
		if more := skipped.Count - len(skipped.Rows); more > 0 {
			s.log.Warn("cad poll: more CSV rows skipped", "path", withoutQuery(path), "count", more)
		}
		err = nil
	}
	if err != nil {
		return page{}, "", fmt.Errorf("rest: GET %s: %w", withoutQuery(path), err)
	}
	return page{records: records, doc: doc, header: resp.header, n: len(records)}, full, nil
}

var accept = map[record.Format]string{
	record.JSON: "application/json",
	record.XML:  "application/xml, text/xml",
	record.CSV:  "text/csv",
}

// decodeRecords decodes body in poll.format and returns the records of the list found at
// the path items ("" = the body itself). JSON numbers stay json.Number; a null list is
// empty. In XML a list element that occurs once is one record; CSV rows are the records.
//
// The records are bounded by in (mapping.input): a list longer than its MaxRecords is
// refused with an error naming mapping.input.max_records, never truncated. CSV rows that
// cannot be read come back as a *record.SkippedRows error together with the other rows.
func decodeRecords(body []byte, format record.Format, items string, in record.Options) ([]adapters.Record, error) {
	recs, _, err := decodeAnswer(body, format, items, in)
	return recs, err
}

// decodeAnswer is decodeRecords that also returns the decoded body (nil for CSV), where
// pagination finds the next page.
func decodeAnswer(body []byte, format record.Format, items string, in record.Options) ([]adapters.Record, any, error) {
	if format == record.CSV {
		recs, err := record.DecodeCSVWith(bytes.NewReader(body), in)
		return recs, nil, err
	}
	doc, err := decodeDoc(body, format, in)
	if err != nil {
		return nil, nil, err
	}
	recs, err := listAt(doc, format, items, in)
	return recs, doc, err
}

// decodeDoc decodes a JSON or XML answer (JSON numbers stay json.Number).
func decodeDoc(body []byte, format record.Format, in record.Options) (any, error) {
	if format == record.XML {
		rec, err := record.DecodeXMLWith(body, in)
		if err != nil {
			return nil, fmt.Errorf("answer is not XML: %w", err)
		}
		return rec, nil
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("answer is not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("answer is not one JSON value")
	}
	return doc, nil
}

// listAt is the record list at items in a decoded answer (see decodeRecords).
func listAt(doc any, format record.Format, items string, in record.Options) ([]adapters.Record, error) {
	list := doc
	if items != "" {
		v, ok := record.Lookup(doc, items)
		if !ok {
			return nil, fmt.Errorf("poll.items %q not found in the answer", items)
		}
		list = v
	}
	if list == nil {
		return nil, nil
	}
	if m, ok := list.(map[string]any); ok && format == record.XML {
		list = []any{m}
	}
	arr, ok := list.([]any)
	if !ok {
		where := "the answer"
		if items != "" {
			where = fmt.Sprintf("poll.items %q", items)
		}
		return nil, fmt.Errorf("%s is %s, not a list", where, jsonKind(list))
	}
	limit := in.MaxRecords
	if limit <= 0 {
		limit = record.DefaultMaxRecords
	}
	if len(arr) > limit {
		return nil, fmt.Errorf("%w: the answer holds %d records, more than %d (mapping.input.max_records): raise it, or have poll.path fetch fewer per poll",
			record.ErrTooManyRecords, len(arr), limit)
	}
	records := make([]adapters.Record, 0, len(arr))
	for i, it := range arr {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("record %d is %s, not an object", i, jsonKind(it))
		}
		records = append(records, m)
	}
	return records, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func cursorString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

// compareCursor compares two cursors as numbers when both are numbers, else as strings
// (RFC 3339 timestamps in one zone compare correctly as strings).
func compareCursor(a, b string) int {
	if x, ok := new(big.Float).SetString(a); ok {
		if y, ok := new(big.Float).SetString(b); ok {
			return x.Cmp(y)
		}
	}
	return strings.Compare(a, b)
}
