package sim

import (
	"fmt"
	"testing"
)

// TestCADLoseAnswerEvery: every n-th write is stored and answered 503; without DedupByKey
// every write is kept with its Idempotency-Key, duplicates included.
func TestCADLoseAnswerEvery(t *testing.T) {
	for _, tc := range []struct {
		every     int
		wantCodes []int
		wantLost  int
	}{
		{every: 0, wantCodes: []int{201, 201, 201, 201, 201, 201}, wantLost: 0},
		{every: 3, wantCodes: []int{201, 201, 503, 201, 201, 503}, wantLost: 2},
	} {
		t.Run(fmt.Sprintf("every=%d", tc.every), func(t *testing.T) {
			c, srv := newCAD(t, CADOptions{Seed: 1, LoseAnswerEvery: tc.every})
			id := c.AddIncident()
			url := srv.URL + "/api/incidents/" + id + "/notes"
			var codes []int
			for i := range 6 {
				key := fmt.Sprintf("k%d", i/2) // each write twice, as a retry would
				codes = append(codes, post(t, url, `{"text":"n"}`, map[string]string{"Idempotency-Key": key}))
			}
			if fmt.Sprint(codes) != fmt.Sprint(tc.wantCodes) {
				t.Fatalf("codes %v, want %v", codes, tc.wantCodes)
			}
			notes := c.Notes(id)
			if len(notes) != 6 || c.LostAnswers() != tc.wantLost || c.Duplicates() != 0 {
				t.Fatalf("%d notes, %d lost answers, %d duplicates refused; want 6, %d, 0", len(notes), c.LostAnswers(), c.Duplicates(), tc.wantLost)
			}
			for i, n := range notes {
				if want := fmt.Sprintf("k%d", i/2); n.Key != want {
					t.Fatalf("note %d recorded key %q, want %q", i, n.Key, want)
				}
			}
		})
	}
}
