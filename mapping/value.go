package mapping

import (
	"encoding/json"

	"github.com/cad-sidecar/cad-sidecar/record"
)

// String renders a value as text without loss (see record.String, where it lives so that
// the adapters can use it without importing the mapping).
func String(v any) string { return record.String(v) }

// isEmpty reports whether v counts as missing for defaults and coalesce: nil or "".
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case json.Number:
		return x == ""
	case []byte:
		return len(x) == 0
	}
	return false
}
