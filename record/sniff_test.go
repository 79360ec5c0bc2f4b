package record_test

import (
	"testing"

	"github.com/cad-sidecar/cad-sidecar/record"
)

func TestSniff(t *testing.T) {
	for _, c := range []struct {
		in   string
		want record.Format
		ok   bool
	}{
		{`{"a":1}`, record.JSON, true},
		{"\xef\xbb\xbf \n[{}]", record.JSON, true},
		{"\t<Incident/>", record.XML, true},
		{"IncidentNumber,Status\n1,OPEN\n", "", false},
		{"   ", "", false},
		{"", "", false},
	} {
		f, ok := record.Sniff([]byte(c.in))
		if f != c.want || ok != c.ok {
			t.Errorf("Sniff(%q) = %q, %v; want %q, %v", c.in, f, ok, c.want, c.ok)
		}
	}
}
