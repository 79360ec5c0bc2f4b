// Package ident holds the one rule for the identifiers that travel between Assist, the
// sidecar and the CAD (incident ids, call ids): what an id may look like before it is
// stored, put into a URL path or written into a log line.
package ident

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLen is the longest id accepted, in bytes. Real CAD incident numbers and Assist call
// ids are a few dozen bytes; the bound keeps storage keys, URL paths and log lines small.
const MaxLen = 256

// Check reports whether id is acceptable as the value of field (named in the error, e.g.
// "incidentId"): not empty, not "." or ".." (a URL path segment that would name another
// resource), at most MaxLen bytes, valid UTF-8, without control characters. The error
// never quotes the id, which may be large or hostile.
func Check(field, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s: empty", field)
	case id == "." || id == "..":
		return fmt.Errorf("%s: %q is not an id", field, id)
	case len(id) > MaxLen:
		return fmt.Errorf("%s: %d bytes, longer than %d", field, len(id), MaxLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("%s: not valid UTF-8", field)
	}
	for i, r := range id {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s: control character U+%04X at byte %d", field, r, i)
		}
	}
	return nil
}

// ForLog returns id bounded for a log attribute: its first MaxLen bytes, invalid UTF-8
// replaced by U+FFFD, and "…" when it was cut. Ids that passed Check come back unchanged.
func ForLog(id string) string {
	if len(id) <= MaxLen && utf8.ValidString(id) {
		return id
	}
	cut := min(len(id), MaxLen)
	for cut > 0 && cut < len(id) && !utf8.RuneStart(id[cut]) {
		cut--
	}
	s := strings.ToValidUTF8(id[:cut], "\uFFFD")
	if cut < len(id) {
		s += "…"
	}
	return s
}
