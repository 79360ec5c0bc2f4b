package sidecar_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// A pulled page with one bad note in it — a noteId over the id bound, a noteId with a
// control character, a note whose text is not valid UTF-8, a note of the wrong shape — does
// not stall pull for that call: the good notes are queued and written, each bad one is
// skipped with a WARN naming the call and incident (not its text) and counted as refused,
// and the cursor moves past the page.
func TestPullSkipsBadNotes(t *testing.T) {
	const callID, incidentID = "call-bad-notes", "INC-77"
	var mu sync.Mutex
	var written []string
	cad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte(`{"data": []}`))
			return
		}
		b, _ := io.ReadAll(r.Body)
		var n struct{ Text string }
		_ = json.Unmarshal(b, &n)
		mu.Lock()
		written = append(written, n.Text)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer cad.Close()

	note := func(id, text string) string {
		return `{"noteId":"` + id + `","type":"INFO","note":"` + text + `","critical":false,"createdAt":"2026-11-25T10:00:00Z"}`
	}
	page := `{"cursor":"c1","notes":[` + strings.Join([]string{
		note("n1", "first good note"),
		note(strings.Repeat("x", 5000), "secret long id"),
		note(`n\u0007bell`, "secret control id"),
		note("n4", "secret bad \xff\xfe text"),
		`{"noteId":"n5","type":"INFO","note":42,"critical":false,"createdAt":"2026-11-25T10:00:00Z"}`,
		note("n6", "second good note"),
	}, ",") + `]}`
	var afterCursor atomic.Int64 // pulls that sent the page's cursor back
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/cad/incident/"+callID+"/notes" {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Query().Get("cursor") == "c1" {
				afterCursor.Add(1)
				_, _ = io.WriteString(w, `{"cursor":"c1","notes":[]}`)
				return
			}
			_, _ = io.WriteString(w, page)
		})
	}
	e := start(t, envOptions{notes: "pull", cadURL: cad.URL, wrapAssist: wrap})
	if err := e.s.Store().PutLink(outbox.Link{IncidentID: incidentID, CallID: callID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "a pull from the saved cursor", func() bool { return afterCursor.Load() > 0 })
	waitFor(t, 10*time.Second, "both good notes written", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(written) == 2
	})
	mu.Lock()
	if !strings.Contains(written[0], "first good note") || !strings.Contains(written[1], "second good note") {
		t.Errorf("written: %q", written)
	}
	mu.Unlock()
	if got := e.metric(t, "cad_sidecar_notes_received_total", "source", "pull", "result", "refused"); got != 4 {
		t.Errorf(`cad_sidecar_notes_received_total{source="pull",result="refused"} = %v, want 4`, got)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, `msg="pulled note refused" call_id=`+callID+" incident_id="+incidentID); n != 4 {
		t.Errorf("%d WARN lines for refused notes, want 4", n)
	}
	if strings.Contains(logs, "secret") || strings.Contains(logs, "xxxxxxxxxx") {
		t.Errorf("a refused note's text or id is in the log")
	}
	if strings.Contains(logs, "notes pull failed") {
		t.Errorf("the pull failed instead of skipping the bad notes")
	}
}
