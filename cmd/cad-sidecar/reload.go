package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// reloader is what a SIGHUP reloads (the sidecar's mapping and note templates).
type reloader interface{ Reload() error }

// reloadOnSIGHUP reloads s's mapping at every SIGHUP, and at every request on requests
// (the Windows service manager's ParamChange; nil = none), until ctx is done or the
// returned stop is called (which waits for the goroutine). A refused mapping keeps the
// running one; Reload logs why at ERROR with the key and line.
func reloadOnSIGHUP(ctx context.Context, s reloader, log *slog.Logger, requests <-chan struct{}) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading the mapping")
				_ = s.Reload() // logged by Reload
			case <-requests:
				log.Info("service manager ParamChange: reloading the mapping")
				_ = s.Reload()
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		wg.Wait()
	}
}
