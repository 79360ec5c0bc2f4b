package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/mapping"
)

// mapping.note.summary and mapping.note.transcript: off by default (grace 2m); they load
// from YAML and the environment, and a bad value is refused by its key and line.
func TestCallNotesKeys(t *testing.T) {
	cfg, err := config.Load(writeConfig(t, minimal(t)), config.Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Mapping.Note
	if n.Summary.Enabled || n.Transcript.Enabled || n.Summary.Grace != 2*time.Minute || cfg.Mapper.SummaryNotes() ||
		n.Summary.Critical != mapping.DefaultSummaryCritical {
		t.Errorf("defaults: %+v %+v", n.Summary, n.Transcript)
	}

	yaml := minimal(t) + "  note:\n    summary: {enabled: true, grace: 45s, critical: 'Severity == \"HIGH\"'}\n    transcript: {enabled: true}\n"
	cfg, err = config.Load(writeConfig(t, yaml), config.Options{Environ: []string{"CAD_SIDECAR_MAPPING__NOTE__SUMMARY__GRACE=90s"}})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Mapper.SummaryNotes() || !cfg.Mapper.TranscriptNotes() || cfg.Mapper.SummaryGrace() != 90*time.Second {
		t.Errorf("loaded: summary %v transcript %v grace %v", cfg.Mapper.SummaryNotes(), cfg.Mapper.TranscriptNotes(), cfg.Mapper.SummaryGrace())
	}

	for _, tc := range []struct{ note, want string }{
		{"    summary: {grace: -1s}\n", "mapping.note.summary.grace: must not be negative, got -1s (config.yaml:16)"},
		{"    summary: {critical: 'Hazard != \"\"'}\n", "mapping.note.summary.critical: cannot compile"},
		{"    transcript: {text: '{{.Lines}}'}\n", "mapping.note.transcript.text: cannot render"},
		{"    summary: {enable: true}\n", "mapping.note.summary.enable: unknown key"},
	} {
		_, err := config.Load(writeConfig(t, minimal(t)+"  note:\n"+tc.note), config.Options{Environ: []string{}})
		got := problems(t, err)
		if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
			t.Errorf("%q: problems %q, want one starting %q", tc.note, got, tc.want)
		}
	}
}
