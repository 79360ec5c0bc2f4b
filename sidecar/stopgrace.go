package sidecar

import (
	"context"
	"time"
)

// writeStopGrace is how long a note write already sent to the CAD may go on after the
// sidecar was told to stop. Cancelling it at once would leave the note pending although the
// CAD may have stored it, and the restarted sidecar would write it again (the CAD then sees
// the same Idempotency-Key twice); waiting for the answer lets the outbox acknowledge it.
// It is well inside systemd's and compose's stop timeouts (30 s).
const writeStopGrace = 5 * time.Second

// inFlight returns a context for a write started under ctx: it is not cancelled when ctx
// is, but grace later (or when release is called). Values of ctx are kept.
func inFlight(ctx context.Context, grace time.Duration) (wctx context.Context, release func()) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(wctx, func() { t.Stop() })
	})
	return wctx, func() {
		stop()
		cancel()
	}
}
