package filedrop

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// readFile reads one incident file, bounded by the input limits (mapping.input.max_bytes).
func readFile(name string, in record.Options) ([]byte, error) {
	max := in.MaxBytes
	if max <= 0 {
		max = 16 << 20
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes (mapping.input.max_bytes)", record.ErrTooLarge, max)
	}
	return data, nil
}

// decodeFile decodes one file's content into its records: the list at items ("" = the
// file is one record; a JSON array is a list too; CSV: every row), grouped by groupBy. CSV
// rows that cannot be read come back as a *record.SkippedRows error with the other rows.
func decodeFile(data []byte, format record.Format, items, groupBy string, in record.Options) ([]adapters.Record, error) {
	var recs []adapters.Record
	var skipped error
	switch format {
	case record.CSV:
		r, err := record.DecodeCSVWith(bytes.NewReader(data), in)
		var sr *record.SkippedRows
		if err != nil && !errors.As(err, &sr) {
			return nil, err
		}
		recs, skipped = r, err
	case record.XML:
		rec, err := record.DecodeXMLWith(data, in)
		if err != nil {
			return nil, err
		}
		recs = []adapters.Record{rec}
	default:
		r, err := record.DecodeJSON(data, in.Limits)
		if err != nil {
			return nil, err
		}
		recs = r
	}
	if items != "" {
		if len(recs) != 1 {
			return nil, fmt.Errorf("items %q: the file is a list of %d values, not one object", items, len(recs))
		}
		v, ok := record.Lookup(recs[0], items)
		if !ok {
			return nil, fmt.Errorf("items %q not found in the file", items)
		}
		list, err := asRecords(v, items)
		if err != nil {
			return nil, err
		}
		recs = list
	}
	limit := in.MaxRecords
	if limit <= 0 {
		limit = record.DefaultMaxRecords
	}
	if len(recs) > limit {
		return nil, fmt.Errorf("%w: the file holds %d records, more than %d (mapping.input.max_records)", record.ErrTooManyRecords, len(recs), limit)
	}
	if groupBy != "" {
		recs = group(recs, groupBy)
	}
	return recs, skipped
}

// asRecords is the record list v found at items: null is none, one object (XML: an
// element that occurs once) is one record.
func asRecords(v any, items string) ([]adapters.Record, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return []adapters.Record{x}, nil
	case []any:
		out := make([]adapters.Record, 0, len(x))
		for i, it := range x {
			m, ok := it.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("items %q: element %d is not an object", items, i)
			}
			out = append(out, m)
		}
		return out, nil
	}
	return nil, fmt.Errorf("items %q is not a list", items)
}

// group merges the records sharing field col (as cad.sql's poll.group_by): every field of
// the first, and rows, the list of all of them, in order. Records without col stay alone.
func group(recs []adapters.Record, col string) []adapters.Record {
	at := map[string]int{}
	var out []adapters.Record
	for _, r := range recs {
		v, ok := record.Lookup(r, col)
		if ok && v != nil {
			k := fmt.Sprintf("%T:%v", v, v)
			if i, seen := at[k]; seen {
				out[i]["rows"] = append(out[i]["rows"].([]any), map[string]any(r))
				continue
			}
			at[k] = len(out)
		}
		first := make(adapters.Record, len(r)+1)
		for k, x := range r {
			first[k] = x
		}
		first["rows"] = []any{map[string]any(r)}
		out = append(out, first)
	}
	return out
}
