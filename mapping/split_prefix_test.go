package mapping

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// TestSplitNotePrefixOnEveryPart: every part of a split note carries note.text's frame
// (the default "[Assist CRITICAL] " prefix, a suffix after .Note) or note.part_prefix,
// within note.max_length, numbered right.
func TestSplitNotePrefixOnEveryPart(t *testing.T) {
	const text = "Caller reports smoke on the second floor, two people inside, door locked"
	for _, tc := range []struct {
		name string
		note NoteConfig
		crit bool
		want []string
	}{
		{"default prefix", NoteConfig{MaxLength: 40}, true, []string{
			// 40 - 18 (prefix) - 6 (marker) = 16 characters of text per part
			"[Assist CRITICAL] Caller reports (1/6)",
			"[Assist CRITICAL] smoke on the (2/6)",
			"[Assist CRITICAL] second floor, (3/6)",
			"[Assist CRITICAL] two people (4/6)",
			"[Assist CRITICAL] inside, door (5/6)",
			"[Assist CRITICAL] locked (6/6)",
		}},
		{"not critical", NoteConfig{MaxLength: 40}, false, []string{
			"[Assist] Caller reports smoke on (1/4)",
			"[Assist] the second floor, two (2/4)",
			"[Assist] people inside, door (3/4)",
			"[Assist] locked (4/4)",
		}},
		{"prefix and suffix", NoteConfig{MaxLength: 40, Text: "<{{.Type}}> {{.Note}} //CAD"}, false, []string{
			"<INFO> Caller reports smoke //CAD (1/4)",
			"<INFO> on the second floor, //CAD (2/4)",
			"<INFO> two people inside, //CAD (3/4)",
			"<INFO> door locked //CAD (4/4)",
		}},
		{"part_prefix", NoteConfig{MaxLength: 40, PartPrefix: "[Assist cont.] "}, false, []string{
			// room for the longer of the two prefixes in every part
			"[Assist] Caller reports (1/4)",
			"[Assist cont.] smoke on the second (2/4)",
			"[Assist cont.] floor, two people (3/4)",
			"[Assist cont.] inside, door locked (4/4)",
		}},
		{"note transformed: whole text split, part_prefix", NoteConfig{MaxLength: 40, Text: "{{.Note | printf \"%.200s\"}}!", PartPrefix: "[..] "}, false, nil},
		{"frame too long: whole text split", NoteConfig{MaxLength: 30, Text: "[Assist {{.Type}} from the call-taker console] {{.Note}}"}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustCompile(t, Config{IncidentID: "I", Note: tc.note})
			parts, err := m.RenderNoteParts(adapters.Note{Type: "INFO", Note: text, Critical: tc.crit})
			if err != nil {
				t.Fatal(err)
			}
			n := len(parts)
			if n < 2 {
				t.Fatalf("parts = %q, want a split", parts)
			}
			for i, p := range parts {
				if tc.note.PartPrefix != "" && i > 0 && !strings.HasPrefix(p, tc.note.PartPrefix) {
					t.Errorf("part %d %q does not start with note.part_prefix", i+1, p)
				}
				if utf8.RuneCountInString(p) > tc.note.MaxLength {
					t.Errorf("part %d is %d runes > %d: %q", i+1, utf8.RuneCountInString(p), tc.note.MaxLength, p)
				}
				if marker := " (" + itoa(i+1) + "/" + itoa(n) + ")"; !strings.HasSuffix(p, marker) {
					t.Errorf("part %q does not end with %q", p, marker)
				}
			}
			if tc.want != nil && !reflect.DeepEqual(parts[:min(len(parts), len(tc.want))], tc.want) {
				t.Errorf("parts = %q\nwant %q", parts, tc.want)
			}
			// Every word of the note is there, in order.
			var words []string
			for _, p := range parts {
				words = append(words, strings.Fields(p)...)
			}
			i := 0
			for _, w := range words {
				if i < len(strings.Fields(text)) && strings.Contains(w, strings.Fields(text)[i]) {
					i++
				}
			}
			if i != len(strings.Fields(text)) {
				t.Errorf("words of the note lost: %q", parts)
			}
		})
	}
}
