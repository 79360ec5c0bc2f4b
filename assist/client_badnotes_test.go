package assist

import (
	"context"
	"strings"
	"testing"
)

// One bad note in a pulled page is set aside (NotesPage.Refused, with its position and a
// reason that quotes neither its id nor its text); the other notes and the cursor come back.
func TestNotesRefusesBadNotes(t *testing.T) {
	note := func(id, text string) string {
		return `{"noteId":"` + id + `","type":"INFO","note":"` + text + `","createdAt":"2024-05-01T10:00:00Z"}`
	}
	body := `{"cursor":"c9","notes":[` + strings.Join([]string{
		note("n1", "good"),
		note(strings.Repeat("x", 5000), "secret"),
		note(`n\u0000`, "secret"),
		note("n4", "secret \xff"),
		`{"noteId":"n5","note":42}`,
		`"not an object"`,
		note("n7", "good too"),
	}, ",") + `]}`
	f := newFake(t, jsonReply(200, body))
	page, err := newTestClient(t, f.URL).Notes(context.Background(), "call-1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if page.Cursor != "c9" || len(page.Notes) != 2 || page.Notes[0].NoteID != "n1" || page.Notes[1].NoteID != "n7" {
		t.Fatalf("page %+v", page.Notes)
	}
	wantReasons := []string{"noteId: 5000 bytes", "noteId: control character", "not valid UTF-8", "note 5", "note 6"}
	if len(page.Refused) != len(wantReasons) {
		t.Fatalf("refused %+v, want %d", page.Refused, len(wantReasons))
	}
	for i, r := range page.Refused {
		if !strings.Contains(r.Reason, wantReasons[i]) {
			t.Errorf("refused[%d] = %+v, want a reason with %q", i, r, wantReasons[i])
		}
		if r.Index != []int{1, 2, 3, 4, 5}[i] {
			t.Errorf("refused[%d] index %d", i, r.Index)
		}
		if strings.Contains(r.Reason, "secret") || strings.Contains(r.Reason, "xxxx") {
			t.Errorf("reason quotes the note: %s", r.Reason)
		}
	}
}
