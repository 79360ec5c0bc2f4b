package mapping

import (
	"strings"
	"testing"
)

// TestFieldMaxLengthBoundary pins max_length at its edge: a value one character over the
// limit is cut to it, a value at the limit or under it is kept whole.
func TestFieldMaxLengthBoundary(t *testing.T) {
	const limit = 5
	r := decodeRecord(t, []byte(`{"IncidentNumber": 1, "CallTaker": {"Id": 7}}`))
	for _, tc := range []struct {
		name, value, want string
	}{
		{name: "under", value: "abcd", want: "abcd"},
		{name: "at the limit", value: "abcde", want: "abcde"},
		{name: "one over", value: "abcdef", want: "abcde"},
		{name: "one over, multi-byte", value: "äbcdéf", want: "äbcdé"},
		{name: "far over", value: strings.Repeat("x", 50), want: "xxxxx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustCompile(t, base(Field{Name: "F", Value: tc.value, MaxLength: limit}))
			res, err := m.Map(r)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Request.Fields[0].Value; got != tc.want {
				t.Errorf("max_length %d of %q = %q, want %q", limit, tc.value, got, tc.want)
			}
		})
	}
}
