package sidecar

import (
	"context"
	"strings"
	"time"

	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// callEndCheckEvery is how often, in pull-only mode, a linked call that has not ended is
// looked up (GET /call/{id}) to see whether it did.
const callEndCheckEvery = 30 * time.Second

// checkEnded asks Assist whether a linked call that has not ended did, in pull-only mode
// (assist.notes: pull), where no CallStatus webhook says so, and only when the mapping wants
// a summary or a transcript. A call whose callStatus is ENDED (or COMPLETED) is then
// recorded as ended, as the webhook would have done. Called by the notes puller after
// each pull of such a call; at most once per callEndCheckEvery per call.
func (r *callNoteRunner) checkEnded(ctx context.Context, l outbox.Link) {
	if r.s.cfg.PushNotes() || l.CallID == "" {
		return
	}
	if summary, transcript := r.enabled(); !summary && !transcript {
		return
	}
	now := r.now()
	r.mu.Lock()
	if last, ok := r.checked[l.CallID]; ok && now.Sub(last) < callEndCheckEvery {
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
		r.s.log.Debug("pull: looking up whether the call ended failed", "call_id", l.CallID, "incident_id", l.IncidentID, "err", err)
		return
	}
	switch strings.ToUpper(strings.TrimSpace(call.CallStatus)) {
	case assist.CallEnded, "COMPLETED":
	default:
		return
	}
	if err := r.s.callStatus(ctx, assist.CallStatusUpdateWebhook{CallID: l.CallID, Status: assist.CallEnded}); err != nil {
		r.s.log.Warn("pull: recording the end of the call failed", "call_id", l.CallID, "incident_id", l.IncidentID, "err", err)
		return
	}
	r.mu.Lock()
	delete(r.checked, l.CallID)
	r.mu.Unlock()
}
