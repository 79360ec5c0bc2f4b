package mapping

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// A CAD record whose incident id is not a usable id (".", "..", 5,000 characters, invalid
// UTF-8, a control character) is a mapping error naming incident_id — reported and
// skipped — and IncidentID gives it back cut short enough for a log line.
func TestMapRefusesBadIncidentID(t *testing.T) {
	long := strings.Repeat("7", 5000)
	tests := []struct {
		name string
		id   any
		want string
	}{
		{"dot dot", "..", `".." is not an id`},
		{"dot", ".", `"." is not an id`},
		{"5000 characters", long, "5000 bytes, longer than 256"},
		{"5000 digits as a number", json.Number(long), "5000 bytes, longer than 256"},
		{"invalid UTF-8", "inv3\xff", "not valid UTF-8"},
		{"control character", "INC\n1", "control character U+000A"},
	}
	m := mustCompile(t, base())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := map[string]any{"IncidentNumber": tc.id}
			res, err := m.Map(rec)
			if err == nil {
				t.Fatalf("no error; result %+v", res)
			}
			var me *Error
			if !errors.As(err, &me) || me.Key != "incident_id" {
				t.Fatalf("error %T %v, want *Error with Key incident_id", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), `incident_id: "IncidentNumber"`) {
				t.Errorf("error %q, want incident_id: \"IncidentNumber\" … %s", err, tc.want)
			}
			if len(err.Error()) > 200 {
				t.Errorf("error quotes the id: %d bytes", len(err.Error()))
			}
			id, ok := m.IncidentID(rec)
			if ok {
				t.Errorf("IncidentID reports %q as usable", id)
			}
			if len(id) > 300 || !utf8.ValidString(id) {
				t.Errorf("IncidentID gives %d bytes (valid UTF-8 %v) for a log line", len(id), utf8.ValidString(id))
			}
		})
	}
	// An id of 256 bytes is still an id.
	ok256 := strings.Repeat("9", 256)
	if res, err := m.Map(map[string]any{"IncidentNumber": ok256}); err != nil || res.Request.IncidentID != ok256 {
		t.Fatalf("256-byte id: %v", err)
	}
}
