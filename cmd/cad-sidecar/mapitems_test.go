package main

import (
	"strings"
	"testing"
)

// TestMapItems: `map` finds the records of a raw poll answer with --items, or with the
// config's cad.rest.poll.items when the input has it; it warns about a time it could not
// parse; a split note carries its prefix on every part.
func TestMapItems(t *testing.T) {
	dir := t.TempDir()
	const mappingSection = `mapping:
  incident_id: CallNo
  fields:
    - {name: Type, from: CallType}
    - {name: Opened, expr: 'format_time(parse_time(Opened))'}
  note: {max_length: 40}
`
	withItems := writeFile(t, dir, "rest.yaml", "cad:\n  adapter: rest\n  rest:\n    poll: {items: data.calls}\n"+mappingSection)
	plain := writeFile(t, dir, "plain.yaml", mappingSection)
	answer := `{"data": {"calls": [{"CallNo": "A1", "CallType": "FIRE", "Opened": "1/26/2026 9:35:18 AM"}, {"CallNo": "A2", "CallType": "EMS", "Opened": "later"}]}, "page": 1}`
	xmlAnswer := `<Answer><Calls><Call><CallNo>X1</CallNo><CallType>FIRE</CallType></Call></Calls></Answer>`
	note := writeFile(t, dir, "note.json", `{"incidentId": "A1", "note": {"type": "INFO", "critical": true,
		"note": "Caller reports smoke on the second floor, two people inside"}}`)
	for _, tc := range []struct {
		name         string
		cfg          string
		args         []string
		stdin        string
		code         int
		out, errText []string
	}{
		{"--items", plain, []string{"--input", "-", "--items", "data.calls"}, answer, exitOK,
			[]string{`"record": 2`, `"value": "2026-01-26T09:35:18Z"`, `"incidentId": "A2"`}, []string{"record 2: incident A2: warning: time not parsed, left empty: Opened"}},
		{"poll.items from the config", withItems, []string{"--input", "-"}, answer, exitOK,
			[]string{`"incidentId": "A1"`, `"incidentId": "A2"`}, nil},
		{"poll.items not in the input", withItems, []string{"--input", "-"}, `{"CallNo": "B1", "CallType": "FIRE"}`, exitOK,
			[]string{`"incidentId": "B1"`}, []string{`cad.rest.poll.items "data.calls" is not in -: mapping the input itself`}},
		{"--items missing", plain, []string{"--input", "-", "--items", "data.rows"}, answer, exitProblems,
			nil, []string{`--items "data.rows" not found in the input`}},
		{"--items XML one element", plain, []string{"--input", "-", "--items", "Calls.Call"}, xmlAnswer, exitOK,
			[]string{`"incidentId": "X1"`}, nil},
		{"--items not a list", plain, []string{"--input", "-", "--items", "page"}, answer, exitProblems,
			nil, []string{`"page" is not a list of records`}},
		{"--items with CSV", plain, []string{"--input", "-", "--format", "csv", "--items", "x"}, "CallNo\n1\n", exitProblems,
			nil, []string{"--items is for JSON and XML input"}},
		{"without items: the old message", plain, []string{"--input", "-"}, answer, exitProblems,
			nil, []string{`"CallNo" not found in record`}},
		{"split note prefix", plain, []string{"--note", note}, "", exitOK,
			[]string{"[Assist CRITICAL] Caller reports (1/", "\n[Assist CRITICAL] smoke on the (2/"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb strings.Builder
			code := run(append([]string{"map", "--config", tc.cfg}, tc.args...), strings.NewReader(tc.stdin), &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tc.code, out.String(), errb.String())
			}
			for _, w := range tc.out {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.errText {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
		})
	}
}

// TestMapCSVInput: mapping.input.encoding reads a windows-1252 export; without it each row
// that is not UTF-8 is reported (never mapped with U+FFFD) and the exit is 2; a bad row is
// skipped while the others are mapped.
func TestMapCSVInput(t *testing.T) {
	dir := t.TempDir()
	const section = "mapping:\n  incident_id: IncidentNumber\n  fields: [{name: Address, from: Address}]\n"
	cp1252 := writeFile(t, dir, "cp1252.yaml", section+"  input: {encoding: windows-1252}\n")
	plain := writeFile(t, dir, "plain.yaml", section)
	fixture := "../../record/testdata/calls_windows1252.csv"
	bad := writeFile(t, dir, "bad.csv", "IncidentNumber;Address\n1;Main\n2;Oak;extra\n3;Elm\n")
	for _, tc := range []struct {
		name, cfg, input string
		code             int
		out, errText     []string
		notOut           string
	}{
		{"encoding configured", cp1252, fixture, exitOK, []string{`"value": "1200 Calle Niño"`, `"value": "Calle Acuña 7"`}, nil, "\ufffd"},
		{"encoding missing", plain, fixture, exitProblems, nil, []string{"row skipped: record: csv: line 2, column", "not valid UTF-8", "set the input's encoding"}, "Ni"},
		{"bad row", plain, bad, exitProblems, []string{`"incidentId": "1"`, `"incidentId": "3"`}, []string{"row skipped: record: csv: line 3: wrong number of fields"}, `"incidentId": "2"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb strings.Builder
			code := run([]string{"map", "--config", tc.cfg, "--input", tc.input}, strings.NewReader(""), &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tc.code, out.String(), errb.String())
			}
			for _, w := range tc.out {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.errText {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
			if tc.notOut != "" && (strings.Contains(out.String(), tc.notOut) || strings.Contains(errb.String(), tc.notOut) && tc.notOut == "Ni") {
				t.Errorf("output holds %q:\n%s\n%s", tc.notOut, out.String(), errb.String())
			}
		})
	}
}
