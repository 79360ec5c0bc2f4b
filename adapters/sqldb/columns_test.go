package sqldb_test

import (
	"fmt"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters/sqldb"
)

func TestMissingColumns(t *testing.T) {
	cols := []string{"incident_no", "Problem", "comment", "updated"}
	tests := []struct {
		name    string
		groupBy string
		path    string
		want    string // the missing column and its near match, "" = found
	}{
		{"a column", "", "incident_no", ""},
		{"a missing column", "", "priority", "priority|"},
		{"case differs", "", "problem", "problem|Problem"},
		{"into a JSON column", "", "incident_no.x[0]", ""},
		{"a grouped row's column", "incident_no", "rows[0].comment", ""},
		{"a grouped row's missing column", "incident_no", "rows[-1].remark", "remark|"},
		{"rows itself", "incident_no", "rows", ""},
		{"rows without group_by", "", "rows[0].comment", "rows|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			ms := sqldb.MissingColumns(cols, tt.groupBy, []sqldb.Read{{Key: "mapping.fields[0].from", Path: tt.path}})
			if len(ms) > 1 {
				t.Fatalf("%d missing, want at most 1: %v", len(ms), ms)
			}
			if len(ms) == 1 {
				got = ms[0].Column + "|" + ms[0].Near
				if want := fmt.Sprintf("the query's columns do not include %q, which mapping.fields[0].from reads", ms[0].Column); ms[0].Msg()[:len(want)] != want {
					t.Errorf("Msg() = %q", ms[0].Msg())
				}
			}
			if got != tt.want {
				t.Errorf("MissingColumns(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}
