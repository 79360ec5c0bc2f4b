package assist

import (
	"strings"
	"testing"
)

// The noteId key stays bounded whatever the noteId: an id that breaks the id rule (too
// long, control characters, invalid UTF-8) is hashed, a good one is kept as it is (so keys
// of notes queued before stay the same).
func TestNoteKeysBounded(t *testing.T) {
	base := IncidentNote{Type: NoteInfo, Note: "x", CreatedAt: "2024-05-01T10:00:00Z"}
	long := strings.Repeat("n", 100_000)
	tests := []struct {
		name, id, want string // want: the id key exactly, or "hashed"
	}{
		{"plain", "n-9", "id:INC-1\x1fcall-1\x1fn-9"},
		{"at the bound", strings.Repeat("n", 256), "id:INC-1\x1fcall-1\x1f" + strings.Repeat("n", 256)},
		{"too long", long, "hashed"},
		{"control character", "n\x1fx", "hashed"},
		{"invalid UTF-8", "n\xff", "hashed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := base
			n.NoteID = tc.id
			keys := NoteKeys("INC-1", "call-1", n)
			if len(keys) != 2 {
				t.Fatalf("%d keys", len(keys))
			}
			k := keys[1]
			if tc.want != "hashed" {
				if k != tc.want {
					t.Fatalf("key %q, want %q", k, tc.want)
				}
				return
			}
			if !strings.HasPrefix(k, "idh:INC-1\x1fcall-1\x1f") || len(k) > 200 {
				t.Fatalf("key %q (%d bytes): want idh: and a hash", k[:min(len(k), 80)], len(k))
			}
			other := n
			other.NoteID = tc.id + "y"
			if NoteKeys("INC-1", "call-1", other)[1] == k {
				t.Error("two noteIds, one key")
			}
		})
	}
}
