package config_test

import (
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// outbox.unready_after defaults to 5m, loads as a duration (0 = off) and is refused, by
// name and line, when negative.
func TestUnreadyAfter(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want time.Duration
	}{
		{"", 5 * time.Minute},
		{"outbox: {unready_after: 90s}\n", 90 * time.Second},
		{"outbox: {unready_after: 0s}\n", 0},
	} {
		cfg, err := config.Load(writeConfig(t, minimal(t)+tc.yaml), config.Options{Environ: []string{}})
		if err != nil || cfg.Outbox.UnreadyAfter != tc.want {
			t.Fatalf("%q: Load = %v, %v; want %s", tc.yaml, cfg, err, tc.want)
		}
	}
	_, err := config.Load(writeConfig(t, minimal(t)+"outbox: {unready_after: -1s}\n"), config.Options{Environ: []string{}})
	got := problems(t, err)
	want := "outbox.unready_after: must be 0 (off) or positive, got -1s (config.yaml:15)"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("problems %q, want [%q]", got, want)
	}
}
