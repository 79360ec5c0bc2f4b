package sidecar

import "time"

// SkewCallNotesClock moves the clock of the call notes' runner forward by d (a grace or a
// backoff passes at once) and wakes it (tests).
func (s *Sidecar) SkewCallNotesClock(d time.Duration) {
	s.callNotes.skew.Add(int64(d))
	s.callNotes.poke()
}
