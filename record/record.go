// Package record turns CAD data in any supported format into the generic record form
// (Record): JSON, XML, CSV (and SQL rows, via FromSQL).
//
// Every decoder is bounded by Limits (input size, nesting depth, string length, record
// count), so hostile input costs at most a bounded amount of time and memory. Errors name
// the format and the position in the input (line, column or byte offset) where one is
// known, never the input's content: a record may hold caller data.
package record

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Record is one CAD incident record in generic form, whatever the CAD's format: JSON objects
// decode to map[string]any with json.Number for numbers, lists to []any. adapters.Record is
// the same type.
type Record = map[string]any

// Format is an input format.
type Format string

// The supported formats.
const (
	JSON Format = "json"
	XML  Format = "xml"
	CSV  Format = "csv"
)

// FormatFromName returns the format for a file name by its extension (.json, .xml, .csv;
// case-insensitive), or false.
func FormatFromName(filename string) (Format, bool) {
	switch strings.ToLower(filepath.Ext(filename)) {
	case ".json":
		return JSON, true
	case ".xml":
		return XML, true
	case ".csv":
		return CSV, true
	}
	return "", false
}

// Options are how a decoder reads its input: the Limits, and for text that does not say
// its own encoding, the encoding and the CSV delimiter.
type Options struct {
	Limits
	// Encoding is the character encoding of input that has no byte order mark (and, for
	// XML, no encoding declaration): any IANA charset name or WHATWG label
	// ("windows-1252", "ISO-8859-1", "Shift_JIS"); "" = UTF-8. JSON is always UTF-8 or
	// UTF-16.
	Encoding string
	// Delimiter is the CSV field delimiter; 0 = detected from the header line.
	Delimiter rune
}

// CheckEncoding reports whether label names an encoding the decoders know.
func CheckEncoding(label string) error {
	_, err := lookupCharset(label)
	return err
}

// Decode is DecodeWith with the Limits alone.
func Decode(f Format, r io.Reader, lim Limits) ([]Record, error) {
	return DecodeWith(f, r, Options{Limits: lim})
}

// DecodeWith reads every record in r: a JSON object → one record; a JSON array of objects
// → one per item; XML → one record (the root element); CSV → one per data row (with a
// *SkippedRows error alongside the records when bad rows were skipped). See DecodeJSON,
// DecodeXMLWith and DecodeCSVWith for the rules of each format.
func DecodeWith(f Format, r io.Reader, o Options) ([]Record, error) {
	lim := o.Limits.withDefaults()
	o.Limits = lim
	switch f {
	case CSV:
		return DecodeCSVWith(r, o)
	case JSON, XML:
	default:
		return nil, fmt.Errorf("record: unknown format %q (want json, xml or csv)", clip(string(f)))
	}
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, &Error{Format: f, Offset: -1, Err: err}
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, &Error{Format: f, Offset: -1, Err: lim.tooLarge()}
	}
	if f == JSON {
		return DecodeJSON(data, lim)
	}
	rec, err := DecodeXMLWith(data, o)
	if err != nil {
		return nil, err
	}
	return []Record{rec}, nil
}

// Errors for input beyond Limits; test with errors.Is.
var (
	ErrTooLarge           = errors.New("input too large")
	ErrTooDeep            = errors.New("nesting too deep")
	ErrStringTooLong      = errors.New("string too long")
	ErrTooManyRecords     = errors.New("too many records")
	ErrUnsupportedCharset = errors.New("unsupported character encoding")
	// ErrInvalidByte is declared in charset.go.
)

// Error is a decoding error: the format, where in the input (when the decoder knows), and
// what is wrong. It never quotes the input's content.
type Error struct {
	Format Format
	Line   int   // 1-based line; 0 = unknown
	Column int   // 1-based column in bytes, where the decoder stopped; 0 = unknown
	Offset int64 // 0-based byte offset (of the UTF-8 text, after any transcoding); -1 = unknown
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("record: ")
	b.WriteString(string(e.Format))
	b.WriteString(": ")
	switch {
	case e.Line > 0 && e.Column > 0:
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Column)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	case e.Offset >= 0:
		fmt.Fprintf(&b, "offset %d: ", e.Offset)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// clip shortens s for an error message (names and labels, never record content).
func clip(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
