package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// DecodeJSON decodes a JSON object (one record) or an array of objects (one record per
// item). Numbers stay exact as json.Number, null is nil, nested objects are
// map[string]any and arrays []any; a repeated key keeps its last value. A UTF-8 byte
// order mark is skipped and UTF-16 with a byte order mark is transcoded. Data after the
// value (other than whitespace) is an error.
//
// The value is built from the token stream without recursion, so depth is checked before
// anything deep is allocated.
func DecodeJSON(data []byte, lim Limits) ([]Record, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, jsonError(-1, lim.tooLarge())
	}
	data, _, err := unicodeText(data, false)
	if err != nil {
		return nil, jsonError(-1, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := buildJSON(dec, lim)
	if err != nil {
		return nil, err
	}
	// Only whitespace may follow the value.
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		for end < int64(len(data)) && isJSONSpace(data[end]) {
			end++
		}
		return nil, jsonError(end, errors.New("unexpected data after the top-level value"))
	}
	switch x := v.(type) {
	case map[string]any:
		return []Record{x}, nil
	case []any:
		recs := make([]Record, len(x))
		for i, item := range x {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, jsonError(-1, fmt.Errorf("item %d of the top-level array is %s, not an object", i, jsonKind(item)))
			}
			recs[i] = m
		}
		return recs, nil
	}
	return nil, jsonError(-1, fmt.Errorf("the top-level value is %s, not an object or an array of objects", jsonKind(v)))
}

type jsonFrame struct {
	obj     map[string]any // nil for an array
	arr     []any
	key     string
	haveKey bool
}

// buildJSON reads one JSON value from dec.
func buildJSON(dec *json.Decoder, lim Limits) (any, error) {
	var stack []jsonFrame
	for {
		tok, err := dec.Token()
		if err != nil {
			var se *json.SyntaxError
			switch {
			case errors.As(err, &se):
				return nil, jsonError(se.Offset, errors.New(se.Error()))
			case err == io.EOF && len(stack) == 0:
				return nil, jsonError(-1, errors.New("no JSON value in the input"))
			case err == io.EOF || err == io.ErrUnexpectedEOF:
				return nil, jsonError(dec.InputOffset(), errors.New("unexpected end of input"))
			}
			return nil, jsonError(dec.InputOffset(), err)
		}
		var v any
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= lim.MaxDepth {
					return nil, jsonError(dec.InputOffset()-1, lim.tooDeep())
				}
				f := jsonFrame{}
				if t == '{' {
					f.obj = map[string]any{}
				}
				stack = append(stack, f)
				continue
			default: // '}' or ']': the decoder has checked that it matches
				top := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if top.obj != nil {
					v = top.obj
				} else if top.arr != nil {
					v = top.arr
				} else {
					v = []any{}
				}
			}
		case string:
			if len(t) > lim.MaxString {
				return nil, jsonError(dec.InputOffset(), lim.stringTooLong())
			}
			if n := len(stack); n > 0 && stack[n-1].obj != nil && !stack[n-1].haveKey {
				stack[n-1].key, stack[n-1].haveKey = t, true
				continue
			}
			v = t
		case json.Number:
			if len(t) > lim.MaxString {
				return nil, jsonError(dec.InputOffset(), lim.stringTooLong())
			}
			v = t
		default: // bool, nil
			v = t
		}
		if len(stack) == 0 {
			return v, nil
		}
		top := &stack[len(stack)-1]
		if top.obj != nil {
			top.obj[top.key] = v
			top.key, top.haveKey = "", false
			continue
		}
		top.arr = append(top.arr, v)
		if len(stack) == 1 && len(top.arr) > lim.MaxRecords {
			return nil, jsonError(dec.InputOffset(), lim.tooManyRecords())
		}
	}
}

func jsonError(off int64, err error) error {
	return &Error{Format: JSON, Offset: off, Err: err}
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
