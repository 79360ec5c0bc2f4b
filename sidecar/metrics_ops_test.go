package sidecar

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// TestCursorAgeMetric: cad_sidecar_cad_cursor_age_seconds is how far a time cursor is
// behind now, and absent without a cursor, for a cursor that is no time, and for one the
// source says is a sequence.
func TestCursorAgeMetric(t *testing.T) {
	store, err := outbox.Open(filepath.Join(t.TempDir(), "sidecar.db"), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(&cursorAgeCollector{store: store, desc: prometheus.NewDesc("cad_sidecar_cad_cursor_age_seconds", "h", nil, nil)})
	samples := func(t *testing.T) []float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var out []float64
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				out = append(out, m.GetGauge().GetValue())
			}
		}
		return out
	}
	hourAgo := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name, cursor, kind string
		present            bool
	}{
		{"none", "", "", false},
		{"time", hourAgo, "", true},
		{"time kind", hourAgo, "time", true},
		{"sequence by kind", hourAgo, "sequence", false},
		{"small number", "42", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			put := func(k, v string) {
				t.Helper()
				var err error
				if v == "" {
					err = store.Delete(bucketCursor, k)
				} else {
					err = store.Put(bucketCursor, k, v)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			put(cadCursorKey, tc.cursor)
			put(cadCursorKindKey, tc.kind)
			got := samples(t)
			if (len(got) == 1) != tc.present {
				t.Fatalf("samples %v, want present=%v", got, tc.present)
			}
			if !tc.present {
				return
			}
			if v := got[0]; v < 3600 || v > 3600+300 {
				t.Fatalf("age %v, want about 3600", v)
			}
		})
	}
}
