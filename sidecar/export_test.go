package sidecar

import (
	"context"
	"net/http"
)

// PruneState runs one state pruning pass (tests).
func (s *Sidecar) PruneState(ctx context.Context) { s.pruneState(ctx) }

// AdminHandler is the admin listener's handler (tests call it with any remote address).
func (s *Sidecar) AdminHandler() http.Handler { return s.adminHandler() }
