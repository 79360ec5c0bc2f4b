package mapping

import (
	"regexp"
	"slices"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/assist"
)

func sampleRequest() assist.LinkIncidentRequest {
	return assist.LinkIncidentRequest{
		IncidentID: "260045123", UserID: "ct-042",
		Fields: []assist.IncidentField{
			{Name: "NatureCode", Description: "Nature", Value: "FIRE-STR"},
			{Name: "Address", Description: "Location", Value: "1200 Main St"},
		},
	}
}

func TestHash(t *testing.T) {
	h := Hash(sampleRequest())
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(h) {
		t.Fatalf("Hash = %q, want 64 hex digits", h)
	}
	if Hash(sampleRequest()) != h {
		t.Error("Hash is not stable")
	}
	// Pinned: a change of the encoding changes every stored hash and re-links every incident.
	if want := "1b59616679a8cb3f20f877a7f4ca42b4110fdeb544e283a33f70a7641be5cd41"; h != want {
		t.Errorf("Hash = %s, want %s (pinned)", h, want)
	}

	changes := map[string]func(r *assist.LinkIncidentRequest){
		"incident id":     func(r *assist.LinkIncidentRequest) { r.IncidentID = "260045124" },
		"user id":         func(r *assist.LinkIncidentRequest) { r.UserID = "ct-043" },
		"user id cleared": func(r *assist.LinkIncidentRequest) { r.UserID = "" },
		"name":            func(r *assist.LinkIncidentRequest) { r.Fields[0].Name = "Nature" },
		"description":     func(r *assist.LinkIncidentRequest) { r.Fields[1].Description = "Loc" },
		"value":           func(r *assist.LinkIncidentRequest) { r.Fields[1].Value = "1201 Main St" },
		"field order":     func(r *assist.LinkIncidentRequest) { slices.Reverse(r.Fields) },
		"field added":     func(r *assist.LinkIncidentRequest) { r.Fields = append(r.Fields, assist.IncidentField{}) },
		"field removed":   func(r *assist.LinkIncidentRequest) { r.Fields = r.Fields[:1] },
		// Boundaries between strings must matter: "ab"+"c" differs from "a"+"bc".
		"boundary": func(r *assist.LinkIncidentRequest) {
			r.Fields[0].Name, r.Fields[0].Description = "NatureCod", "eNature"
		},
		"value into description": func(r *assist.LinkIncidentRequest) {
			r.Fields[0].Description, r.Fields[0].Value = "NatureFIRE-STR", ""
		},
	}
	seen := map[string]string{h: "original"}
	for name, change := range changes {
		r := sampleRequest()
		change(&r)
		got := Hash(r)
		if prev, dup := seen[got]; dup {
			t.Errorf("%s: same hash as %s", name, prev)
		}
		seen[got] = name
	}
	// nil and empty Fields both mean "no fields" and hash alike.
	a, b := sampleRequest(), sampleRequest()
	a.Fields, b.Fields = nil, []assist.IncidentField{}
	if Hash(a) != Hash(b) {
		t.Error("nil and empty Fields hash differently")
	}
}

func TestHashOfMappedRecordIsStable(t *testing.T) {
	// Mapping the same record twice (map iteration order varies) gives the same hash.
	m := mustCompile(t, readConfig(t, "rest_mapping.yaml"))
	var first string
	for i := range 50 {
		res, err := m.Map(readRecord(t, "rest_record.json"))
		if err != nil {
			t.Fatal(err)
		}
		h := Hash(res.Request)
		if i == 0 {
			first = h
		} else if h != first {
			t.Fatalf("hash changed between runs: %s vs %s", h, first)
		}
	}
}
