package main

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/cad-sidecar/cad-sidecar/adapters/filedrop" // cad.adapter: filedrop
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// filedropResult is the filedrop-burst line: FileDropFiles incident files of 20 KB dropped
// at once into a running sidecar's inbound folder (cad.adapter: filedrop; written beside
// it, then renamed into it), timed from the first rename until every incident is linked at
// the simulated Assist (stable_for included), against reading and decoding the same files
// alone.
type filedropResult struct {
	Bench    string  `json:"bench"`
	Files    int     `json:"files"`
	FileKB   int     `json:"file_kb"`
	StableMs int64   `json:"stable_for_ms"`
	Ms       float64 `json:"ms"`
	// CPUMs is the process's CPU time (getrusage) over the same span: the sidecar's work
	// plus the simulated Assist's, a figure less at the mercy of other processes on a
	// shared machine than the wall time.
	CPUMs      float64 `json:"cpu_ms"`
	BaselineMs float64 `json:"baseline_ms"`
	Ratio      float64 `json:"ratio"` // ms / baseline_ms: the whole path over decoding alone
	Target     string  `json:"target"`
	OK         bool    `json:"ok"`
}

// filedropTargetMs: 1,000 files of 20 KB all linked within 5 s.
const filedropTargetMs = 5000

func (r filedropResult) key() float64                  { return r.Ms }
func (r filedropResult) failed() error                 { return nil }
func (r filedropResult) ratios() (got, target float64) { return 0, 0 } // judged by time, not ratio
func (r filedropResult) judge() result {
	r.Target = fmt.Sprintf("all linked in <= %d ms", filedropTargetMs)
	r.OK = r.Ms <= filedropTargetMs
	return r
}

const filedropStable = time.Second

func runFiledrop(ctx context.Context, p params) (result, error) {
	dir, err := os.MkdirTemp(p.Dir, "filedrop-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		return nil, err
	}
	pad := strings.Repeat("x", 20<<10-100)
	body := func(i int) []byte {
		return fmt.Appendf(nil, `{"id": "INC-%06d", "nature": "FIRE", "remarks": %q}`, i, pad)
	}

	// Baseline: read and decode the same files, nothing else.
	base := filepath.Join(dir, "base")
	if err := os.Mkdir(base, 0o755); err != nil {
		return nil, err
	}
	for i := range p.FileDropFiles {
		if err := os.WriteFile(filepath.Join(base, fmt.Sprintf("%06d.json", i)), body(i), 0o644); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	for i := range p.FileDropFiles {
		data, err := os.ReadFile(filepath.Join(base, fmt.Sprintf("%06d.json", i)))
		if err != nil {
			return nil, err
		}
		if _, err := record.DecodeJSON(data, record.Limits{}); err != nil {
			return nil, err
		}
	}
	baseMs := float64(time.Since(t0).Microseconds()) / 1000

	as := sim.NewAssist(sim.AssistOptions{Token: benchAssistToken, NoteEvery: time.Hour})
	asSrv := httptest.NewServer(as)
	defer asSrv.Close()
	defer as.Close()
	yaml := fmt.Sprintf(`data_dir: ./data
log: {level: error}
server: {listen: "127.0.0.1:0", public_url: "http://127.0.0.1"}
admin: {listen: "127.0.0.1:0"}
assist: {base_url: %s, token: %s, notes: push, webhook: {register: false, auth_token: %s}}
cad:
  adapter: filedrop
  filedrop: {inbound: in, pattern: "*.json", format: json, stable_for: %s, rescan: 30s}
mapping:
  incident_id: id
  fields: [{name: Nature, from: nature}]
`, asSrv.URL, benchAssistToken, benchHookToken, filedropStable)
	_, stopSidecar, err := runSidecar(ctx, dir, yaml)
	if err != nil {
		return nil, err
	}
	defer func() { _ = stopSidecar() }()

	// The files are written beside the inbound folder first (not timed), then dropped at
	// once: renamed into it, as a CAD that writes NAME.tmp and renames it does.
	stage := filepath.Join(dir, "stage")
	if err := os.Mkdir(stage, 0o755); err != nil {
		return nil, err
	}
	for i := range p.FileDropFiles {
		if err := os.WriteFile(filepath.Join(stage, fmt.Sprintf("%06d.json", i)), body(i), 0o644); err != nil {
			return nil, err
		}
	}
	stopProf := p.profile("filedrop")
	cpu0 := cpuTime()
	start := time.Now()
	for i := range p.FileDropFiles {
		name := fmt.Sprintf("%06d.json", i)
		if err := os.Rename(filepath.Join(stage, name), filepath.Join(in, name)); err != nil {
			stopProf()
			return nil, err
		}
	}
	written := time.Since(start)
	deadline := start.Add(60 * time.Second)
	for len(as.Links()) < p.FileDropFiles {
		if time.Now().After(deadline) {
			stopProf()
			return nil, fmt.Errorf("filedrop: %d of %d incidents linked after 60s", len(as.Links()), p.FileDropFiles)
		}
		if ctx.Err() != nil {
			stopProf()
			return nil, errors.New("filedrop: interrupted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	cpuMs := float64((cpuTime() - cpu0).Microseconds()) / 1000
	p.logf("filedrop-burst: files dropped (renamed into the inbound folder) in %s, all linked at %.0fms (process CPU %.0fms)", written.Round(time.Millisecond), ms, cpuMs)
	stopProf()
	return filedropResult{Bench: "filedrop-burst", Files: p.FileDropFiles, FileKB: 20, StableMs: filedropStable.Milliseconds(),
		Ms: round(ms, 1), CPUMs: round(cpuMs, 1), BaselineMs: round(baseMs, 1), Ratio: round(ratio(ms, baseMs), 2)}, nil
}
