package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cad-sidecar/cad-sidecar/outbox"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

const backupUsage = "usage: cad-sidecar backup --to FILE [--force] [--config FILE]"

// cmdBackup is `backup --to FILE`: a consistent copy of the data file, also while the
// sidecar runs. A stopped sidecar's file is copied from a read-only read transaction; a
// file held by a running sidecar is streamed from its admin API (GET /api/v1/backup, one
// read transaction of the running store). Either way the copy is checked before it is
// renamed to FILE, and FILE.id (the store id marker) is written beside it: FILE and
// FILE.id can be put in place of data_dir/sidecar.db and sidecar.db.id (README: Backup
// and restore). An existing FILE is refused without --force.
func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("backup", stderr)
	cfgPath := fs.String("config", "", "config file, for data_dir and admin.listen (default $CAD_SIDECAR_CONFIG, then ./config.yaml)")
	to := fs.String("to", "", "the backup file to write")
	force := fs.Bool("force", false, "replace FILE (and FILE.id) when it exists")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if *to == "" {
		fmt.Fprintln(stderr, "backup: --to FILE is required\n"+backupUsage)
		return exitProblems
	}
	cfg, code := loadConfig(*cfgPath, stderr)
	if cfg == nil {
		return code
	}
	path := sidecar.StorePath(cfg)
	where := ""
	r, err := outbox.WriteBackup(*to, *force, func(w io.Writer) (int64, error) {
		n, err := outbox.BackupFile(path, w, nil)
		if !errors.Is(err, outbox.ErrLocked) {
			where = "from the data file (the sidecar is not running)"
			return n, err
		}
		api := adminBaseURL(sidecar.ResolveAdminListen(cfg))
		where = "through the running sidecar at " + api
		return streamBackup(ctx, api, cfg.Admin.Token, w)
	})
	if err != nil {
		fmt.Fprintln(stderr, commandError("backup", err))
		return exitFailure
	}
	fmt.Fprintf(stdout, "backed up %s into %s %s: %d bytes, sound, format %s, store id %s (marker %s)\n",
		path, *to, where, r.Size, r.Format, r.StoreID, outbox.MarkerPath(*to))
	printCounts(stdout, r)
	fmt.Fprintf(stdout, "To restore: stop the sidecar, then\n  cp %s %s\n  cp %s %s\n  cad-sidecar outbox check --config %s\nand start it.\n",
		*to, path, outbox.MarkerPath(*to), outbox.MarkerPath(path), cfg.File)
	return exitOK
}

// streamBackup copies the running sidecar's GET /api/v1/backup into w. The answer must be
// whole (as long as its Content-Length).
func streamBackup(ctx context.Context, api, token string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/api/v1/backup", nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token) // admin.token: the API wants it
	}
	// No overall timeout: a large file takes what it takes; the answer must start soon.
	hc := &http.Client{Transport: &http.Transport{Proxy: nil, ResponseHeaderTimeout: apiTimeout}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("the data file is locked by a running sidecar, and its admin API at %s (admin.listen) does not answer: %w", api, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e sidecar.APIError
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = resp.Status
		}
		return 0, fmt.Errorf("GET %s/api/v1/backup: %s", api, e.Error)
	}
	start := time.Now()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("GET %s/api/v1/backup: cut short after %d bytes (%s): %w", api, n, time.Since(start).Round(time.Millisecond), err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("GET %s/api/v1/backup: cut short: %d of %d bytes", api, n, resp.ContentLength)
	}
	return n, nil
}
