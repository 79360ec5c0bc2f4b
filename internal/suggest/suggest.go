// Package suggest finds the intended word behind a typo, for the "did you mean" of
// configuration errors.
package suggest

import (
	"slices"
)

// Closest returns the candidate nearest to word by edit distance when it is a plausible
// typo (at most 2 edits), or "". Ties go to the candidate first in sorted order.
func Closest(word string, candidates []string) string {
	sorted := slices.Sorted(slices.Values(candidates))
	best, bestD := "", 3
	for _, c := range sorted {
		if d := editDistance(word, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
