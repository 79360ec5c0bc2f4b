package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/cad-sidecar/cad-sidecar/assist"
)

// eventKind is a set of webhook event kinds.
type eventKind uint8

const (
	eventNote eventKind = 1 << iota
	eventStatus
	eventActivation
	allEvents = eventNote | eventStatus | eventActivation
)

// hook is a registered webhook.
type hook struct {
	id, target, token, events string
	kinds                     eventKind
}

// event is one step of a call script.
type event struct {
	kind eventKind
	body any                  // the webhook payload
	note *assist.IncidentNote // for a note: the note as pushed (no NoteID)
}

// delivery is an event to push to the webhooks registered when it happened.
type delivery struct {
	ev    event
	hooks []hook
}

var phrases = []string{
	"Caller reports smoke on 2nd floor",
	"Two occupants may still be inside",
	"Caller has left the building and is not injured",
	"Smell of gas near the rear entrance",
	"Patient is conscious and breathing",
	"Suspect vehicle is a grey sedan heading north",
	"Dog on the premises",
	"Power lines down across the road",
	"Resident uses a wheelchair",
	"Caller asks for no sirens on approach",
	"Flames visible from the roof",
	"Caller hears breaking glass downstairs",
}

// plan builds a call's script; the content depends only on rng, the timestamps on now.
func (a *Assist) plan(c *simCall, rng *rand.Rand, now time.Time) []event {
	base := now.UTC().Truncate(time.Second)
	n := a.o.NotesPerCall
	evs := []event{
		{kind: eventStatus, body: assist.CallStatusUpdateWebhook{CallID: c.id, Status: assist.CallStarted}},
		{kind: eventActivation, body: assist.AssistantActivationWebhook{
			CallID: c.id, AssistantID: 1 + rng.Int64N(50), AssistantName: "Fire & Rescue Assistant",
			AssistantActivationExplanation: "Caller described a possible structure fire",
		}},
	}
	addNote := func(k int, typ, text string, critical bool) {
		note := assist.IncidentNote{Type: typ, Note: text, Critical: critical,
			CreatedAt: base.Add(time.Duration(k) * time.Second).Format("2006-01-02T15:04:05Z")}
		evs = append(evs, event{kind: eventNote, note: &note,
			body: assist.IncidentNotePayload{CallID: c.id, IncidentID: c.incidentID, Note: note}})
	}
	for i := 1; i <= n; i++ {
		addNote(i, assist.NoteInfo, fmt.Sprintf("%s (note %d of %d)", phrases[rng.IntN(len(phrases))], i, n), rng.IntN(3) == 0)
	}
	if !c.full.dropCompleted {
		addNote(n+1, assist.NoteCallCompleted, fmt.Sprintf("Call completed after %d notes", n), false)
	}
	evs = append(evs, event{kind: eventStatus, body: assist.CallStatusUpdateWebhook{CallID: c.id, Status: assist.CallEnded}})
	return evs
}

// startCall runs c's script and its pusher; a.mu is held and a is not closed.
func (a *Assist) startCall(c *simCall, rng *rand.Rand) {
	start := time.Now()
	plan := a.plan(c, rng, start)
	ch := make(chan delivery, len(plan)) // the script never blocks on the pusher
	a.wg.Go(func() { a.script(c, plan, start, ch) })
	a.wg.Go(func() {
		defer func() {
			a.mu.Lock()
			a.running--
			a.mu.Unlock()
		}()
		for d := range ch {
			for _, h := range d.hooks {
				if !a.deliver(c, d.ev, h) {
					return // closing
				}
			}
		}
	})
}

// script emits the events one NoteEvery apart: a note is stored for pull, and queued for
// the webhooks registered at that moment.
func (a *Assist) script(c *simCall, plan []event, start time.Time, ch chan<- delivery) {
	defer close(ch)
	t := time.NewTimer(a.o.NoteEvery)
	defer t.Stop()
	for i, ev := range plan {
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(time.Until(start.Add(time.Duration(i+2) * a.o.NoteEvery)))
		a.mu.Lock()
		if st, ok := ev.body.(assist.CallStatusUpdateWebhook); ok && st.Status == assist.CallEnded {
			c.full.ended = true
		}
		if ev.note != nil {
			n := *ev.note
			n.NoteID = fmt.Sprintf("%s-%d", c.id, len(c.notes)+1)
			c.notes = append(c.notes, n)
		}
		var hooks []hook
		for _, h := range a.hooks {
			if h.kinds&ev.kind != 0 && !a.webhookDown(c, ev) {
				hooks = append(hooks, h)
			}
		}
		a.mu.Unlock()
		if len(hooks) > 0 {
			ch <- delivery{ev: ev, hooks: hooks}
		}
	}
}

// deliver pushes ev to h until it is answered 2xx or PushRetryFor has passed. It returns
// false when the simulator is closing.
func (a *Assist) deliver(c *simCall, ev event, h hook) bool {
	body, err := json.Marshal(ev.body)
	if err != nil {
		panic(err) // our own types always marshal
	}
	deadline := time.Now().Add(a.o.PushRetryFor)
	for {
		err := a.pushOnce(h, body)
		a.mu.Lock()
		a.stats.Attempted++
		if err == nil {
			a.stats.Delivered++
			if ev.note != nil {
				a.acked = append(a.acked, AckedNote{CallID: c.id, IncidentID: c.incidentID, Note: *ev.note})
			}
		} else {
			a.stats.Failed++
		}
		a.mu.Unlock()
		if err == nil {
			return true
		}
		if a.ctx.Err() != nil {
			return false
		}
		if time.Now().After(deadline) {
			a.mu.Lock()
			a.stats.Abandoned++
			a.mu.Unlock()
			a.log.Warn("push given up", "call", c.id, "target", h.target, "err", err)
			return true
		}
		a.log.Debug("push failed, retrying", "call", c.id, "target", h.target, "err", err)
		select {
		case <-a.ctx.Done():
			return false
		case <-time.After(a.o.PushRetryEvery):
		}
	}
}

func (a *Assist) pushOnce(h hook, body []byte) error {
	req, err := http.NewRequestWithContext(a.ctx, http.MethodPost, h.target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if h.token != "" {
		req.Header.Set("Authorization", h.token)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %d", h.target, resp.StatusCode)
	}
	return nil
}
