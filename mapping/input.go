package mapping

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cad-sidecar/cad-sidecar/record"
)

// InputConfig is mapping.input: how CAD records are decoded (by the REST adapter's poll,
// `cad-sidecar map` and mapping.sample). Every key is optional.
type InputConfig struct {
	// Encoding is the character encoding of CSV, and of XML that declares none: any IANA
	// charset or WHATWG label ("windows-1252", "ISO-8859-1"); "" = UTF-8. A byte order
	// mark, and an XML declaration, win.
	Encoding string `koanf:"encoding" yaml:"encoding"`
	// CSVDelimiter is the CSV field delimiter: one character, or "tab"; "" = detected from
	// the header line (, ; tab |).
	CSVDelimiter string `koanf:"csv_delimiter" yaml:"csv_delimiter"`
	// MaxBytes is the largest input (a poll answer, a file): a size such as "16MiB",
	// "64MB" or a number of bytes; default DefaultMaxBytes.
	MaxBytes string `koanf:"max_bytes" yaml:"max_bytes"`
	// MaxRecords is the most records in one input (CSV rows, JSON list items); a larger
	// poll is refused with an error naming this key. Default DefaultMaxRecords.
	MaxRecords int `koanf:"max_records" yaml:"max_records"`
	// MaxString is the longest string (a value, key or XML text), as a size; default
	// DefaultMaxString.
	MaxString string `koanf:"max_string" yaml:"max_string"`
	// MaxDepth is the deepest nesting of JSON or XML; default DefaultMaxDepth.
	MaxDepth int `koanf:"max_depth" yaml:"max_depth"`
}

// Defaults of mapping.input (record.Limits' defaults).
const (
	DefaultMaxBytes   = "16MiB"
	DefaultMaxRecords = 100_000
	DefaultMaxString  = "1MiB"
	DefaultMaxDepth   = 64
)

// Input is mapping.input as record decoding options.
func (m *Mapper) Input() record.Options { return m.input }

// compileInput checks mapping.input.
func (cp *compiler) compileInput(c InputConfig) record.Options {
	var o record.Options
	if e := strings.TrimSpace(c.Encoding); e != "" {
		if err := record.CheckEncoding(e); err != nil {
			cp.add("input.encoding", err.Error())
		}
		o.Encoding = e
	}
	switch d := c.CSVDelimiter; {
	case d == "":
	case strings.EqualFold(d, "tab") || d == `\t`:
		o.Delimiter = '\t'
	case utf8.RuneCountInString(d) == 1 && d != `"` && d != "\n" && d != "\r":
		o.Delimiter, _ = utf8.DecodeRuneInString(d)
	default:
		cp.add("input.csv_delimiter", "must be one character (e.g. \";\", \"|\") or \"tab\", got "+strconv.Quote(d))
	}
	size := func(key, v, def string) int64 {
		if strings.TrimSpace(v) == "" {
			v = def
		}
		n, err := parseSize(v)
		if err != nil || n <= 0 {
			cp.add(key, strconv.Quote(v)+" is not a size (e.g. 16MiB, 64MB, 1048576)")
			return 0
		}
		return n
	}
	o.MaxBytes = size("input.max_bytes", c.MaxBytes, DefaultMaxBytes)
	o.MaxString = int(size("input.max_string", c.MaxString, DefaultMaxString))
	if c.MaxRecords < 0 {
		cp.add("input.max_records", "must be 1 or more (0 = the default "+strconv.Itoa(DefaultMaxRecords)+"), got "+strconv.Itoa(c.MaxRecords))
	}
	if c.MaxDepth < 0 {
		cp.add("input.max_depth", "must be 1 or more (0 = the default "+strconv.Itoa(DefaultMaxDepth)+"), got "+strconv.Itoa(c.MaxDepth))
	}
	o.MaxRecords, o.MaxDepth = c.MaxRecords, c.MaxDepth
	if o.MaxRecords <= 0 {
		o.MaxRecords = DefaultMaxRecords
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	return o
}

// parseSize reads "16MiB", "64MB", "1048576" (KiB/MiB/GiB powers of 1024, KB/MB/GB of
// 1000).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > (1<<40)/mult {
		return 0, strconv.ErrRange
	}
	return n * mult, nil
}
