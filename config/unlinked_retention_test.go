package config_test

import (
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// outbox.unlinked_retention loads as a duration and is refused, by name and line, below
// one minute (state would be forgotten before its link could come).
func TestUnlinkedRetention(t *testing.T) {
	cfg, err := config.Load(writeConfig(t, minimal(t)+"outbox: {unlinked_retention: 2h}\n"), config.Options{Environ: []string{}})
	if err != nil || cfg.Outbox.UnlinkedRetention != 2*time.Hour {
		t.Fatalf("Load = %v, %v", cfg, err)
	}
	_, err = config.Load(writeConfig(t, minimal(t)+"outbox: {unlinked_retention: 10s}\n"), config.Options{Environ: []string{}})
	got := problems(t, err)
	want := "outbox.unlinked_retention: must be at least 1m, got 10s (config.yaml:15)"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("problems %q, want [%q]", got, want)
	}
}
