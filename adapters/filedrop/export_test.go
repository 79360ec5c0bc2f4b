package filedrop

import (
	"context"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// SetClock sets the clock of the stability check.
func (s *Source) SetClock(now func() time.Time) { s.now = now }

// Scan runs one scan (periodic: an empty batch is emitted when nothing was taken).
func (s *Source) Scan(ctx context.Context, emit adapters.Emit, periodic bool) (time.Time, error) {
	return s.scan(ctx, emit, periodic)
}

// TempPattern is the sink's temp file pattern.
const TempPattern = tempPattern

// BatchFiles is the most files one emitted batch holds.
const BatchFiles = batchFiles
