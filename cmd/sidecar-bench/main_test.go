package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/internal/dbtest"
)

// tinyParams are quick mode shrunk further so that every scenario runs in a few seconds.
func tinyParams(t *testing.T) params {
	p := quickParams()
	p.Dir = t.TempDir()
	p.EnqueueMsgs, p.EnqueueBaseMax, p.EnqueueKeys = 2000, 300*time.Millisecond, 100
	p.IngestDuration, p.IngestWarmup, p.IngestKeys = 400*time.Millisecond, 50*time.Millisecond, 50
	p.DrainMsgs, p.DrainKeys, p.DrainBaseMax = 2000, 20, 300*time.Millisecond
	p.PollRecords, p.PollCycles = 1000, 2
	p.SQLRows, p.SQLCycles, p.SQLIdlePolls, p.SQLChanged = 500, 2, 10, true
	p.CSVRows = 2000
	p.FileDropFiles = 50
	p.EidoNotifies = 40
	return p
}

// TestScenarios runs every scenario with tiny counts and checks the lines, not the targets:
// each parses, has its exact keys, positive rates and no order violation.
func TestScenarios(t *testing.T) {
	before := runtime.NumGoroutine()
	var out, logs bytes.Buffer
	if err := run(context.Background(), &out, &logs, tinyParams(t), ""); err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	// Every scenario stops what it started (servers, sidecar, stores, load generator).
	for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("stderr:\n%s", logs.String())
	want := map[string][]string{
		"outbox-enqueue":   {"producers", "msgs_per_s", "baseline_msgs_per_s", "ratio"},
		"ingest":           {"conns", "req_per_s", "p50_ms", "p99_ms", "baseline_req_per_s", "ratio"},
		"drain":            {"messages", "keys", "msgs_per_s", "baseline_msgs_per_s", "ratio", "order_violations"},
		"poll-map":         {"records", "ms_per_cycle", "allocs_per_record", "baseline_ms_per_cycle", "ratio"},
		"sql-poll-changed": {"rows", "queued", "ms", "baseline_ms", "ratio"},
		"sql-poll-steady":  {"rows", "queued", "ms", "baseline_ms", "ratio"},
		"sql-poll-idle":    {"rows", "queued", "ms", "baseline_ms", "ratio"},
		"filedrop-burst":   {"files", "file_kb", "stable_for_ms", "ms", "cpu_ms", "baseline_ms", "ratio"},
		"eido-stream":      {"notifies", "rate_per_s", "p50_ms", "p99_ms", "max_ms", "fsync_p50_ms", "fsync_p99_ms", "noop_emit_p50_ms", "noop_emit_p99_ms"},
		"csv-map":          {"rows", "file_mb", "ms", "cpu_ms", "peak_heap_mb", "mem_ratio", "baseline_ms", "baseline_peak_heap_mb", "ratio"},
	}
	positive := []string{"msgs_per_s", "baseline_msgs_per_s", "ratio", "req_per_s", "p50_ms", "p99_ms",
		"baseline_req_per_s", "ms_per_cycle", "ms", "baseline_ms", "allocs_per_record", "baseline_ms_per_cycle", "producers", "conns", "messages", "keys", "records",
		"file_mb", "peak_heap_mb", "mem_ratio", "baseline_peak_heap_mb"}
	seen := map[string]bool{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := sc.Text()
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line is not JSON: %v\n%s", err, line)
		}
		name, _ := m["bench"].(string)
		keys, ok := want[name]
		if !ok {
			t.Fatalf("unknown bench %q: %s", name, line)
		}
		if seen[name] {
			t.Fatalf("bench %q printed twice", name)
		}
		seen[name] = true
		if why, _ := m["skipped"].(string); why != "" {
			// Only the sql-poll scenarios skip, and only without PostgreSQL.
			if !strings.HasPrefix(name, "sql-poll-") || dbtest.Missing(dbtest.KindPostgres) == nil || os.Getenv(dbtest.EnvRequire) != "" {
				t.Errorf("%s skipped: %s", name, line)
			}
			continue
		}
		for _, k := range keys {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("%s: %q missing or not a number: %s", name, k, line)
			}
		}
		for _, k := range positive {
			if v, ok := m[k].(float64); ok && v <= 0 {
				t.Errorf("%s: %s = %v, want > 0: %s", name, k, v, line)
			}
		}
		if v, ok := m["order_violations"].(float64); ok && v != 0 {
			t.Errorf("%s: %v order violations", name, v)
		}
		if _, ok := m["ok"].(bool); !ok {
			t.Errorf("%s: no ok field: %s", name, line)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("no line for %s:\n%s", name, out.String())
		}
	}
}

func TestOnly(t *testing.T) {
	var out, logs bytes.Buffer
	p := tinyParams(t)
	if err := run(context.Background(), &out, &logs, p, "poll-map"); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 1 || !strings.Contains(out.String(), `"bench":"poll-map"`) {
		t.Fatalf("-only poll-map printed:\n%s", out.String())
	}
	if err := run(context.Background(), &out, &logs, p, "poll-map,nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown scenario: err = %v", err)
	}
}

// TestRounds: several rounds print one line of medians.
func TestRounds(t *testing.T) {
	var out, logs bytes.Buffer
	p := tinyParams(t)
	p.Rounds = 3
	if err := run(context.Background(), &out, &logs, p, "drain"); err != nil {
		t.Fatal(err)
	}
	var r drainResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if r.Messages != p.DrainMsgs || r.MsgsPerS <= 0 || r.OrderViolations != 0 || strings.Count(logs.String(), "drain round") != 3 {
		t.Fatalf("got %s\nstderr:\n%s", out.String(), logs.String())
	}
}

// TestBudget: once the time budget is spent, a scenario stops after its first round.
func TestBudget(t *testing.T) {
	var out, logs bytes.Buffer
	p := tinyParams(t)
	p.Rounds, p.Budget = 3, time.Nanosecond
	if err := run(context.Background(), &out, &logs, p, "poll-map"); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "poll-map round"); n != 1 || !strings.Contains(logs.String(), "skipping the other 2") {
		t.Fatalf("%d rounds logged:\n%s", n, logs.String())
	}
}

// TestBelowFloor: every scenario's ratio is judged against floor × its own target ratio.
func TestBelowFloor(t *testing.T) {
	tests := []struct {
		name  string
		res   result
		floor float64
		fails bool
	}{
		{"enqueue above half its target", enqueueResult{Ratio: 10.5}, 0.5, false},
		{"enqueue below half its target", enqueueResult{Ratio: 9.9}, 0.5, true},
		{"ingest at half its target", ingestResult{Ratio: 2}, 0.5, false},
		{"ingest below", ingestResult{Ratio: 1.9}, 0.5, true},
		{"drain below", drainResult{Ratio: 1.1}, 0.5, true},
		{"drain above", drainResult{Ratio: drainTargetRatio}, 0.5, false},
		{"poll-map below", pollMapResult{Ratio: 0.9}, 0.5, true},
		{"poll-map above", pollMapResult{Ratio: pollMapTargetRatio}, 0.5, false},
		{"no floor", drainResult{Ratio: 0}, 0, false},
		{"sql-poll-steady below", sqlPollResult{Ratio: 0.1, targetRatio: sqlSteadyTargetRatio}, 0.5, true},
		{"sql-poll-steady above", sqlPollResult{Ratio: 0.2, targetRatio: sqlSteadyTargetRatio}, 0.5, false},
		{"sql-poll skipped (no PostgreSQL)", sqlPollResult{Skipped: "postgres not installed", targetRatio: sqlIdleTargetRatio}, 0.5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := belowFloor(tt.res, tt.floor)
			if (err != nil) != tt.fails {
				t.Fatalf("belowFloor = %v, want failure %v", err, tt.fails)
			}
		})
	}
}

// TestFloorFailsTheRun: with a floor no ratio can reach, run reports the scenario.
func TestFloorFailsTheRun(t *testing.T) {
	var out, logs bytes.Buffer
	p := tinyParams(t)
	p.Floor = 1e9
	err := run(context.Background(), &out, &logs, p, "poll-map")
	if err == nil || !strings.Contains(err.Error(), "poll-map: ratio") || !strings.Contains(err.Error(), "below the floor") {
		t.Fatalf("run = %v, want the poll-map ratio below the floor", err)
	}
	if !strings.Contains(out.String(), `"bench":"poll-map"`) {
		t.Fatalf("the line is still printed: %q", out.String())
	}
}

// TestSQLChangedNotQuick: without SQLChanged (-quick) sql-poll-changed prints why it did
// not run, and starts no server.
func TestSQLChangedNotQuick(t *testing.T) {
	var out, logs bytes.Buffer
	p := tinyParams(t)
	p.SQLChanged = false
	if err := run(context.Background(), &out, &logs, p, "sql-poll-changed"); err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if why, _ := r["skipped"].(string); !strings.Contains(why, "not run with -quick") || strings.Contains(logs.String(), "PostgreSQL on") {
		t.Fatalf("got %s\nstderr:\n%s", out.String(), logs.String())
	}
}
