package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// cmdHealthcheck probes the admin listener; it is the Docker HEALTHCHECK (the image has no
// shell or curl). Exit 0 healthy, 1 not.
func cmdHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("healthcheck", stderr)
	cfgPath := fs.String("config", "", "config file, to find admin.listen (default $CAD_SIDECAR_CONFIG, then ./config.yaml)")
	addr := fs.String("addr", "", "admin address host:port (overrides the config)")
	ready := fs.Bool("ready", false, "probe /readyz (can do its job) instead of /healthz (is alive)")
	timeout := fs.Duration("timeout", 3*time.Second, "time to wait for the answer")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	target := *addr
	if target == "" {
		// Without --addr the config is the only source of the address: guessing a default
		// port would probe whatever else listens there and could report it healthy.
		path := config.ResolvePath(*cfgPath)
		cfg, err := config.Load(path, config.Options{})
		if err != nil {
			fmt.Fprint(stderr, healthcheckConfigError(path, err))
			return exitFailure
		}
		target = sidecar.ResolveAdminListen(cfg) // listen.json when admin.listen has port 0
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: bad address %q: %v\n", target, err)
		return exitFailure
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return exitFailure
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return exitFailure
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprintf(stdout, "%s %s", resp.Status, body)
	if resp.StatusCode != http.StatusOK {
		return exitFailure
	}
	return exitOK
}

// healthcheckConfigError says which config file could not be loaded, why (one line per
// problem), and how to probe without one.
func healthcheckConfigError(path string, err error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "healthcheck: cannot load the config %s (to find admin.listen):\n", path)
	var ps config.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintf(&b, "  %s\n", p.String())
		}
	} else {
		fmt.Fprintf(&b, "  %v\n", err)
	}
	b.WriteString("healthcheck: give --config FILE, or --addr HOST:PORT to probe without a config\n")
	return b.String()
}
