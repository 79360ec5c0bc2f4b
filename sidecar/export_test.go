package sidecar

import "context"

// PruneState runs one state pruning pass (tests).
func (s *Sidecar) PruneState(ctx context.Context) { s.pruneState(ctx) }
