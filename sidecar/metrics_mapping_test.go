package sidecar_test

import (
	"testing"
	"time"
)

// A CAD time the mapping cannot read leaves its optional field empty and is counted in
// cad_sidecar_mapping_unparsed_times_total (the record is still linked).
func TestUnparsedTimesCounted(t *testing.T) {
	e := start(t, envOptions{mapping: `
mapping:
  incident_id: IncidentNumber
  fields:
    - {name: N, from: IncidentNumber}
    - {name: Reported, expr: 'parse_time("the 3rd of never")'}
`})
	if got := e.metric(t, "cad_sidecar_mapping_unparsed_times_total"); got != 0 {
		t.Fatalf("before any record: %v", got)
	}
	e.cad.AddIncident()
	waitFor(t, 10*time.Second, "the record mapped with its time left empty, counted", func() bool {
		return e.metric(t, "cad_sidecar_mapping_unparsed_times_total") >= 1
	})
	if got := e.metric(t, "cad_sidecar_cad_records_total", "result", "error"); got != 0 {
		t.Errorf("an optional unparsed time failed %v records", got)
	}
}
