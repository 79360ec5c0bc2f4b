package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// runSidecar writes yaml as dir/config.yaml, builds the sidecar from it, binds its
// listeners and runs it until stop is called; stop returns Run's error.
func runSidecar(ctx context.Context, dir, yaml string) (s *sidecar.Sidecar, stop func() error, err error) {
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return nil, nil, err
	}
	cfg, err := config.Load(path, config.Options{Environ: []string{}})
	if err != nil {
		return nil, nil, err
	}
	s, err = sidecar.New(cfg, sidecar.Options{})
	if err != nil {
		return nil, nil, err
	}
	if err := s.Listen(); err != nil {
		s.Store().Close()
		return nil, nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	return s, func() error { cancel(); return <-done }, nil
}
