package push

import (
	"fmt"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// decode turns a request body into its records: the list at items ("" = the body is one
// record; in JSON also a list of records). In XML a list element that occurs once is one
// record. Errors say what is wrong and where, never the body's content.
func decode(body []byte, c *Config) ([]adapters.Record, error) {
	lim := record.Limits{MaxBytes: int64(c.MaxBody)}
	var doc any
	switch record.Format(c.Format) {
	case record.XML:
		rec, err := record.DecodeXML(body, lim)
		if err != nil {
			return nil, fmt.Errorf("body is not XML: %w", err)
		}
		doc = rec
	default:
		recs, err := record.DecodeJSON(body, lim)
		if err != nil {
			return nil, fmt.Errorf("body is not JSON: %w", err)
		}
		if c.Items == "" {
			return recs, nil
		}
		if len(recs) != 1 {
			return nil, fmt.Errorf("body is a list; items %q wants an object holding the list", c.Items)
		}
		doc = recs[0]
	}
	list := doc
	if c.Items != "" {
		v, ok := record.Lookup(doc, c.Items)
		if !ok {
			return nil, fmt.Errorf("items %q not found in the body", c.Items)
		}
		list = v
	}
	switch l := list.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return []adapters.Record{l}, nil
	case []any:
		out := make([]adapters.Record, 0, len(l))
		for i, it := range l {
			m, ok := it.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("record %d is not an object", i)
			}
			out = append(out, m)
		}
		return out, nil
	}
	return nil, fmt.Errorf("items %q is not a list or an object", c.Items)
}
