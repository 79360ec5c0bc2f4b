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
// Depth is checked before anything deep is allocated: by a scan of the brackets before
// the fast path (encoding/json's Decode of the whole value), else while the value is
// built from the token stream without recursion (the slow path, which also says where
// and why an input is refused).
func DecodeJSON(data []byte, lim Limits) ([]Record, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, jsonError(-1, lim.tooLarge())
	}
	data, _, err := unicodeText(data, false)
	if err != nil {
		return nil, jsonError(-1, err)
	}
	v, ok := fastJSON(data, lim)
	if !ok {
		if v, err = tokenJSON(data, lim); err != nil {
			return nil, err
		}
	}
	return jsonRecords(v)
}

// tokenJSON decodes data from the token stream (buildJSON), and checks that only
// whitespace follows the value.
func tokenJSON(data []byte, lim Limits) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := buildJSON(dec, lim)
	if err != nil {
		return nil, err
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		for end < int64(len(data)) && isJSONSpace(data[end]) {
			end++
		}
		return nil, jsonError(end, errors.New("unexpected data after the top-level value"))
	}
	return v, nil
}

// fastJSON decodes data with one encoding/json Decode (several times faster than the
// token stream) when data is valid, within lim and followed by whitespace only; false
// otherwise (the token path then finds what is wrong). Its value is the token path's.
func fastJSON(data []byte, lim Limits) (any, bool) {
	if jsonDepth(data) > lim.MaxDepth {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	for _, c := range data[dec.InputOffset():] {
		if !isJSONSpace(c) {
			return nil, false
		}
	}
	if a, ok := v.([]any); ok && len(a) > lim.MaxRecords {
		return nil, false
	}
	if !withinStrings(v, lim.MaxString) {
		return nil, false
	}
	return v, true
}

// jsonDepth is the deepest nesting of objects and arrays in data (strings skipped; data
// need not be valid).
func jsonDepth(data []byte) int {
	depth, deepest, inStr, esc := 0, 0, false, false
	for _, c := range data {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// withinStrings reports whether every string, key and number of v is at most max bytes.
func withinStrings(v any, max int) bool {
	switch x := v.(type) {
	case string:
		return len(x) <= max
	case json.Number:
		return len(x) <= max
	case map[string]any:
		for k, e := range x {
			if len(k) > max || !withinStrings(e, max) {
				return false
			}
		}
	case []any:
		for _, e := range x {
			if !withinStrings(e, max) {
				return false
			}
		}
	}
	return true
}

// jsonRecords turns the decoded top-level value into records.
func jsonRecords(v any) ([]Record, error) {
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
