package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/outbox"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// The operator commands (deadletter, cursor) act on the running sidecar through its admin
// API, or on the data file when the sidecar is stopped. Which one is decided by trying to
// open the data file: bbolt's lock held (after outbox.Open's short lock timeout) means a
// sidecar runs, so the admin API at admin.listen is used.

// apiTimeout bounds one admin API call of the CLI.
const apiTimeout = 30 * time.Second

// target is where an operator command acts: exactly one of store and api is set.
type target struct {
	cfg   *config.Config
	store *outbox.Store // offline: the data file, opened by this process
	api   string        // online: base URL of the running sidecar's admin listener
	hc    *http.Client
}

// where says which one, for the operator (stderr).
func (t *target) where() string {
	if t.store != nil {
		return "on the data file " + sidecar.StorePath(t.cfg) + " (the sidecar is not running)"
	}
	return "through the running sidecar at " + t.api
}

func (t *target) close() {
	if t.store != nil {
		_ = t.store.Close()
	}
}

// topicPagePath is the admin API address of one page of a listing by topic (outbox, dead
// letters): path?limit=&topic=&after=&content=1, empty parameters left out.
func topicPagePath(path string, limit int, topic, after string, content bool) string {
	v := url.Values{"limit": {strconv.Itoa(limit)}}
	if topic != "" {
		v.Set("topic", topic)
	}
	if after != "" {
		v.Set("after", after)
	}
	if content {
		v.Set("content", "1")
	}
	return path + "?" + v.Encode()
}

// printJSON prints v as indented JSON: the --json output of the operator commands.
func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// configFlag adds the --config flag of the operator commands.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "config file (default $CAD_SIDECAR_CONFIG, then ./config.yaml)")
}

// openConfigured loads the config at cfgPath, opens its target (openTarget) and says on
// stderr where it works. On failure it reports under cmd's name and returns nil and the
// exit code. The caller closes the target.
func openConfigured(ctx context.Context, cfgPath string, inspect bool, cmd string, stderr io.Writer) (*target, int) {
	cfg, code := loadConfig(cfgPath, stderr)
	if cfg == nil {
		return nil, code
	}
	t, err := openTarget(ctx, cfg, inspect)
	if err != nil {
		return nil, failed(stderr, cmd, err)
	}
	fmt.Fprintln(stderr, "working", t.where())
	return t, exitOK
}

// openTarget opens the data file, or finds the running sidecar that holds it. The file is
// opened with the config's outbox options (sidecar.StoreOptions: the limits the sidecar
// applies, max_age among them); inspect (list, show) opens it with no background work (no
// expiry sweep, no pruning), so that a command that only looks changes nothing.
func openTarget(ctx context.Context, cfg *config.Config, inspect bool) (*target, error) {
	path := sidecar.StorePath(cfg)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no data file %s: the sidecar has not run with this config's data_dir (%s) yet", path, cfg.DataDir)
		}
		return nil, fmt.Errorf("data file %s: %w", path, err)
	}
	opts := sidecar.StoreOptions(cfg, slog.New(slog.DiscardHandler))
	opts.NoBackground = inspect
	st, err := outbox.Open(path, opts)
	if err == nil {
		return &target{cfg: cfg, store: st}, nil
	}
	if !errors.Is(err, berrors.ErrTimeout) {
		return nil, err
	}
	t := &target{cfg: cfg, api: adminBaseURL(sidecar.ResolveAdminListen(cfg)), hc: &http.Client{Timeout: apiTimeout}}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := t.call(pctx, http.MethodGet, "/healthz", nil, nil); err != nil {
		return nil, fmt.Errorf("the data file %s is locked by another process (a running sidecar?), and no admin API answers at %s (admin.listen): %w",
			path, t.api, err)
	}
	return t, nil
}

// adminBaseURL turns admin.listen into a URL to call (a wildcard host is called on loopback).
func adminBaseURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// call does one admin API request: in (if not nil) is sent as JSON, the answer is decoded
// into out (if not nil). An error answer comes back as the sidecar's own kinds: 400 as a
// sidecar.InputError, 404 wrapping outbox.ErrNotFound.
func (t *target) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.api+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := t.cfg.Admin.Token; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok) // admin.token: the API wants it
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e sidecar.APIError
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("%s %s: %s", method, path, resp.Status)
		}
		switch resp.StatusCode {
		case http.StatusBadRequest:
			return &sidecar.InputError{Msg: e.Error}
		case http.StatusNotFound:
			return fmt.Errorf("%s: %w", trimNotFound(e.Error), outbox.ErrNotFound)
		}
		return errors.New(e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
		}
	}
	return nil
}

// trimNotFound drops the ": not found" the server's message already ends with.
func trimNotFound(msg string) string {
	suffix := ": " + outbox.ErrNotFound.Error()
	if len(msg) > len(suffix) && msg[len(msg)-len(suffix):] == suffix {
		return msg[:len(msg)-len(suffix)]
	}
	return msg
}

// failed prints err and returns the exit code for it: 2 for bad input, 1 otherwise.
func failed(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
	var in *sidecar.InputError
	if errors.As(err, &in) {
		return exitProblems
	}
	return exitFailure
}

// parseMixed parses flags placed before, between or after the positional arguments
// (`cursor set VALUE --force`) and returns the positional ones; -1 = go on.
func parseMixed(fs *flag.FlagSet, args []string) ([]string, int) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK
			}
			return nil, exitProblems
		}
		if fs.NArg() == 0 {
			return pos, -1
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
