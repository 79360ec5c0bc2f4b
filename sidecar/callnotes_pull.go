package sidecar

import (
	"context"
	"strings"
	"time"

	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// How often a linked call that has not ended is looked up (GET /call/{id}) to see whether
// it did: in pull-only mode, where no CallStatus webhook comes, after each pull of the call
// but at most every callEndCheckEvery; with webhooks (push, both), where the ENDED webhook
// may have been lost (the receiver down as the call ended), by a sweep every
// endSweepEvery over the calls linked at least endCheckAfter ago, each at most every
// endCheckAfter, until assist.pull.max_age after its link.
const (
	callEndCheckEvery = 30 * time.Second
	endSweepEvery     = time.Minute
	endCheckAfter     = 5 * time.Minute
)

// checkEnded is the notes puller's look-up (pull-only mode), after each pull of a linked
// call that has not ended.
func (r *callNoteRunner) checkEnded(ctx context.Context, l outbox.Link) {
	if r.s.cfg.PushNotes() {
		return
	}
	r.lookUpEnd(ctx, l, callEndCheckEvery)
}

// sweepEnds looks up the linked calls with no ENDED status whose webhook may have been
// lost (push and both modes).
func (r *callNoteRunner) sweepEnds(ctx context.Context) {
	if !r.s.cfg.PushNotes() {
		return
	}
	if summary, transcript := r.enabled(); !summary && !transcript {
		return
	}
	links, err := r.s.store.Links()
	if err != nil {
		r.s.log.Error("call notes: read links", "err", err)
		return
	}
	now := r.now()
	for _, l := range links {
		if ctx.Err() != nil {
			return
		}
		age := now.Sub(l.LinkedAt)
		if l.CallID == "" || l.Status == assist.CallEnded || age < endCheckAfter || age > r.s.cfg.Assist.Pull.MaxAge {
			continue
		}
		r.lookUpEnd(ctx, l, endCheckAfter)
	}
}

// lookUpEnd asks Assist whether a linked call that has not ended did, at most once per
// every per call, and only when the mapping wants a summary or a transcript. A call whose
// callStatus is ENDED (or COMPLETED) is then recorded as ended, as the webhook would have
// done (the call_status note included, when enabled).
func (r *callNoteRunner) lookUpEnd(ctx context.Context, l outbox.Link, every time.Duration) {
	if l.CallID == "" {
		return
	}
	if summary, transcript := r.enabled(); !summary && !transcript {
		return
	}
	now := r.now()
	r.mu.Lock()
	if last, ok := r.checked[l.CallID]; ok && now.Sub(last) < every {
		r.mu.Unlock()
		return
	}
	if len(r.checked) > 4096 { // calls that never ended: forget the old checks
		for id, at := range r.checked {
			if now.Sub(at) > r.s.cfg.Assist.Pull.MaxAge {
				delete(r.checked, id)
			}
		}
	}
	r.checked[l.CallID] = now
	r.mu.Unlock()
	call, err := r.s.client.GetCall(ctx, l.CallID)
	if err != nil {
		r.s.log.Debug("looking up whether the call ended failed", "call_id", l.CallID, "incident_id", l.IncidentID, "err", err)
		return
	}
	switch strings.ToUpper(strings.TrimSpace(call.CallStatus)) {
	case assist.CallEnded, "COMPLETED":
	default:
		return
	}
	r.s.log.Info("no ENDED status came for the call, but Assist says it ended", "call_id", l.CallID, "incident_id", l.IncidentID)
	if err := r.s.callStatus(ctx, assist.CallStatusUpdateWebhook{CallID: l.CallID, Status: assist.CallEnded}); err != nil {
		r.s.log.Warn("recording the end of the call failed", "call_id", l.CallID, "incident_id", l.IncidentID, "err", err)
		return
	}
	r.mu.Lock()
	delete(r.checked, l.CallID)
	r.mu.Unlock()
}
