package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBuildServiceSpec: install stores the config's absolute path in the service's
// arguments (the service starts in another folder), with the recovery actions and the
// delayed automatic start; names the service manager would misread are refused.
func TestBuildServiceSpec(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "cad-sidecar.exe")
	t.Chdir(dir)
	t.Setenv("CAD_SIDECAR_CONFIG", "")
	tests := []struct {
		name, cfgFlag, svcName, env string
		wantConfig, wantDisplay     string
		wantErr                     string
	}{
		{name: "relative flag", cfgFlag: "conf/sidecar.yaml", svcName: "cad-sidecar",
			wantConfig: filepath.Join(dir, "conf", "sidecar.yaml"), wantDisplay: "cad-sidecar"},
		{name: "absolute flag", cfgFlag: "/etc/cad/config.yaml", svcName: "cad-sidecar",
			wantConfig: "/etc/cad/config.yaml", wantDisplay: "cad-sidecar"},
		{name: "env", env: "from-env.yaml", svcName: "cad-sidecar",
			wantConfig: filepath.Join(dir, "from-env.yaml"), wantDisplay: "cad-sidecar"},
		{name: "default file", svcName: "cad-sidecar-2",
			wantConfig: filepath.Join(dir, "config.yaml"), wantDisplay: "cad-sidecar (cad-sidecar-2)"},
		{name: "empty name", svcName: "", wantErr: "--name must not be empty"},
		{name: "backslash", svcName: `a\b`, wantErr: "must not contain"},
		{name: "long name", svcName: strings.Repeat("x", 257), wantErr: "longer than 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CAD_SIDECAR_CONFIG", tt.env)
			spec, err := buildServiceSpec(exe, tt.cfgFlag, tt.svcName)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if spec.Config != tt.wantConfig {
				t.Errorf("Config %q, want %q", spec.Config, tt.wantConfig)
			}
			if want := []string{"run", "--config", tt.wantConfig}; !slices.Equal(spec.Args, want) {
				t.Errorf("Args %q, want %q", spec.Args, want)
			}
			if spec.Name != tt.svcName || spec.DisplayName != tt.wantDisplay || spec.Exe != exe || !spec.DelayedAutoStart {
				t.Errorf("spec %+v", spec)
			}
			if !strings.Contains(spec.Description, tt.wantConfig) {
				t.Errorf("Description %q should name the config", spec.Description)
			}
			rec := spec.Recovery
			want := []time.Duration{time.Minute, time.Minute, time.Minute}
			if !slices.Equal(rec.Restarts, want) || rec.ResetPeriod != 24*time.Hour || !rec.OnNonCrashFailures {
				t.Errorf("Recovery %+v, want restarts after 1m ×3, reset after a day, on non-crash failures too", rec)
			}
		})
	}
	if _, err := buildServiceSpec("cad-sidecar.exe", "", "cad-sidecar"); err == nil {
		t.Error("a relative executable path was accepted")
	}
}

// TestServeServiceStop: the service manager's Stop cancels the run's context; stop
// pending is reported while it winds down, and run's exit code is returned.
func TestServeServiceStop(t *testing.T) {
	stop := make(chan struct{})
	var states []svcState
	started := make(chan struct{})
	body := func(ctx context.Context) int {
		close(started)
		<-ctx.Done()
		return exitOK
	}
	result := make(chan int, 1)
	go func() {
		result <- serveService(context.Background(), stop, func(s svcState) { states = append(states, s) }, body)
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("body was not started within 10s")
	}
	close(stop)
	select {
	case code := <-result:
		if code != exitOK {
			t.Errorf("exit %d, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serveService did not return within 10s of Stop: the context was not cancelled")
	}
	if want := []svcState{stateStartPending, stateRunning, stateStopPending}; !slices.Equal(states, want) {
		t.Errorf("states %v, want %v", states, want)
	}
}

// TestServeServiceFailure: run failing on its own (bad config, damaged data file) is
// returned as its exit code, so that the service manager counts a failure and recovers.
func TestServeServiceFailure(t *testing.T) {
	var states []svcState
	code := serveService(context.Background(), make(chan struct{}), func(s svcState) { states = append(states, s) },
		func(ctx context.Context) int { return exitProblems })
	if code != exitProblems {
		t.Errorf("exit %d, want %d", code, exitProblems)
	}
	if slices.Contains(states, stateStopPending) {
		t.Errorf("states %v: nothing asked it to stop", states)
	}
}
