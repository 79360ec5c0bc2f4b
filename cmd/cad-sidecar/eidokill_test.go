package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// eidoServer is a minimal EIDO conveyance server (NENA-STA-024): it answers subscribes,
// keeps every notified EIDO until its eventResponse and sends the unacknowledged ones
// again to each new subscription.
type eidoServer struct {
	mu      sync.Mutex
	pending []eidoNotify
	current *websocket.Conn
	subs    int
}

type eidoNotify struct {
	tx, id string
	data   []byte
}

func (s *eidoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"emergency-ent1.0"}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		_, data, err := c.Read(context.Background())
		if err != nil {
			return
		}
		var m map[string]map[string]any
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		switch {
		case m["subscribe"] != nil:
			s.mu.Lock()
			s.subs++
			s.current = c
			resend := append([]eidoNotify(nil), s.pending...)
			s.mu.Unlock()
			write(c, fmt.Sprintf(`{"subscribeResponse":{"requestId":%q,"subscriptionId":"sub%d","expires":3600,"statusCode":200,"statusText":"OK"}}`, m["subscribe"]["requestId"], s.subs))
			for _, p := range resend {
				write(c, string(p.data))
			}
		case m["eventResponse"] != nil:
			tx, _ := m["eventResponse"]["transactionId"].(string)
			s.mu.Lock()
			for i, p := range s.pending {
				if p.tx == tx {
					s.pending = append(s.pending[:i:i], s.pending[i+1:]...)
					break
				}
			}
			s.mu.Unlock()
		}
	}
}

func write(c *websocket.Conn, msg string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Write(ctx, websocket.MessageText, []byte(msg))
}

// notify queues the EIDO id and sends it to the current subscription.
func (s *eidoServer) notify(id string, n int) {
	eido := map[string]any{"$id": id, "callComponent": []any{map[string]any{"$id": id + ":call", "standardPrimaryCallType": "emergency"}}}
	ev := map[string]any{"event": map[string]any{"subscriptionId": "sub", "transactionId": fmt.Sprintf("tx%d@test", n), "notification": []any{eido}}}
	data, _ := json.Marshal(ev)
	s.mu.Lock()
	s.pending = append(s.pending, eidoNotify{tx: fmt.Sprintf("tx%d@test", n), id: id, data: data})
	c := s.current
	s.mu.Unlock()
	if c != nil {
		write(c, string(data))
	}
}

func (s *eidoServer) unacked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// TestEIDOKilled: the real binary subscribed to an EIDO stream is SIGKILLed again and
// again while EIDOs arrive; in the end every notified EIDO is linked and acknowledged — an
// EIDO is acknowledged only once its link is durable, and what was not acknowledged is
// sent again by the server after the restart.
func TestEIDOKilled(t *testing.T) {
	const total, kills = 30, 5
	as := sim.NewAssist(sim.AssistOptions{Token: rigToken, Seed: 3, NotesPerCall: 1, NoteEvery: 50 * time.Millisecond, PushRetryEvery: 50 * time.Millisecond})
	r := newRig(t, sim.NewCAD(sim.CADOptions{}), as)
	es := &eidoServer{}
	srv := httptest.NewServer(es)
	t.Cleanup(srv.Close)

	b, err := os.ReadFile(r.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	start, end := strings.Index(cfg, "cad:\n"), strings.Index(cfg, "mapping:\n")
	cfg = cfg[:start] + fmt.Sprintf("cad:\n  adapter: eido\n  eido: {url: %q, reconnect: {initial: 20ms, max: 200ms}}\n", "ws"+strings.TrimPrefix(srv.URL, "http")+"/eido") + cfg[end:]
	cfg = strings.Replace(cfg, "  incident_id: IncidentNumber\n  fields: [{name: Nature, from: Nature.Code}]\n",
		"  incident_id: $id\n  fields: [{name: CallType, from: 'callComponent[0].standardPrimaryCallType'}]\n", 1)
	if err := os.WriteFile(r.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= total; i++ {
			es.notify(fmt.Sprintf("urn:emergency:uid:incidentid:%d:test", i), i)
			time.Sleep(40 * time.Millisecond) // a stream, not a burst: kills land mid-stream
		}
	}()
	p := r.start(t)
	var atKill []string
	before := 0 // subscriptions before the last start: the last process's comes after these
	for range kills {
		time.Sleep(250 * time.Millisecond)
		p.kill()
		atKill = append(atKill, fmt.Sprintf("%d linked/%d unacked", len(as.Links()), es.unacked()))
		es.mu.Lock()
		before = es.subs
		es.mu.Unlock()
		p = r.start(t)
	}
	<-done
	t.Cleanup(func() {
		es.mu.Lock()
		defer es.mu.Unlock()
		t.Logf("end: subscriptions=%d (before the last start %d), unacked=%d, linked=%d", es.subs, before, len(es.pending), len(as.Links()))
	})
	waitFor(t, 60*time.Second, "every EIDO linked and acknowledged, and the last process subscribed", func() bool {
		es.mu.Lock()
		subscribed := es.subs > before
		es.mu.Unlock()
		return subscribed && es.unacked() == 0 && len(as.Links()) == total
	})
	for i := 1; i <= total; i++ {
		if _, ok := as.Links()[fmt.Sprintf("urn:emergency:uid:incidentid:%d:test", i)]; !ok {
			t.Errorf("EIDO %d not linked", i)
		}
	}
	es.mu.Lock()
	subs := es.subs
	es.mu.Unlock()
	if subs < 2 {
		t.Fatalf("%d subscriptions: no restart subscribed again", subs)
	}
	t.Logf("kills=%d subscriptions=%d at each kill: %s", kills, subs, strings.Join(atKill, ", "))
	p.kill()
}
