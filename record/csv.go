package record

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DecodeCSV decodes CSV (RFC 4180: comma-separated, fields quoted with '"' may hold
// commas, doubled quotes and newlines) into one record per data row. The first row is the
// header: its names, trimmed of surrounding whitespace, are the keys; an empty or repeated
// name is an error naming the column. Every value is a string, as written. Every row must have as many fields as the header (an error names the
// line). Empty lines are skipped; an empty input or a header alone gives no records.
// A UTF-8 byte order mark is skipped and UTF-16 input with a byte order mark is transcoded.
func DecodeCSV(r io.Reader, lim Limits) ([]Record, error) {
	lim = lim.withDefaults()
	in := bufio.NewReader(&limitedReader{r: r, left: lim.MaxBytes, lim: lim})
	if head, _ := in.Peek(2); bytes.Equal(head, bomUTF16LE) || bytes.Equal(head, bomUTF16BE) {
		data, err := io.ReadAll(in)
		if err != nil {
			return nil, csvError(0, err)
		}
		if data, _, err = unicodeText(data, false); err != nil {
			return nil, csvError(0, err)
		}
		in = bufio.NewReader(bytes.NewReader(data))
	} else if head, _ := in.Peek(len(bomUTF8)); bytes.Equal(head, bomUTF8) {
		// Skipped before the CSV reader sees it: a mark before a quoted header name
		// ("\uFEFF\"Id\"", as Excel and SQL Server write) would be a bare quote.
		_, _ = in.Discard(len(bomUTF8))
	}
	cr := csv.NewReader(in)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = 0 // the header's
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, csvReadError(err, 0)
	}
	keys := make([]string, len(header))
	seen := make(map[string]int, len(header))
	for i, h := range header {
		h = strings.TrimSpace(h)
		if len(h) > lim.MaxString {
			return nil, csvError(1, fmt.Errorf("column %d: header name: %w", i+1, lim.stringTooLong()))
		}
		if h == "" {
			return nil, csvError(1, fmt.Errorf("column %d of the header has an empty name", i+1))
		}
		if j, dup := seen[h]; dup {
			return nil, csvError(1, fmt.Errorf("column %d of the header repeats the name of column %d", i+1, j+1))
		}
		seen[h] = i
		keys[i] = h
	}
	var recs []Record
	for {
		row, err := cr.Read()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return nil, csvReadError(err, len(header))
		}
		line, _ := cr.FieldPos(0)
		if len(recs) == lim.MaxRecords {
			return nil, csvError(line, lim.tooManyRecords())
		}
		rec := make(Record, len(keys))
		for i, v := range row {
			if len(v) > lim.MaxString {
				return nil, csvError(line, fmt.Errorf("column %d: %w", i+1, lim.stringTooLong()))
			}
			rec[keys[i]] = v
		}
		recs = append(recs, rec)
	}
}

func csvError(line int, err error) error {
	return &Error{Format: CSV, Line: line, Offset: -1, Err: err}
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
