package mapping

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SplitNote splits text into notes of at most maxLen runes each, in order, for CADs that cap
// a note's length. Parts end at word boundaries (a word longer than a part is cut) and are
// marked " (1/3)", " (2/3)", ..., the marker counted in maxLen; the white space at a cut is
// dropped. maxLen 0 (or text that fits) gives [text]. maxLen must leave room for the marker
// (see MinNoteMaxLength); smaller values are raised to it.
func SplitNote(text string, maxLen int) []string {
	if maxLen <= 0 || len(text) <= maxLen || utf8.RuneCountInString(text) <= maxLen {
		return []string{text}
	}
	maxLen = max(maxLen, MinNoteMaxLength)
	// The marker's width depends on the number of parts: try 1 digit, then 2, ...
	for d := 1; ; d++ {
		budget := maxLen - (4 + 2*d) // " (" + i + "/" + n + ")"
		if budget < 1 {
			budget = 1 // unreachable for maxLen ≥ MinNoteMaxLength and texts below 10^5 parts
		}
		parts := splitWords(text, budget, pow10(d))
		if parts == nil {
			continue // more than 10^d - 1 parts: the marker is wider
		}
		n := strconv.Itoa(len(parts))
		for i := range parts {
			parts[i] += " (" + strconv.Itoa(i+1) + "/" + n + ")"
		}
		return parts
	}
}

func pow10(d int) int {
	n := 1
	for range d {
		n *= 10
	}
	return n
}

// splitWords cuts text into pieces of at most budget runes at white space, or nil when
// that takes limit pieces or more.
func splitWords(text string, budget, limit int) []string {
	var parts []string
	rest := strings.TrimLeftFunc(text, unicode.IsSpace)
	for rest != "" {
		if len(parts)+1 >= limit {
			return nil
		}
		// Find the byte offset after budget runes, and the last white space up to there.
		cut, lastSpace, n := len(rest), -1, 0
		for i, r := range rest {
			if n == budget {
				cut = i
				if unicode.IsSpace(r) {
					lastSpace = i
				}
				break
			}
			if unicode.IsSpace(r) {
				lastSpace = i
			}
			n++
		}
		if cut == len(rest) {
			parts = append(parts, strings.TrimRightFunc(rest, unicode.IsSpace))
			break
		}
		if lastSpace > 0 {
			cut = lastSpace
		}
		parts = append(parts, strings.TrimRightFunc(rest[:cut], unicode.IsSpace))
		rest = strings.TrimLeftFunc(rest[cut:], unicode.IsSpace)
	}
	if len(parts) == 0 {
		return []string{""}
	}
	return parts
}

// splitFramed splits a note rendered as first + body + suffix so that every part carries
// the frame: the first part starts with first, the others with rest (note.part_prefix,
// or first again), and every part ends with suffix and the marker " (i/n)". Only body is
// cut, at word boundaries; every part, marker included, is at most maxLen runes. It
// returns nil when the frame leaves no room for the text (the caller then splits the whole
// text with SplitNote).
func splitFramed(first, rest, body, suffix string, maxLen int) []string {
	fixed := max(utf8.RuneCountInString(first), utf8.RuneCountInString(rest)) + utf8.RuneCountInString(suffix)
	for d := 1; ; d++ {
		budget := maxLen - fixed - (4 + 2*d) // " (" + i + "/" + n + ")"
		if budget < minFramedText {
			return nil
		}
		pieces := splitWords(body, budget, pow10(d))
		if pieces == nil {
			continue
		}
		n := strconv.Itoa(len(pieces))
		for i, p := range pieces {
			pre := rest
			if i == 0 {
				pre = first
			}
			pieces[i] = pre + p + suffix + " (" + strconv.Itoa(i+1) + "/" + n + ")"
		}
		return pieces
	}
}

// minFramedText is the least room for the note's own text in a framed part: below it,
// the prefix is not repeated (the whole text is split instead).
const minFramedText = 8
