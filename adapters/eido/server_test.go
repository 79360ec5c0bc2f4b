package eido_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsServer is an EIDO conveyance server for the tests: it speaks the messages of the
// fixtures in testdata (subscribe → subscribeResponse, event → eventResponse, terminate,
// unsubscribe), keeps every notified EIDO until its eventResponse arrives and sends the
// unacknowledged ones again to every new subscription, as a conveyance server does.
type wsServer struct {
	t *testing.T

	mu           sync.Mutex
	pending      []pendingNotify // notified, not yet acknowledged, in order
	acks         []string        // transactionIds answered 200
	refusals     map[string]int  // transactionId → statusCode of an eventResponse that was not 200
	subscribes   int             // new subscriptions accepted
	renewals     int
	late         int // renewals that came after the subscription had expired
	unsubscribes int
	termAnswers  int
	lastSub      map[string]any
	conns        map[*websocket.Conn]bool
	current      *websocket.Conn
	subID        string
	deadline     time.Time
	seq          int
	down         bool

	// Knobs, set before use.
	expires     int    // seconds granted (default 3600)
	token       string // required bearer ("" = none)
	refuseSubs  int    // the next n subscribes are answered 503
	dropOnce    bool   // close the connection right after the next notify is sent
	twice       bool   // every notify is sent twice
	deafOnce    bool   // after the next subscribeResponse, stop reading that connection (pings go unanswered)
	quit        chan struct{}
	srv         *httptest.Server
	tlsServer   func(*httptest.Server)
	addr        string
	clientCerts []string // CommonNames of client certificates seen
}

type pendingNotify struct {
	tx   string
	data []byte
}

func newServer(t *testing.T, configure func(*wsServer)) *wsServer {
	t.Helper()
	s := &wsServer{t: t, expires: 3600, conns: map[*websocket.Conn]bool{}, quit: make(chan struct{})}
	if configure != nil {
		configure(s)
	}
	s.start(t, "127.0.0.1:0")
	t.Cleanup(func() { close(s.quit); s.stop() })
	return s
}

// url is the server's WebSocket URL.
func (s *wsServer) url() string {
	if s.tlsServer != nil {
		return "wss://" + s.addr + "/eido"
	}
	return "ws://" + s.addr + "/eido"
}

func (s *wsServer) start(t *testing.T, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(s)
	srv.Listener.Close()
	srv.Listener = l
	if s.tlsServer != nil {
		s.tlsServer(srv)
	} else {
		srv.Start()
	}
	s.mu.Lock()
	s.srv, s.addr = srv, l.Addr().String()
	s.mu.Unlock()
}

// stop closes every connection and the listener.
func (s *wsServer) stop() {
	s.mu.Lock()
	srv := s.srv
	conns := s.conns
	s.conns, s.current, s.subID = map[*websocket.Conn]bool{}, nil, ""
	s.mu.Unlock()
	for c := range conns {
		_ = c.CloseNow()
	}
	if srv != nil {
		srv.Close()
	}
}

// restart stops the server and starts it again on the same address, keeping what it
// has not had acknowledged (a server with a durable queue).
func (s *wsServer) restart(t *testing.T, between func()) {
	t.Helper()
	s.stop()
	if between != nil {
		between()
	}
	s.start(t, s.addr)
}

func (s *wsServer) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	conns := s.conns
	if down {
		s.conns, s.current, s.subID = map[*websocket.Conn]bool{}, nil, ""
	}
	s.mu.Unlock()
	if down {
		for c := range conns {
			_ = c.CloseNow()
		}
	}
}

func (s *wsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	down, token := s.down, s.token
	if r.TLS != nil {
		for _, c := range r.TLS.PeerCertificates {
			s.clientCerts = append(s.clientCerts, c.Subject.CommonName)
		}
	}
	s.mu.Unlock()
	if down {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"emergency-ent1.0"}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	if c.Subprotocol() != "emergency-ent1.0" {
		_ = c.Close(websocket.StatusPolicyViolation, "subprotocol emergency-ent1.0 required")
		return
	}
	s.mu.Lock()
	s.conns[c] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		if s.current == c {
			s.current, s.subID = nil, ""
		}
		s.mu.Unlock()
	}()
	for {
		_, data, err := c.Read(context.Background())
		if err != nil {
			return
		}
		s.handle(c, data)
	}
}

func (s *wsServer) handle(c *websocket.Conn, data []byte) {
	var m map[string]map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		s.t.Errorf("server: the client sent a message that is not a JSON object: %s", data)
		return
	}
	switch {
	case m["subscribe"] != nil:
		sub := m["subscribe"]
		s.mu.Lock()
		s.lastSub = sub
		if s.refuseSubs > 0 {
			s.refuseSubs--
			s.mu.Unlock()
			s.send(c, fmt.Sprintf(`{"subscribeResponse":{"requestId":%q,"statusCode":503,"statusText":"Service Unavailable"}}`, sub["requestId"]))
			return
		}
		if id, _ := sub["subscriptionId"].(string); id != "" && id == s.subID && s.current == c {
			s.renewals++
			if time.Now().After(s.deadline) {
				s.late++
			}
			s.deadline = time.Now().Add(time.Duration(s.expires) * time.Second)
			resp := fmt.Sprintf(`{"subscribeResponse":{"requestId":%q,"subscriptionId":%q,"expires":%d,"statusCode":200,"statusText":"OK"}}`, sub["requestId"], id, s.expires)
			s.mu.Unlock()
			s.send(c, resp)
			return
		}
		s.subscribes++
		s.subID, s.current = fmt.Sprintf("sub%d", s.subscribes), c
		s.deadline = time.Now().Add(time.Duration(s.expires) * time.Second)
		resp := fmt.Sprintf(`{"subscribeResponse":{"requestId":%q,"subscriptionId":%q,"expires":%d,"statusCode":200,"statusText":"OK"}}`, sub["requestId"], s.subID, s.expires)
		resend := append([]pendingNotify(nil), s.pending...)
		deaf := s.deafOnce
		s.deafOnce = false
		s.mu.Unlock()
		s.send(c, resp)
		if deaf {
			<-s.quit // a server that hangs: it reads nothing more, answers no ping
			return
		}
		for _, p := range resend {
			s.sendNotify(c, p)
		}
	case m["eventResponse"] != nil:
		r := m["eventResponse"]
		tx, _ := r["transactionId"].(string)
		s.mu.Lock()
		if code, _ := r["statusCode"].(float64); code != 200 {
			if s.refusals == nil {
				s.refusals = map[string]int{}
			}
			s.refusals[tx] = int(code)
			s.mu.Unlock()
			return
		}
		s.acks = append(s.acks, tx)
		for i, p := range s.pending {
			if p.tx == tx {
				s.pending = append(s.pending[:i:i], s.pending[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
	case m["unsubscribe"] != nil:
		s.mu.Lock()
		s.unsubscribes++
		id := s.subID
		s.current, s.subID = nil, ""
		s.mu.Unlock()
		s.send(c, fmt.Sprintf(`{"unsubscribeResponse":{"subscriptionId":%q,"statusCode":200,"statusText":"Unsubscribed"}}`, id))
	case m["terminateResponse"] != nil:
		s.mu.Lock()
		s.termAnswers++
		s.mu.Unlock()
	}
}

func (s *wsServer) send(c *websocket.Conn, msg string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.Write(ctx, websocket.MessageText, []byte(msg))
}

func (s *wsServer) sendNotify(c *websocket.Conn, p pendingNotify) {
	s.send(c, string(p.data))
	s.mu.Lock()
	twice, drop := s.twice, s.dropOnce
	s.dropOnce = false
	s.mu.Unlock()
	if twice {
		s.send(c, string(p.data))
	}
	if drop {
		_ = c.CloseNow()
	}
}

// notify queues eido and sends it to the current subscription (if any); it returns the
// notification's transactionId.
func (s *wsServer) notify(t *testing.T, eido map[string]any) string {
	t.Helper()
	return s.notifyRaw(t, eido)
}

// notifyRaw is notify with any JSON value as the notification's EIDO.
func (s *wsServer) notifyRaw(t *testing.T, eido any) string {
	t.Helper()
	s.mu.Lock()
	s.seq++
	tx := fmt.Sprintf("tx%d@192.0.2.1", s.seq)
	ev := fixture(t, "NotifyWithEido.json")
	e := ev["event"].(map[string]any)
	e["subscriptionId"], e["transactionId"], e["notification"] = s.subID, tx, []any{eido}
	data, err := json.Marshal(ev)
	if err != nil {
		s.mu.Unlock()
		t.Fatal(err)
	}
	p := pendingNotify{tx: tx, data: data}
	s.pending = append(s.pending, p)
	c := s.current
	s.mu.Unlock()
	if c != nil {
		s.sendNotify(c, p)
	}
	return tx
}

// terminate sends a terminate to the current subscription.
func (s *wsServer) terminate(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	c, id := s.current, s.subID
	s.mu.Unlock()
	if c == nil {
		t.Fatal("terminate: no subscription")
	}
	s.send(c, fmt.Sprintf(`{"terminate":{"requestId":"63bfd612-f558-4489-b653-caa76a7edb9b","subscriptionId":%q}}`, id))
}

// ping pings the current subscription's connection: its pong comes after anything the
// client wrote before it, so an ack not seen once ping returned was not sent before.
func (s *wsServer) ping(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	c := s.current
	s.mu.Unlock()
	if c == nil {
		t.Fatal("ping: no subscription")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

// acked counts the eventResponses for tx.
func (s *wsServer) acked(tx string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, a := range s.acks {
		if a == tx {
			n++
		}
	}
	return n
}

// stat reads a counter under the lock.
func (s *wsServer) stat(f func(s *wsServer) int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f(s)
}

// fixture is a testdata JSON file decoded.
func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// testEIDO is NENA's sample EIDO with $id set to id.
func testEIDO(t *testing.T, id string) map[string]any {
	t.Helper()
	e := fixture(t, "EidoWithJcard.json")
	e["$id"] = id
	return e
}

// waitFor polls cond every 10ms until it holds, failing after 30s with what it waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30s waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
