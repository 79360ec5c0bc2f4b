package suggest

import "testing"

func TestClosest(t *testing.T) {
	keys := []string{"base_url", "token", "timeout", "notes"}
	tests := []struct{ word, want string }{
		{"tokn", "token"},
		{"bse_url", "base_url"},
		{"base_ulr", "base_url"},
		{"timeot", "timeout"},
		{"webhook", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Closest(tt.word, keys); got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
	if editDistance("kitten", "sitting") != 3 {
		t.Error("editDistance(kitten, sitting) != 3")
	}
}
