package ident

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name, id string
		want     string // "" = accepted; else a part of the error
	}{
		{"number", "260045123", ""},
		{"with slash and space", "PD 2026/001", ""},
		{"unicode", "Zürich-7", ""},
		{"at the limit", strings.Repeat("a", MaxLen), ""},
		{"empty", "", "incidentId: empty"},
		{"dot", ".", `incidentId: "." is not an id`},
		{"dot dot", "..", `incidentId: ".." is not an id`},
		{"too long", strings.Repeat("a", 5000), "incidentId: 5000 bytes, longer than 256"},
		{"invalid UTF-8", "inv3\xff", "incidentId: not valid UTF-8"},
		{"newline", "INC\n1", "incidentId: control character U+000A at byte 3"},
		{"NUL", "\x00", "control character U+0000"},
		{"DEL", "a\x7f", "control character U+007F"},
		{"C1 control", "a\u0085", "control character U+0085"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check("incidentId", tt.id)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("accepted, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
			if err != nil && len(err.Error()) > 100 {
				t.Fatalf("error of %d bytes quotes the id: %q", len(err.Error()), err)
			}
		})
	}
}

func TestForLog(t *testing.T) {
	if got := ForLog("INC-1"); got != "INC-1" {
		t.Fatalf("short id changed: %q", got)
	}
	long := strings.Repeat("é", 3000) // 6000 bytes, a cut would fall inside a rune
	got := ForLog(long)
	if len(got) > MaxLen+len("…") || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Fatalf("ForLog(6000 bytes) = %d bytes, valid=%v: %q", len(got), utf8.ValidString(got), got)
	}
	if got := ForLog("inv3\xff"); got != "inv3\uFFFD" {
		t.Fatalf("invalid UTF-8: %q", got)
	}
}
