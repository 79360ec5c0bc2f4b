package sidecar_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// A note longer than mapping.note.max_length is written as several notes, in order; when
// the CAD refuses a later part, the parts it accepted are not written again.
func TestSplitNoteResumes(t *testing.T) {
	var mu sync.Mutex
	var got []string
	posts := 0
	cad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte(`{"data": []}`))
			return
		}
		mu.Lock()
		defer mu.Unlock()
		posts++
		if posts == 2 { // the second part fails once
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var body struct{ Text string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		got = append(got, body.Text)
		w.WriteHeader(http.StatusCreated)
	}))
	defer cad.Close()
	e := start(t, envOptions{cadURL: cad.URL, mapping: `
mapping:
  incident_id: IncidentNumber
  fields: [{name: N, from: IncidentNumber}]
  note: {text: "{{.Note}}", max_length: 30}
`})
	text := "Smoke on the second floor, two children inside, caller on the first floor"
	if resp, _ := post(t, e.hookURL, hookToken, noteBody("INC-7", text)); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
	waitFor(t, 10*time.Second, "every part written", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := len(got)
		return n > 0 && strings.HasSuffix(got[n-1], fmt.Sprintf("(%d/%d)", n, n))
	})
	mu.Lock()
	defer mu.Unlock()
	if len(got) < 3 {
		t.Fatalf("parts %q", got)
	}
	var joined []string
	for i, p := range got {
		if len([]rune(p)) > 30 {
			t.Errorf("part %d longer than 30: %q", i, p)
		}
		if !strings.HasSuffix(p, ")") || strings.Count(strings.Join(got, "\n"), p) != 1 {
			t.Errorf("part %d written twice or unnumbered: %q", i, p)
		}
		joined = append(joined, p[:strings.LastIndex(p, " (")])
	}
	if strings.Join(joined, " ") != text {
		t.Fatalf("parts do not rebuild the note:\n%q", got)
	}
}

// With mapping.note.call_status and activation enabled, the call's start, the assistant's
// activation and its end reach the CAD as notes, in order with the Assist notes.
func TestEventNotes(t *testing.T) {
	e := start(t, envOptions{register: true, mapping: `
mapping:
  incident_id: IncidentNumber
  fields: [{name: N, from: IncidentNumber}]
  note:
    text: "note: {{.Note}}"
    call_status: {enabled: true, text: "call {{.Status}}"}
    activation: {enabled: true, text: "assistant {{.AssistantName}}"}
`})
	id := e.cad.AddIncident()
	waitFor(t, 15*time.Second, "the call to end in the CAD", func() bool {
		n := e.cad.Notes(id)
		return len(n) > 0 && n[len(n)-1].Text == "call ENDED"
	})
	var kinds []string
	for _, n := range e.cad.Notes(id) {
		kinds = append(kinds, strings.SplitN(n.Text, " ", 2)[0])
	}
	want := "call assistant note: note: note: note: call"
	if strings.Join(kinds, " ") != want {
		t.Fatalf("CAD notes %q, want kinds %q", kinds, want)
	}
}
