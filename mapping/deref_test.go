package mapping

import "testing"

// TestDeref: deref finds a component by its $id (or any key) wherever it is in the list,
// from an id, a {"$ref": id} object or a list of them.
func TestDeref(t *testing.T) {
	const rec = `{"Id": "1",
		"call": {"locationReference": [{"$ref": "loc-b"}, {"$ref": "loc-a"}], "agency": {"$ref": "ag-1"}, "unit": "E12"},
		"locations": [{"$id": "loc-a", "city": "Dover"}, {"$id": "loc-b", "city": "Wilmington"}],
		"agency": {"$id": "ag-1", "name": "State Police"},
		"units": [{"code": "L4", "crew": 3}, {"code": "E12", "crew": 4}],
		"nums": [{"$id": 7, "v": "seven"}]}`
	for _, tc := range []struct{ expr, want string }{
		{`deref(locations, call.locationReference[0]).city`, "Wilmington"},
		{`deref(locations, call.locationReference[1]).city`, "Dover"},
		{`deref(locations, call.locationReference).city`, "Wilmington"}, // a list: its first
		{`deref(locations, "loc-a").city`, "Dover"},
		{`deref(agency, call.agency).name`, "State Police"}, // one map is a list of one
		{`deref(units, call.unit, "code").crew`, "4"},
		{`deref(nums, "7").v`, "seven"}, // compared as text
		{`deref(locations, "nope")?.city ?? "none"`, "none"},
		{`deref(Missing, "loc-a") ?? "none"`, "none"},
		{`deref(locations, nil) ?? "none"`, "none"},
	} {
		m := mustCompile(t, Config{IncidentID: "Id", Fields: []Field{{Name: "F", Expr: tc.expr}}})
		res, err := m.Map(decodeRecord(t, []byte(rec)))
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if got := res.Request.Fields[0].Value; got != tc.want {
			t.Errorf("%s = %q, want %q", tc.expr, got, tc.want)
		}
	}
}
