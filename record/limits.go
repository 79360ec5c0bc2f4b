package record

import "fmt"

// Limits bounds what a decoder accepts; input beyond them is an error (ErrTooLarge,
// ErrTooDeep, ErrStringTooLong, ErrTooManyRecords) that names the config key setting the
// limit (mapping.input.max_bytes, ...): nothing is ever truncated. A zero or negative
// field means its default.
type Limits struct {
	MaxBytes   int64 // default 16 MiB: input larger → error
	MaxDepth   int   // default 64: nesting deeper → error (the top-level object/root element is depth 1)
	MaxString  int   // default 1 MiB: one string, key, number, attribute or text longer (in UTF-8 bytes) → error
	MaxRecords int   // default 100,000 (CSV rows / JSON array items)
}

// Defaults.
const (
	defaultMaxBytes   = 16 << 20
	defaultMaxDepth   = 64
	defaultMaxString  = 1 << 20
	defaultMaxRecords = 100_000
)

// DefaultMaxRecords is the record count a Limits of 0 allows (what an adapter that counts
// records itself applies, so that it needs no import of the mapping).
const DefaultMaxRecords = defaultMaxRecords

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultMaxDepth
	}
	if l.MaxString <= 0 {
		l.MaxString = defaultMaxString
	}
	if l.MaxRecords <= 0 {
		l.MaxRecords = defaultMaxRecords
	}
	return l
}

func (l Limits) tooLarge() error {
	return fmt.Errorf("%w: more than %d bytes (mapping.input.max_bytes)", ErrTooLarge, l.MaxBytes)
}

func (l Limits) tooDeep() error {
	return fmt.Errorf("%w: more than %d levels (mapping.input.max_depth)", ErrTooDeep, l.MaxDepth)
}

func (l Limits) stringTooLong() error {
	return fmt.Errorf("%w: more than %d bytes (mapping.input.max_string)", ErrStringTooLong, l.MaxString)
}

func (l Limits) tooManyRecords() error {
	return fmt.Errorf("%w: more than %d (mapping.input.max_records)", ErrTooManyRecords, l.MaxRecords)
}
