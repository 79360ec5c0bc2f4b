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
	"net/url"
	"strings"
	"text/template"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
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
}

// SetInput sets how the poll answer is decoded: mapping.input's encoding, CSV delimiter
// and limits (mapping.Mapper.Input). Call it before the first Poll.
func (s *Source) SetInput(o record.Options) { s.input = o }

// Schedule is poll.schedule.
func (s *Source) Schedule() string { return s.schedule }

// Run polls until ctx is done (adapters.PollSource): the first poll at once, then on
// poll.schedule, never two at a time.
func (s *Source) Run(ctx context.Context, emit adapters.Emit) error { return s.poller.Run(ctx, emit) }

// Poll fetches the records changed since cursor. The next cursor is the maximum of
// poll.cursor_field over the records and the incoming cursor, leaving out values that read
// as times later than now + Deps.CursorTolerance (adapters.ParseCursorTime: a wrong clock
// in the CAD): the largest of those is reported in Batch.FutureCursor, so the cursor still
// advances over the sane records. CursorKind stays unknown: the host guesses too. Errors are classified like
// the Sink's (delivery.IsPermanent / delivery.RetryDelay).
func (s *Source) Poll(ctx context.Context, cursor string) (adapters.Batch, error) {
	path, err := render(s.path, pollData{Cursor: queryEscaped(url.QueryEscape(cursor)), RawCursor: cursor})
	if err != nil {
		return adapters.Batch{}, fmt.Errorf("rest: poll.path: %w", err)
	}
	resp, err := s.cl.do(ctx, "GET", path, nil, map[string]string{"Accept": accept[s.format]})
	if err != nil {
		return adapters.Batch{}, err
	}
	if err := s.cl.classify(ctx, "GET", path, resp); err != nil {
		return adapters.Batch{}, err
	}
	records, err := decodeRecords(resp.body, s.format, s.items, s.input)
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
		return adapters.Batch{}, fmt.Errorf("rest: GET %s: %w", withoutQuery(path), err)
	}
	b := adapters.Batch{Records: records, Cursor: cursor}
	if s.cursorField != "" {
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
			if t, future := adapters.CursorInFuture(c, adapters.CursorUnknown, now, s.tolerance); future {
				if b.FutureCursor == "" || t.After(fut) {
					b.FutureCursor, b.FutureFrom, fut = c, i+1, t
				}
				continue
			}
			if b.Cursor == "" || compareCursor(c, b.Cursor) > 0 {
				b.Cursor, b.CursorFrom = c, i+1
			}
		}
	}
	s.log.Debug("cad poll", "path", path, "records", len(records), "cursor", b.Cursor, "future_cursor", b.FutureCursor)
	return b, nil
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
	var doc any
	switch format {
	case record.CSV:
		return record.DecodeCSVWith(bytes.NewReader(body), in)
	case record.XML:
		rec, err := record.DecodeXMLWith(body, in)
		if err != nil {
			return nil, fmt.Errorf("answer is not XML: %w", err)
		}
		doc = rec
	default:
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("answer is not JSON: %w", err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("answer is not one JSON value")
		}
	}
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
