package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/assist"
)

// decodeRecord decodes JSON the way the adapters do: json.Number for numbers.
func decodeRecord(t testing.TB, data []byte) adapters.Record {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var rec adapters.Record
	if err := dec.Decode(&rec); err != nil {
		t.Fatalf("decode record: %v", err)
	}
	return rec
}

func readRecord(t testing.TB, name string) adapters.Record {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return decodeRecord(t, data)
}

func readConfig(t testing.TB, name string) Config {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return c
}

func mustCompile(t testing.TB, c Config) *Mapper {
	t.Helper()
	m, probs := Compile(c)
	if len(probs) > 0 {
		t.Fatalf("Compile: %v", probs)
	}
	return m
}

func TestMapRESTRecordGolden(t *testing.T) {
	m := mustCompile(t, readConfig(t, "rest_mapping.yaml"))
	res, err := m.Map(readRecord(t, "rest_record.json"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Filtered {
		t.Fatalf("filtered: %s", res.Reason)
	}
	data, err := os.ReadFile("testdata/rest_request.json")
	if err != nil {
		t.Fatal(err)
	}
	var want assist.LinkIncidentRequest
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Request, want) {
		got, _ := json.MarshalIndent(res.Request, "", "  ")
		t.Errorf("request mismatch\ngot:\n%s\nwant:\n%s", got, data)
	}
}

// base is a small mapping the table tests extend.
func base(fields ...Field) Config {
	return Config{IncidentID: "IncidentNumber", UserID: "CallTaker.Id", Fields: fields}
}

func TestMap(t *testing.T) {
	const rec = `{"IncidentNumber": 260045123, "CallTaker": {"Id": 7}, "Status": "OPEN", "Pri": "2",
		"PriNum": 2, "Fee": 12.50, "Big": 123456789012345678901234, "Exp": 1e3, "Neg": -0.000001,
		"Units": [{"Id": "E12", "Crew": [{"Name": "Ann"}, {"Name": "Bob"}]}, {"Id": "L4"}],
		"Matrix": [[1, 2], [3, 4]], "Empty": "", "Null": null, "Obj": {"b": 1, "a": "x<y"},
		"Loc": {"Number": 1200, "Street": "Main St"}, "Phone": "+1 (217) 555-0142"}`
	tests := []struct {
		name  string
		field Field
		want  string
	}{
		{"big integer stays exact", Field{From: "IncidentNumber"}, "260045123"},
		{"huge integer stays exact", Field{From: "Big"}, "123456789012345678901234"},
		{"decimal stays exact", Field{From: "Fee"}, "12.50"},
		{"exponent literal kept", Field{From: "Exp"}, "1e3"},
		{"nested path", Field{From: "Units[0].Crew[1].Name"}, "Bob"},
		{"negative index", Field{From: "Units[-1].Id"}, "L4"},
		{"list of lists", Field{From: "Matrix[1][0]"}, "3"},
		{"index out of range is missing", Field{From: "Units[5].Id", Default: "none"}, "none"},
		{"missing path is empty", Field{From: "Nope.Nope"}, ""},
		{"missing path uses default", Field{From: "Nope", Default: "d"}, "d"},
		{"empty string uses default", Field{From: "Empty", Default: "d"}, "d"},
		{"null uses default", Field{From: "Null", Default: "d"}, "d"},
		{"path through a string is missing", Field{From: "Pri.X", Default: "d"}, "d"},
		{"object as compact JSON", Field{From: "Obj"}, `{"a":"x<y","b":1}`},
		{"list as compact JSON", Field{From: "Units[1]"}, `{"Id":"L4"}`},
		{"lookup hit", Field{From: "Pri", Lookup: map[string]string{"1": "High", "2": "Medium"}, Default: "Low"}, "Medium"},
		{"lookup on a number", Field{From: "PriNum", Lookup: map[string]string{"2": "Medium"}}, "Medium"},
		{"lookup miss uses default", Field{From: "Status", Lookup: map[string]string{"1": "High"}, Default: "Low"}, "Low"},
		{"lookup miss without default keeps raw", Field{From: "Status", Lookup: map[string]string{"1": "High"}}, "OPEN"},
		{"lookup of missing value uses default", Field{From: "Nope", Lookup: map[string]string{"1": "High"}, Default: "Low"}, "Low"},
		{"constant", Field{Value: "Springfield"}, "Springfield"},
		{"constant through lookup", Field{Value: "A", Lookup: map[string]string{"A": "Alpha"}}, "Alpha"},
		{"expr concat strings", Field{Expr: `Status + "/" + Pri`}, "OPEN/2"},
		{"expr str of a number", Field{Expr: `str(Loc.Number) + " " + Loc.Street`}, "1200 Main St"},
		{"expr integer arithmetic", Field{Expr: `PriNum + 1`}, "3"},
		{"expr decimal arithmetic", Field{Expr: `Fee * 2`}, "25"},
		{"expr num of string", Field{Expr: `num(Pri) * 1.5`}, "3"},
		{"expr huge integer is a string", Field{Expr: `Big`}, "123456789012345678901234"},
		{"expr small decimal no exponent", Field{Expr: `Neg`}, "-0.000001"},
		{"expr compares numbers", Field{Expr: `PriNum == 2 && Fee > 12`}, "true"},
		{"expr digits", Field{Expr: `digits(Phone)`}, "12175550142"},
		{"expr join with map", Field{Expr: `join(map(Units, .Id), ", ")`}, "E12, L4"},
		{"expr coalesce", Field{Expr: `coalesce(Null, Empty, Nope, Status)`}, "OPEN"},
		{"expr missing variable is nil", Field{Expr: `Nope`, Default: "d"}, "d"},
		{"expr optional chaining", Field{Expr: `Nope?.X ?? "none"`}, "none"},
		{"expr through lookup", Field{Expr: `Status`, Lookup: map[string]string{"OPEN": "Open"}}, "Open"},
		{"expr $env", Field{Expr: `$env["Status"]`}, "OPEN"},
		{"expr $env member number", Field{Expr: `$env.PriNum + 1`}, "3"},
		{"expr $env whole", Field{Expr: `get($env, "PriNum") + 1`}, "3"},
		{"expr member chain number", Field{Expr: `Loc.Number + 1`}, "1201"},
		{"expr index member", Field{Expr: `Loc["Number"] + 2`}, "1202"},
		{"expr list element number", Field{Expr: `Matrix[1][1] * 10`}, "40"},
		{"expr deep chain", Field{Expr: `Units[0].Crew[0].Name + "!"`}, "Ann!"},
		{"expr whole value via let", Field{Expr: `let l = Loc; l.Number - 200`}, "1000"},
		{"expr whole value via function", Field{Expr: `sum(values(Obj) | filter(# == 1))`}, "1"},
		{"expr string member leaves numbers", Field{Expr: `Loc.Street`}, "Main St"},
	}
	r := decodeRecord(t, []byte(rec))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.field.Name = "F"
			m := mustCompile(t, base(tc.field))
			res, err := m.Map(r)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Request.Fields[0].Value; got != tc.want {
				t.Errorf("value = %q, want %q", got, tc.want)
			}
			if res.Request.IncidentID != "260045123" || res.Request.UserID != "7" {
				t.Errorf("ids = %q, %q", res.Request.IncidentID, res.Request.UserID)
			}
		})
	}
	// The record is never modified by expressions.
	if _, ok := r["Fee"].(json.Number); !ok {
		t.Errorf("record modified: Fee is %T", r["Fee"])
	}
}

func TestMapFilter(t *testing.T) {
	tests := []struct {
		filter, rec string
		filtered    bool
		reason      string
	}{
		{`Status != "CLOSED"`, `{"IncidentNumber": 1, "Status": "OPEN"}`, false, ""},
		{`Status != "CLOSED"`, `{"IncidentNumber": 1, "Status": "CLOSED"}`, true, `filter Status != "CLOSED" is false`},
		{`Pri == "1"`, `{"IncidentNumber": 1, "Pri": "1"}`, false, ""},
		{`Pri == "1"`, `{"IncidentNumber": 1, "Pri": "2"}`, true, `filter Pri == "1" is false`},
		{`Pri <= 2`, `{"IncidentNumber": 1, "Pri": 2}`, false, ""},
		{`num(Pri) <= 2`, `{"IncidentNumber": 1, "Pri": "3"}`, true, `filter num(Pri) <= 2 is false`},
		{`Type in ["FIRE", "EMS"]`, `{"IncidentNumber": 1, "Type": "EMS"}`, false, ""},
		{`Flag`, `{"IncidentNumber": 1}`, true, `filter Flag is false`},
		{`  `, `{"IncidentNumber": 1}`, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.filter+" "+tc.rec, func(t *testing.T) {
			c := base(Field{Name: "S", From: "Status"})
			c.Filter = tc.filter
			m := mustCompile(t, c)
			res, err := m.Map(decodeRecord(t, []byte(tc.rec)))
			if err != nil {
				t.Fatal(err)
			}
			if res.Filtered != tc.filtered || res.Reason != tc.reason {
				t.Errorf("Filtered, Reason = %v, %q; want %v, %q", res.Filtered, res.Reason, tc.filtered, tc.reason)
			}
			if res.Filtered && !reflect.DeepEqual(res.Request, assist.LinkIncidentRequest{}) {
				t.Errorf("filtered request is not zero: %+v", res.Request)
			}
			if !res.Filtered && res.Request.IncidentID != "1" {
				t.Errorf("incident id = %q", res.Request.IncidentID)
			}
		})
	}
}

func TestMapErrors(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		rec  string
		key  string
		want []string // substrings of the error text
	}{
		{"missing incident id", base(), `{"Other": 1}`, "incident_id",
			[]string{`incident_id: "IncidentNumber" not found in record`}},
		{"empty incident id", base(), `{"IncidentNumber": ""}`, "incident_id",
			[]string{`incident_id: "IncidentNumber" is empty in record`}},
		{"runtime error names the field",
			base(Field{Name: "Id", From: "IncidentNumber"}, Field{Name: "Address", Expr: `Loc.Number + " " + Loc.Street`}),
			`{"IncidentNumber": 5, "Loc": {"Number": 1200, "Street": "Main St"}}`, "fields[1]",
			[]string{`mapping.fields[1] (Address): `, `int + string`}},
		{"nil member access names the field",
			base(Field{Name: "Street", Expr: `Loc.Street`}), `{"IncidentNumber": 5}`, "fields[0]",
			[]string{`mapping.fields[0] (Street): `, `cannot fetch Street`}},
		{"helper error names the field",
			base(Field{Name: "Pri", Expr: `num(Pri) + 1`}), `{"IncidentNumber": 5, "Pri": "high"}`, "fields[0]",
			[]string{`mapping.fields[0] (Pri): num: "high" is not a number`}},
		{"filter runtime error is an error",
			Config{IncidentID: "IncidentNumber", Filter: `Pri > 2`}, `{"IncidentNumber": 5, "Pri": "3"}`, "filter",
			[]string{`mapping.filter: "Pri > 2": `}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mustCompile(t, tc.c)
			res, err := m.Map(decodeRecord(t, []byte(tc.rec)))
			if err == nil {
				t.Fatalf("no error; result %+v", res)
			}
			var me *Error
			if !errors.As(err, &me) || me.Key != tc.key {
				t.Errorf("error %T %v, want *Error with Key %q", err, err, tc.key)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestIncidentID(t *testing.T) {
	m := mustCompile(t, Config{IncidentID: "Inc.No"})
	if id, ok := m.IncidentID(decodeRecord(t, []byte(`{"Inc": {"No": 260045123}}`))); !ok || id != "260045123" {
		t.Errorf("IncidentID = %q, %v", id, ok)
	}
	if id, ok := m.IncidentID(decodeRecord(t, []byte(`{"Inc": {}}`))); ok {
		t.Errorf("IncidentID of a record without one = %q, true", id)
	}
}

func TestUserIDOptional(t *testing.T) {
	m := mustCompile(t, base())
	res, err := m.Map(decodeRecord(t, []byte(`{"IncidentNumber": "A-1"}`)))
	if err != nil || res.Request.UserID != "" || res.Request.IncidentID != "A-1" {
		t.Errorf("Map = %+v, %v", res, err)
	}
	if res.Request.Fields == nil {
		t.Error("Fields is nil; want an empty list so it encodes as []")
	}
}

func TestMapConcurrent(t *testing.T) {
	m := mustCompile(t, readConfig(t, "rest_mapping.yaml"))
	rec := readRecord(t, "rest_record.json")
	want, err := m.Map(rec)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				got, err := m.Map(rec)
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("concurrent Map = %+v, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestConfigTags(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[Config](), reflect.TypeFor[Field](), reflect.TypeFor[NoteConfig]()} {
		for f := range typ.Fields() {
			k, y := f.Tag.Get("koanf"), f.Tag.Get("yaml")
			if k == "" || k != y {
				t.Errorf("%s.%s: koanf tag %q, yaml tag %q", typ.Name(), f.Name, k, y)
			}
		}
	}
}

func TestSetDefaults(t *testing.T) {
	var c Config
	c.SetDefaults()
	if c.Note.Text != DefaultNoteText {
		t.Errorf("Note.Text = %q", c.Note.Text)
	}
	c.Note.Text = "x"
	c.SetDefaults()
	if c.Note.Text != "x" {
		t.Errorf("SetDefaults overwrote Note.Text: %q", c.Note.Text)
	}
}

// A SQL row arrives with Go types rather than json.Number: int64, float64, []byte, time.Time.
func TestMapSQLRow(t *testing.T) {
	opened := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := adapters.Record{"inc_no": int64(260045123), "pri": int64(1), "amount": 12.5,
		"street": []byte("Main St"), "opened": opened, "closed": nil}
	c := Config{IncidentID: "inc_no", Filter: `pri <= 2 && closed == nil`, Fields: []Field{
		{Name: "Priority", From: "pri", Lookup: map[string]string{"1": "High"}},
		{Name: "Street", Expr: `street + " (" + str(amount) + ")"`},
		{Name: "Opened", From: "opened"},
		{Name: "Year", Expr: `opened.Year()`},
	}}
	res, err := mustCompile(t, c).Map(rec)
	if err != nil || res.Filtered {
		t.Fatalf("Map = %+v, %v", res, err)
	}
	var got []string
	for _, f := range res.Request.Fields {
		got = append(got, f.Value)
	}
	want := []string{"High", "Main St (12.5)", "2026-01-02T03:04:05Z", "2026"}
	if res.Request.IncidentID != "260045123" || !reflect.DeepEqual(got, want) {
		t.Errorf("Map = %q %q, want %q", res.Request.IncidentID, got, want)
	}
}

// A template prints a value as from: and str() do: a SQL row's float64 without an exponent,
// a time in RFC 3339, bytes as text. Record text that reads "<no value>" is kept; a
// missing key is still "".
func TestTemplateRendersLikeFrom(t *testing.T) {
	opened := time.Date(2026, 3, 1, 14, 5, 33, 0, time.UTC)
	rec := adapters.Record{"id": "1", "amount": 1500000.0, "tiny": 0.00001, "opened": opened,
		"raw": []byte("Main St"), "remarks": "caller said <no value> twice", "loc": map[string]any{"n": json.Number("12.50")}}
	c := Config{IncidentID: "id", Fields: []Field{
		{Name: "Amount", Template: "{{.amount}}"},
		{Name: "Tiny", Template: "{{.tiny}}"},
		{Name: "Opened", Template: "{{.opened}}"},
		{Name: "Raw", Template: "{{.raw}}"},
		{Name: "Remarks", Template: "{{.remarks}}"},
		{Name: "Missing", Template: "[{{.nope}}|{{.loc.nope}}|{{.nope.deeper}}]"},
		{Name: "Number", Template: "{{.loc.n}} {{with .loc}}{{.n}}{{end}} {{range $k, $v := .loc}}{{$k}}={{$v}}{{end}}"},
		{Name: "Funcs", Template: `{{json .remarks}} {{.opened.Format "2006"}} {{printf "%.1f" .amount}}`},
	}}
	res, err := mustCompile(t, c).Map(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1500000", "0.00001", "2026-03-01T14:05:33Z", "Main St", "caller said <no value> twice", "[||]",
		"12.50 12.50 n=12.50", `"caller said <no value> twice" 2026 1500000.0`}
	var got []string
	for _, f := range res.Request.Fields {
		got = append(got, f.Value)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
