package eido

import "testing"

// TestRedactURL: errors and logs name the server without user info or query (either may
// hold a token).
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"wss://esinet.example.gov/eido":                     "wss://esinet.example.gov/eido",
		"wss://user:pw@esinet.example.gov/eido?token=abc#x": "wss://esinet.example.gov/eido",
		"::bad": "(unparsable url)",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
