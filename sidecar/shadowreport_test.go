package sidecar_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// The report of a shadow file: counts, and one bad line — in the middle, or the last one
// cut short — reported with its line number while the rest is counted.
func TestShadowReportLines(t *testing.T) {
	const (
		link1    = `{"time":"2026-12-01T10:00:00Z","mode":"cad","kind":"link","to":"assist","sent":true,"incident_id":"A","call_id":"c1"}`
		link2    = `{"time":"2026-12-01T10:00:01Z","mode":"cad","kind":"link","to":"assist","sent":true,"incident_id":"B","call_id":"c2"}`
		relink   = `{"time":"2026-12-01T10:00:05Z","mode":"cad","kind":"link","to":"assist","sent":true,"incident_id":"A","call_id":"c1"}`
		note1    = `{"time":"2026-12-01T10:00:02Z","mode":"cad","kind":"note","to":"cad","incident_id":"A","call_id":"c1","type":"INFO","critical":true,"key":"k1","part":1,"parts":1,"length":12,"text":"Dog on scene"}`
		part1    = `{"time":"2026-12-01T10:00:03Z","mode":"cad","kind":"note","to":"cad","incident_id":"A","key":"k2#1/2","part":1,"parts":2,"length":40,"text":"x"}`
		part2    = `{"time":"2026-12-01T10:00:03Z","mode":"cad","kind":"note","to":"cad","incident_id":"A","key":"k2#2/2","part":2,"parts":2,"length":7,"text":"y"}`
		again    = part2 // written again after a crash: counted once
		filtered = `{"time":"2026-12-01T10:00:04Z","mode":"cad","kind":"filtered","incident_id":"C","filter":"filter Status != \"CLOSED\" is false"}`
		failed   = `{"time":"2026-12-01T10:00:04Z","mode":"cad","kind":"mapping_error","incident_id":"D","field":"fields[1] (Nature)","error":"mapping.fields[1] (Nature): required"}`
		noID     = `{"time":"2026-12-01T10:00:04Z","mode":"cad","kind":"mapping_error","field":"incident_id","error":"incident_id: not found"}`
	)
	good := []string{link1, link2, note1, part1, part2, again, relink, filtered, failed, noID}
	tests := []struct {
		name    string
		content string
		bad     string // "file:line: prefix"
	}{
		{"whole", strings.Join(good, "\n") + "\n", ""},
		{"a bad line in the middle", strings.Join(good[:3], "\n") + "\n{not json\n" + strings.Join(good[3:], "\n") + "\n", ":4: not a JSON object"},
		{"an unknown kind", strings.Join(good, "\n") + "\n" + `{"kind":"lnik","incident_id":"A"}` + "\n", `:11: unknown kind "lnik"`},
		{"the last line cut short", strings.Join(good, "\n") + "\n" + link1[:40], ":11: the last line is cut short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "shadow.jsonl")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			rep, err := sidecar.ReadShadowReport(path)
			if err != nil {
				t.Fatal(err)
			}
			if tt.bad == "" && len(rep.BadLines) != 0 {
				t.Fatalf("bad lines: %v", rep.BadLines)
			}
			if tt.bad != "" {
				if len(rep.BadLines) != 1 {
					t.Fatalf("bad lines: %v, want one", rep.BadLines)
				}
				b := rep.BadLines[0]
				if got := b.File + ":" + strconv.Itoa(b.Line) + ": " + b.Err; !strings.HasPrefix(got, path+tt.bad) {
					t.Fatalf("bad line %q, want prefix %q", got, path+tt.bad)
				}
			}
			if rep.Lines != len(good) || rep.Incidents != 4 || rep.Linked != 2 || rep.LinkRequests != 3 ||
				rep.Notes != 2 || rep.Writes != 3 || rep.Split != 1 || rep.MaxParts != 2 || rep.Critical != 1 ||
				rep.Longest == nil || rep.Longest.Length != 40 || rep.Longest.IncidentID != "A" ||
				rep.First != "2026-12-01T10:00:00Z" || rep.Last != "2026-12-01T10:00:05Z" {
				t.Fatalf("report: %+v", rep)
			}
			if len(rep.Filtered) != 1 || rep.Filtered[0] != (sidecar.ShadowCount{What: `filter Status != "CLOSED" is false`, Records: 1, Incidents: 1}) {
				t.Fatalf("filtered: %+v", rep.Filtered)
			}
			if len(rep.MappingErrors) != 2 || rep.MappingErrors[0].What != "fields[1] (Nature)" || rep.MappingErrors[1].What != "incident_id" {
				t.Fatalf("mapping errors: %+v", rep.MappingErrors)
			}
			if a := rep.PerIncident[0]; a != (sidecar.ShadowIncident{IncidentID: "A", CallID: "c1", Linked: true, LinkRequests: 2, Notes: 2, Writes: 3, Critical: 1}) {
				t.Fatalf("incident A: %+v", a)
			}
		})
	}
	if _, err := sidecar.ReadShadowReport(filepath.Join(t.TempDir(), "missing.jsonl")); err == nil {
		t.Fatal("a missing file is not an error")
	}
}
