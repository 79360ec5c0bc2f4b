package record

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DecodeCSV is DecodeCSVWith with the Limits alone: UTF-8 (unless a byte order mark says
// otherwise) and the delimiter detected.
func DecodeCSV(r io.Reader, lim Limits) ([]Record, error) {
	return DecodeCSVWith(r, Options{Limits: lim})
}

// DecodeCSVWith decodes CSV (RFC 4180: fields quoted with '"' may hold the delimiter,
// doubled quotes and newlines) into one record per data row.
//
//   - The delimiter is Options.Delimiter, else detected from the header line: the one of
//     ',' ';' tab '|' that occurs most often outside quotes (',' when none does).
//   - The first row is the header: its names, trimmed of surrounding white space, are
//     the keys; an empty name is an error naming the column, repeated names an error
//     naming them.
//   - Every value is a string, as written. Empty lines are skipped; an empty input or a
//     header alone gives no records.
//   - Encoding: a UTF-8 byte order mark is skipped and UTF-16 input with one is
//     transcoded; otherwise the input is UTF-8, or Options.Encoding (any IANA charset or
//     WHATWG label, through golang.org/x/text). A byte not valid in a transcoded
//     encoding is an error naming the line (ErrInvalidByte).
//   - A bad row — a wrong number of fields, a misplaced quote, a value over
//     Limits.MaxString, text that is not valid UTF-8 — is skipped: the records of the
//     other rows are returned together with a *SkippedRows error that names each bad
//     row's line. Any other error (ErrTooLarge, ErrTooManyRecords, the header, an invalid
//     byte in a transcoded encoding) returns no records.
func DecodeCSVWith(r io.Reader, o Options) ([]Record, error) {
	var recs []Record
	err := EachCSV(r, o, func(_ int, rec Record) error {
		recs = append(recs, rec)
		return nil
	})
	var skipped *SkippedRows
	if err != nil && !errors.As(err, &skipped) {
		return nil, err
	}
	return recs, err
}

// EachCSV decodes CSV as DecodeCSVWith does, but hands each record to fn as it is read
// (with the line it starts on) instead of collecting them: a large export is processed
// row by row, in memory bounded by one row (fn may keep the record). An error of fn stops
// the decoding and is returned as is; a *SkippedRows error at the end lists the bad rows.
func EachCSV(r io.Reader, o Options, fn func(line int, rec Record) error) error {
	lim := o.Limits.withDefaults()
	in := bufio.NewReaderSize(&limitedReader{r: r, left: lim.MaxBytes, lim: lim}, 64<<10)
	utf8Input := true
	if head, _ := in.Peek(2); bytes.Equal(head, bomUTF16LE) || bytes.Equal(head, bomUTF16BE) {
		data, err := io.ReadAll(in)
		if err != nil {
			return csvError(0, err)
		}
		if data, _, err = unicodeText(data, false); err != nil {
			return csvError(0, err)
		}
		in = bufio.NewReaderSize(bytes.NewReader(data), 64<<10)
	} else if head, _ := in.Peek(len(bomUTF8)); bytes.Equal(head, bomUTF8) {
		// Skipped before the CSV reader sees it: a mark before a quoted header name
		// ("\uFEFF\"Id\"", as Excel and SQL Server write) would be a bare quote.
		_, _ = in.Discard(len(bomUTF8))
	} else if o.Encoding != "" {
		cs, err := lookupCharset(o.Encoding)
		if err != nil {
			return csvError(0, err)
		}
		if !cs.isUTF8() {
			in = bufio.NewReaderSize(newDecodingReader(in, cs), 64<<10)
			utf8Input = false
		}
	}
	delim := o.Delimiter
	if delim == 0 {
		delim = detectDelimiter(in)
	}
	if !validDelimiter(delim) {
		return csvError(0, fmt.Errorf("delimiter %q cannot be used (a quote, a line break or not one character)", delim))
	}
	cr := csv.NewReader(in)
	cr.Comma = delim
	cr.ReuseRecord = true
	cr.FieldsPerRecord = 0 // the header's
	header, err := cr.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return csvReadError(err, 0)
	}
	keys, err := headerKeys(header, lim)
	if err != nil {
		return err
	}
	n := 0
	var skipped SkippedRows
	for {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return csvReadError(err, len(header))
			}
			skipped.add(csvReadError(err, len(header)).(*Error))
			continue
		}
		line, _ := cr.FieldPos(0)
		if n == lim.MaxRecords {
			return csvError(line, lim.tooManyRecords())
		}
		if bad := checkRow(row, lim, utf8Input); bad >= 0 {
			skipped.add(csvFieldError(cr, bad, row[bad], lim))
			continue
		}
		rec := make(Record, len(keys))
		for i, v := range row {
			rec[keys[i]] = v
		}
		n++
		if err := fn(line, rec); err != nil {
			return err
		}
	}
	if skipped.Count > 0 {
		return &skipped
	}
	return nil
}

// headerKeys checks the header row and returns its trimmed names.
func headerKeys(header []string, lim Limits) ([]string, error) {
	keys := make([]string, len(header))
	seen := make(map[string]int, len(header))
	var dups []string
	for i, h := range header {
		h = strings.TrimSpace(h)
		if len(h) > lim.MaxString {
			return nil, csvError(1, fmt.Errorf("column %d: header name: %w", i+1, lim.stringTooLong()))
		}
		if h == "" {
			return nil, csvError(1, fmt.Errorf("column %d of the header has an empty name", i+1))
		}
		if !utf8.ValidString(h) {
			return nil, csvError(1, fmt.Errorf("column %d of the header is not valid UTF-8: %w", i+1, ErrInvalidByte))
		}
		if j, dup := seen[h]; dup {
			dups = append(dups, fmt.Sprintf("%s (columns %d and %d)", strconv.Quote(clip(h)), j+1, i+1))
		} else {
			seen[h] = i
		}
		keys[i] = h
	}
	if len(dups) > 0 {
		return nil, csvError(1, fmt.Errorf("the header repeats %s: every column needs its own name", strings.Join(dups, ", ")))
	}
	return keys, nil
}

// checkRow returns the index of the first bad field of row (too long, or not UTF-8 when
// the input was not transcoded), or -1.
func checkRow(row []string, lim Limits, checkUTF8 bool) int {
	for i, v := range row {
		if len(v) > lim.MaxString || (checkUTF8 && !utf8.ValidString(v)) {
			return i
		}
	}
	return -1
}

func csvFieldError(cr *csv.Reader, i int, v string, lim Limits) *Error {
	line, col := cr.FieldPos(i)
	if len(v) > lim.MaxString {
		return &Error{Format: CSV, Line: line, Offset: -1, Err: fmt.Errorf("column %d: %w", i+1, lim.stringTooLong())}
	}
	return &Error{Format: CSV, Line: line, Column: col, Offset: -1,
		Err: fmt.Errorf("field %d is not valid UTF-8 (%w): set the input's encoding, e.g. windows-1252", i+1, ErrInvalidByte)}
}

// SkippedRows is the error DecodeCSVWith returns with the records of the good rows when
// it skipped bad ones: Count rows, the first MaxListed of them in Rows (each with its
// line).
type SkippedRows struct {
	Count int
	Rows  []*Error
}

// MaxListed is how many skipped rows SkippedRows lists.
const MaxListed = 20

func (s *SkippedRows) add(e *Error) {
	s.Count++
	if len(s.Rows) < MaxListed {
		s.Rows = append(s.Rows, e)
	}
}

func (s *SkippedRows) Error() string {
	if s.Count == 1 && len(s.Rows) == 1 {
		return s.Rows[0].Error()
	}
	parts := make([]string, len(s.Rows))
	for i, e := range s.Rows {
		parts[i] = strings.TrimPrefix(e.Error(), "record: csv: ")
	}
	more := ""
	if s.Count > len(s.Rows) {
		more = fmt.Sprintf("; and %d more", s.Count-len(s.Rows))
	}
	return fmt.Sprintf("record: csv: %d rows skipped: %s%s", s.Count, strings.Join(parts, "; "), more)
}

// Unwrap gives the listed rows' errors (errors.Is(err, ErrStringTooLong) ...).
func (s *SkippedRows) Unwrap() []error {
	out := make([]error, len(s.Rows))
	for i, e := range s.Rows {
		out[i] = e
	}
	return out
}

// detectDelimiter picks the delimiter from the header line: the most frequent of , ; tab
// | outside quotes (',' when none occurs; ties in that order).
func detectDelimiter(in *bufio.Reader) rune {
	head, _ := in.Peek(in.Size())
	cands := [...]byte{',', ';', '\t', '|'}
	var counts [len(cands)]int
	quoted := false
scan:
	for _, c := range head {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '\n' || c == '\r':
			break scan
		default:
			for i, d := range cands {
				if c == d {
					counts[i]++
				}
			}
		}
	}
	best := 0
	for i := range cands {
		if counts[i] > counts[best] {
			best = i
		}
	}
	return rune(cands[best])
}

func validDelimiter(r rune) bool {
	return r != 0 && r != '"' && r != '\r' && r != '\n' && r != utf8.RuneError && utf8.ValidRune(r)
}

func csvError(line int, err error) error {
	return withLine(&Error{Format: CSV, Line: line, Offset: -1, Err: err})
}

// csvReadError converts an encoding/csv error (whose text names no content).
func csvReadError(err error, fields int) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return csvError(0, err)
	}
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		return csvError(pe.StartLine, fmt.Errorf("wrong number of fields: the header has %d", fields))
	}
	return &Error{Format: CSV, Line: pe.Line, Column: pe.Column, Offset: -1, Err: pe.Err}
}

// limitedReader fails with ErrTooLarge once more than lim.MaxBytes have been read.
type limitedReader struct {
	r    io.Reader
	left int64
	lim  Limits
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, l.lim.tooLarge()
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, l.lim.tooLarge()
	}
	return n, err
}
