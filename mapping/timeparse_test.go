package mapping

import (
	"strings"
	"testing"
	"time"
)

// TestParseTimeFormats: the formats CADs write, read with parse_time's built-in layouts
// (times without a zone in America/New_York).
func TestParseTimeFormats(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tp := &timeParser{loc: ny}
	for _, tc := range []struct {
		in   any
		want string // UTC, RFC 3339 with nanoseconds
	}{
		{"2022-12-03T12:15:32Z", "2022-12-03T12:15:32Z"},
		{"2022-12-03 12:15:32Z", "2022-12-03T12:15:32Z"},
		{"2022-12-03 12:15:32+01:00", "2022-12-03T11:15:32Z"},
		{"2022-12-03T12:15:32-0500", "2022-12-03T17:15:32Z"},
		{"2022-12-03 12:15:32-0500", "2022-12-03T17:15:32Z"},
		{"2022-12-03 12:15:32 -0500", "2022-12-03T17:15:32Z"},
		{"2022-12-03 12:15:32", "2022-12-03T17:15:32Z"},
		{"2022-12-03T12:15:32", "2022-12-03T17:15:32Z"},
		{"2022-12-03 12:15", "2022-12-03T17:15:00Z"},
		{"2026-01-26T09:35:18.4530000-05:00", "2026-01-26T14:35:18.453Z"}, // .NET: 7 digits
		{"2026-01-26 09:35:18.1", "2026-01-26T14:35:18.1Z"},
		{"2026-01-26T09:35:18.123456789123Z", "2026-01-26T09:35:18.123456789Z"}, // 12 digits
		{"1/26/2026 9:35:18 AM", "2026-01-26T14:35:18Z"},
		{"1/26/2026 9:35:18 PM", "2026-01-27T02:35:18Z"},
		{"01/26/2026 09:35:18 pm", "2026-01-27T02:35:18Z"},
		{"1/26/2026 12:05 AM", "2026-01-26T05:05:00Z"},
		{"01/26/2026 21:35:18", "2026-01-27T02:35:18Z"},
		{"1/6/2026 21:35", "2026-01-07T02:35:00Z"},
		{"2026-01-26", "2026-01-26T05:00:00Z"},
		{"20260126093518", "2026-01-26T14:35:18Z"},
		{"20260126", "2026-01-26T05:00:00Z"},
		{"1769420118", "2026-01-26T09:35:18Z"},       // epoch seconds
		{"1769420118.25", "2026-01-26T09:35:18.25Z"}, // with a fraction
		{"1769420118250", "2026-01-26T09:35:18.25Z"}, // epoch milliseconds
		{1769420118, "2026-01-26T09:35:18Z"},         // a number (int, as expressions see JSON integers)
		{float64(1769420118250), "2026-01-26T09:35:18.25Z"},
	} {
		got, err := tp.parse(tc.in, "")
		if err != nil {
			t.Errorf("%v: %v", tc.in, err)
			continue
		}
		if s := got.(time.Time).UTC().Format(time.RFC3339Nano); s != tc.want {
			t.Errorf("%v → %s, want %s", tc.in, s, tc.want)
		}
	}
	for _, bad := range []string{"yesterday", "12345", "123456789012345", "2026-13-01 00:00:00", "26.01.2026 09:35"} {
		if v, err := tp.parse(bad, ""); err == nil {
			t.Errorf("%q → %v, want an error", bad, v)
		} else if _, ok := err.(*TimeError); !ok {
			t.Errorf("%q: error %T, want *TimeError", bad, err)
		}
	}
}

// TestTimeLayoutsConfigured: mapping.time_layouts are tried first, so a European date is
// read as day/month.
func TestTimeLayoutsConfigured(t *testing.T) {
	c := Config{IncidentID: "Id", TimeLayouts: []string{"02/01/2006 15:04"}, Fields: []Field{
		{Name: "Opened", Expr: `format_time(parse_time(Opened))`},
		{Name: "Closed", Expr: `format_time(Closed)`},
	}}
	m := mustCompile(t, c)
	res, err := m.Map(decodeRecord(t, []byte(`{"Id": "1", "Opened": "03/04/2026 10:00", "Closed": "2026-04-03T11:00:00Z"}`)))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Request.Fields[0].Value; got != "2026-04-03T10:00:00Z" {
		t.Errorf("Opened = %q, want 3 April", got)
	}
	if got := res.Request.Fields[1].Value; got != "2026-04-03T11:00:00Z" {
		t.Errorf("Closed = %q (the built-in layouts still apply)", got)
	}

	_, probs := Compile(Config{IncidentID: "Id", TimeLayouts: []string{"2006-01-02", "dd.mm.yyyy"}})
	if len(probs) != 1 || probs[0].Key != "time_layouts[1]" || !strings.Contains(probs[0].Msg, "not a Go time layout") {
		t.Errorf("problems = %v, want time_layouts[1] not a Go time layout", probs)
	}
}

// TestUnparsedTimeOptionalField: a time that cannot be parsed empties an optional field
// (counted in Result.UnparsedTimes and Mapper.UnparsedTimes; default and omit_empty
// apply) and fails a required one; the other fields and records are unaffected.
func TestUnparsedTimeOptionalField(t *testing.T) {
	c := Config{IncidentID: "Id", Fields: []Field{
		{Name: "Opened", Expr: `format_time(parse_time(Opened))`},
		{Name: "Closed", Expr: `format_time(Closed)`, Default: "open"},
		{Name: "Dispatched", Expr: `format_time(parse_time(Dispatched))`, OmitEmpty: true},
		{Name: "Type", From: "Type"},
	}}
	m := mustCompile(t, c)
	bad := decodeRecord(t, []byte(`{"Id": "1", "Opened": "n/a", "Closed": "soon", "Dispatched": "??", "Type": "FIRE"}`))
	res, err := m.Map(bad)
	if err != nil {
		t.Fatalf("Map: %v (an optional field's bad time must not fail the record)", err)
	}
	got := map[string]string{}
	for _, f := range res.Request.Fields {
		got[f.Name] = f.Value
	}
	if got["Opened"] != "" || got["Closed"] != "open" || got["Type"] != "FIRE" {
		t.Errorf("fields = %v", got)
	}
	if _, ok := got["Dispatched"]; ok {
		t.Errorf("Dispatched kept; omit_empty should leave it out")
	}
	if strings.Join(res.UnparsedTimes, ",") != "Opened,Closed,Dispatched" {
		t.Errorf("UnparsedTimes = %v", res.UnparsedTimes)
	}
	good := decodeRecord(t, []byte(`{"Id": "2", "Opened": "2026-01-26 09:35:18Z", "Type": "EMS"}`))
	if res, err := m.Map(good); err != nil || len(res.UnparsedTimes) != 0 {
		t.Fatalf("good record: %v, %v", res.UnparsedTimes, err)
	}
	if n := m.UnparsedTimes(); n != 3 {
		t.Errorf("Mapper.UnparsedTimes = %d, want 3", n)
	}

	c.Fields[0].Required = true
	m = mustCompile(t, c)
	if _, err := m.Map(bad); err == nil || !strings.Contains(err.Error(), "fields[0] (Opened)") || !strings.Contains(err.Error(), "cannot parse") {
		t.Fatalf("required field: err = %v, want a parse error naming fields[0]", err)
	}
	exp, _ := m.Explain(bad)
	if s := exp.String(); !strings.Contains(s, "unparsed time") {
		t.Errorf("explain does not show the unparsed time:\n%s", s)
	}
}
