package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDemoDuration runs the built binary's `demo --duration 8s` end to end and checks the
// contract's JSON summary line: exactly the keys incidents_linked, notes_delivered and
// dead_letters, integers, with incidents linked and notes delivered and no dead letter.
func TestDemoDuration(t *testing.T) {
	bin := sidecarBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "demo", "--duration", "8s")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo --duration 8s: %v (context: %v)\nstderr:\n%s", err, ctx.Err(), stderr.String())
	}
	lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("stdout has %d lines, want the one JSON summary line:\n%s", len(lines), stdout.String())
	}
	dec := json.NewDecoder(strings.NewReader(lines[0]))
	dec.UseNumber()
	var summary map[string]any
	if err := dec.Decode(&summary); err != nil {
		t.Fatalf("summary line %q: %v", lines[0], err)
	}
	var keys []string
	for k := range summary {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"dead_letters", "incidents_linked", "notes_delivered"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("summary keys %v, want exactly %v: %s", keys, want, lines[0])
	}
	n := map[string]int64{}
	for k, v := range summary {
		num, ok := v.(json.Number)
		if !ok {
			t.Fatalf("%s = %v (%T), want an integer: %s", k, v, v, lines[0])
		}
		i, err := num.Int64()
		if err != nil {
			t.Fatalf("%s = %v, want an integer: %v", k, num, err)
		}
		n[k] = i
	}
	if n["incidents_linked"] <= 0 || n["notes_delivered"] <= 0 || n["dead_letters"] != 0 {
		t.Fatalf("summary %s: want incidents_linked > 0, notes_delivered > 0, dead_letters == 0\nstderr (end):\n%s",
			lines[0], stderr.String()[max(0, stderr.Len()-4096):])
	}
	t.Logf("summary %s", lines[0])
}
