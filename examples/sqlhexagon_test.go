package examples_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

// TestSQLHexagonEndToEnd runs the sidecar in-process with the sql-hexagon example against
// a real PostgreSQL loaded with its schema.sql and the simulated Assist: the three open
// agency events are linked (two of them share one common event; the closed one is not),
// and Assist's notes land in evcom as comment lines by ASSIST, each once, after the CAD's
// own lines, with a DTS in the CAD's zone.
func TestSQLHexagonEndToEnd(t *testing.T) {
	e := startSQLExample(t, "sql-hexagon", "postgres://assist_reader@icad-reporting.local:5432/icad?sslmode=require", false)
	const notes = 9 // three open agency events, each 2 INFO notes + 1 CALL_COMPLETED
	count := func() int {
		var n int
		if err := e.db.QueryRow("SELECT COUNT(*) FROM evcom WHERE cpers = 'ASSIST'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitUntil(t, fmt.Sprintf("%d Assist notes in evcom", notes), func() bool { return count() >= notes })

	links := e.as.Links()
	if len(links) != 3 || links["GFD26000123"] == "" || links["GPD26000456"] == "" || links["GEMS26000789"] == "" {
		t.Fatalf("links = %v, want the three open agency events", links)
	}
	req, _ := e.as.LastLink("GFD26000123")
	got := map[string]string{}
	for _, f := range req.Fields {
		got[f.Name] = f.Value
	}
	if got["Comments"] != "SMOKE SHOWING 2ND FLOOR / CALLER AND FAMILY OUTSIDE" || got["Created"] != "2026-03-05T14:58:42Z" {
		t.Errorf("GFD26000123 fields = %v", got)
	}
	if req, _ := e.as.LastLink("GEMS26000789"); len(req.Fields) == 0 {
		t.Errorf("GEMS26000789 linked without fields")
	} else {
		for _, f := range req.Fields {
			if f.Name == "Comments" || f.Name == "Caller" {
				t.Errorf("GEMS26000789 has %s %q; its NULL value must be left out (omit_empty)", f.Name, f.Value)
			}
		}
	}

	rows, err := e.db.Query(`SELECT eid, COUNT(*), MIN(lin_num), COUNT(DISTINCT assist_key),
		SUM(CASE WHEN comm LIKE '[Assist%' THEN 1 ELSE 0 END), MIN(cdts), MAX(cdts)
		FROM evcom WHERE cpers = 'ASSIST' GROUP BY eid ORDER BY eid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	dts := regexp.MustCompile(`^20\d{12}E[SD]$`)
	var perEvent string
	for rows.Next() {
		var eid, n, minLine, keys, rendered int
		var minDTS, maxDTS string
		if err := rows.Scan(&eid, &n, &minLine, &keys, &rendered, &minDTS, &maxDTS); err != nil {
			t.Fatal(err)
		}
		if keys != n || rendered != n || !dts.MatchString(minDTS) || !dts.MatchString(maxDTS) {
			t.Errorf("event %d: %d notes, %d keys, %d rendered, DTS %s..%s", eid, n, keys, rendered, minDTS, maxDTS)
		}
		if eid == 9001 && minLine < 3 {
			t.Errorf("event 9001: an Assist line numbered %d, before the CAD's lines 1 and 2", minLine)
		}
		perEvent += fmt.Sprintf("%d:%d ", eid, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if perEvent != "9001:6 9002:3 " {
		t.Errorf("Assist notes per common event = %q, want 9001:6 (fire and police) 9002:3", perEvent)
	}

	// A change to an agency event moves the view's last_updated: the record is read again
	// and, changed, linked again.
	before := e.as.LinkRequests()
	if _, err := e.db.Exec(`UPDATE agency_event SET priority = 1, udts = $1 WHERE num_1 = 'GEMS26000789'`,
		time.Date(2026, 3, 5, 10, 5, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the changed agency event GEMS26000789 was not linked again", func() bool { return e.as.LinkRequests() > before })
	req, _ = e.as.LastLink("GEMS26000789")
	for _, f := range req.Fields {
		if f.Name == "Priority" && f.Value != "P1 Emergency" {
			t.Errorf("re-linked GEMS26000789 with Priority %q", f.Value)
		}
	}
}
