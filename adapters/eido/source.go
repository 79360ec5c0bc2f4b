package eido

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// Timeouts of one session. Bounded so that a silent server cannot hold the source.
const (
	dialTimeout        = 30 * time.Second
	subscribeTimeout   = 30 * time.Second
	writeTimeout       = 10 * time.Second
	unsubscribeTimeout = 2 * time.Second
	readLimit          = 16 << 20 // bytes of one message (record.Limits' default)
)

// Keepalive pings; variables so that a test can shorten them.
var (
	pingEvery   = 30 * time.Second
	pingTimeout = 15 * time.Second
)

// Source is the EIDO subscriber.
type Source struct {
	cfg        Config
	log        *slog.Logger
	tls        *tls.Config
	bearerFile string
}

var _ adapters.Source = (*Source)(nil)

// New builds the Source: it resolves the files against deps.Dir and loads the TLS
// material, so a bad file stops the start with its key named.
func New(c *Config, deps adapters.Deps) (*Source, error) {
	tc := TLSConfig{CAFile: deps.Path(c.TLS.CAFile), CertFile: deps.Path(c.TLS.CertFile), KeyFile: deps.Path(c.TLS.KeyFile)}
	t, err := tlsConfig(tc, deps.Log())
	if err != nil {
		return nil, fmt.Errorf("cad.eido: %w", err)
	}
	s := &Source{cfg: *c, log: deps.Log(), tls: t, bearerFile: deps.Path(c.BearerFile)}
	if _, err := s.bearer(); err != nil {
		return nil, fmt.Errorf("cad.eido: %w", err)
	}
	return s, nil
}

// Run connects, subscribes and emits every notified EIDO until ctx is done. A failed
// connection or subscription is emitted as Batch.Err, and retried after a capped backoff
// with jitter; every (re)connection subscribes anew.
func (s *Source) Run(ctx context.Context, emit adapters.Emit) error {
	attempt := 0
	for {
		subscribed, err := s.session(ctx, emit)
		if ctx.Err() != nil {
			return nil
		}
		if subscribed {
			attempt = 0 // the server was fine: start the backoff over
		}
		s.log.Warn("EIDO conveyance session ended", "url", redactURL(s.cfg.URL), "err", err)
		_ = emit(ctx, adapters.Batch{Err: err})
		d := backoff(s.cfg.Reconnect, attempt)
		attempt++
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// backoff is the wait before attempt n (0 = the first retry): initial doubled n times,
// capped at max, of which a random half is jitter.
func backoff(r ReconnectConfig, n int) time.Duration {
	d := r.Initial
	for i := 0; i < n && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// keepalive pings conn every `every` until ctx is done; a pong not back within timeout
// closes the connection.
func keepalive(ctx context.Context, conn *websocket.Conn, every, timeout time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err := conn.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			_ = conn.CloseNow()
			return
		}
	}
}

// inbound is one message read (or the read's error).
type inbound struct {
	data []byte
	err  error
}

// session is one connection: dial, subscribe, then notifies, renewals and terminates
// until the connection fails or ctx is done (then it unsubscribes). subscribed reports
// whether the server accepted a subscription during it.
func (s *Source) session(ctx context.Context, emit adapters.Emit) (subscribed bool, err error) {
	opts, err := s.dialOptions()
	if err != nil {
		return false, err
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	conn, resp, err := websocket.Dial(dctx, s.cfg.URL, opts)
	cancel()
	if err != nil {
		if resp != nil {
			return false, fmt.Errorf("eido: connect %s: HTTP %d: %w", redactURL(s.cfg.URL), resp.StatusCode, err)
		}
		return false, fmt.Errorf("eido: connect %s: %w", redactURL(s.cfg.URL), err)
	}
	if p := conn.Subprotocol(); p != Subprotocol {
		_ = conn.Close(websocket.StatusProtocolError, "subprotocol "+Subprotocol+" required")
		_ = conn.CloseNow()
		return false, fmt.Errorf("eido: %s did not agree to subprotocol %s (got %q)", redactURL(s.cfg.URL), Subprotocol, p)
	}
	conn.SetReadLimit(readLimit)

	// The reader runs on its own so that control frames (ping, close) are answered while
	// an emit is blocked; messages queue for the session loop, which alone writes. The
	// pinger finds a connection that went silent (a half-open TCP connection) and closes
	// it, so the session ends and reconnects. Both stop before session returns.
	rctx, rcancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		rcancel()
		_ = conn.CloseNow()
		wg.Wait()
	}()
	in := make(chan inbound, 64)
	wg.Add(2)
	go func() {
		defer wg.Done()
		keepalive(rctx, conn, pingEvery, pingTimeout)
	}()
	go func() {
		defer wg.Done()
		for {
			_, data, err := conn.Read(rctx)
			select {
			case in <- inbound{data, err}:
			case <-rctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	ss := &subState{s: s, conn: conn}
	if err := ss.subscribe(ctx); err != nil {
		return false, err
	}
	for {
		select {
		case <-ctx.Done():
			ss.shutdown()
			return subscribed, ctx.Err()
		case <-ss.timer():
			if ss.pending != "" {
				return subscribed, fmt.Errorf("eido: no subscribeResponse within %s", ss.wait)
			}
			if err := ss.subscribe(ctx); err != nil { // renew
				return subscribed, err
			}
		case m := <-in:
			// What else has arrived meanwhile (a stream faster than one commit per
			// notify) is handled with it: its notifies share one emit, one commit.
			burst := []inbound{m}
			for more := true; more && len(burst) < maxBurst; {
				select {
				case m := <-in:
					burst = append(burst, m)
				default:
					more = false
				}
			}
			ok, err := ss.handleBurst(ctx, burst, emit)
			subscribed = subscribed || ok
			if err != nil && ctx.Err() != nil {
				ss.shutdown()
				return subscribed, ctx.Err()
			}
			if err != nil {
				return subscribed, err
			}
		}
	}
}

// maxBurst bounds the messages handled together (handleBurst).
const maxBurst = 256

// handleBurst handles messages read one after the other. The notifies among them are
// emitted together, as one batch (one durable commit for all), and each is acknowledged
// once that emit returned — so a stream that notifies faster than one commit takes is
// acknowledged at the pace of the commits, not behind a growing queue. A notify that
// cannot be decoded is answered 400 at once and holds up none of the others; any other
// message is handled in its place, after the notifies before it. A read error ends the
// session after the notifies read before it.
func (ss *subState) handleBurst(ctx context.Context, burst []inbound, emit adapters.Emit) (subscribed bool, err error) {
	var group []*event
	var recs []adapters.Record
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		evs, rs := group, recs
		group, recs = nil, nil
		return ss.store(ctx, evs, rs, emit)
	}
	for _, m := range burst {
		if m.err != nil {
			if err := flush(); err != nil {
				return subscribed, err
			}
			return subscribed, fmt.Errorf("eido: read from %s: %w", redactURL(ss.s.cfg.URL), m.err)
		}
		var env envelope
		if json.Unmarshal(m.data, &env) == nil && env.Event != nil {
			rs, err := ss.decode(ctx, env.Event)
			if err != nil {
				return subscribed, err
			}
			if rs != nil {
				group, recs = append(group, env.Event), append(recs, rs...)
			}
			continue
		}
		if err := flush(); err != nil {
			return subscribed, err
		}
		ok, err := ss.handle(ctx, m.data, emit)
		subscribed = subscribed || ok
		if err != nil {
			return subscribed, err
		}
	}
	return subscribed, flush()
}

// subState is the subscription of one session.
type subState struct {
	s        *Source
	conn     *websocket.Conn
	subID    string        // the server's subscriptionId ("" = not subscribed)
	expires  int           // seconds, as the server last granted
	pending  string        // requestId of the subscribe awaiting its response
	wait     time.Duration // how long the pending subscribe may wait
	deadline time.Time     // when the timer fires: renewal due, or the response overdue
	t        *time.Timer
}

// timer is the channel of the session's one timer (nil: none armed).
func (ss *subState) timer() <-chan time.Time {
	if ss.t == nil {
		return nil
	}
	return ss.t.C
}

func (ss *subState) arm(d time.Duration) {
	if ss.t != nil {
		ss.t.Stop()
	}
	ss.deadline = time.Now().Add(d)
	ss.t = time.NewTimer(d)
}

func (ss *subState) disarm() {
	if ss.t != nil {
		ss.t.Stop()
		ss.t = nil
	}
}

// subscribe sends a subscribe: a new one, or a renewal of subID. The response must come
// within subscribeTimeout, or before the subscription expires when renewing.
func (ss *subState) subscribe(ctx context.Context) error {
	c := ss.s.cfg
	msg := subscribe{
		RequestID: newRequestID(), RequestType: "EIDO", RequestSubType: c.RequestSubType,
		RequestAccepts: requestAccepts, QualFilter: c.Filter, MinRate: c.MinRate,
	}
	wait := subscribeTimeout
	if ss.subID != "" {
		msg.SubscriptionID, msg.Expires = ss.subID, ss.expires
		wait = min(wait, time.Duration(ss.expires)*time.Second/2) // the rest of the subscription's life
	}
	if err := ss.write(ctx, envelope{Subscribe: &msg}); err != nil {
		return fmt.Errorf("eido: send subscribe: %w", err)
	}
	ss.pending, ss.wait = msg.RequestID, wait
	ss.arm(wait)
	return nil
}

// handle handles one message. subscribed reports a subscribeResponse that accepted.
func (ss *subState) handle(ctx context.Context, data []byte, emit adapters.Emit) (subscribed bool, err error) {
	log := ss.s.log
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		log.Warn("EIDO conveyance: a message that is not JSON, ignored", "bytes", len(data), "err", err)
		return false, nil
	}
	switch {
	case env.SubscribeResponse != nil:
		r := env.SubscribeResponse
		if !ok2xx(r.StatusCode) {
			return false, fmt.Errorf("eido: subscribe refused: status %d %q", r.StatusCode, r.StatusText)
		}
		if r.SubscriptionID == "" {
			return false, errors.New("eido: subscribeResponse without a subscriptionId")
		}
		renewal := ss.subID != ""
		ss.subID, ss.expires, ss.pending = r.SubscriptionID, r.Expires, ""
		if r.Expires > 0 {
			ss.arm(time.Duration(r.Expires) * time.Second / 2) // renew half-way through
		} else {
			ss.disarm()
		}
		log.Debug("EIDO subscription accepted", "subscription_id", r.SubscriptionID, "expires_s", r.Expires, "renewal", renewal)
		// A successful subscription is a successful read: the host counts it and turns
		// readiness true again after a failure even while no EIDO arrives.
		if err := emit(ctx, adapters.Batch{}); err != nil && ctx.Err() == nil {
			log.Warn("EIDO subscription: emit failed", "err", err)
		}
		return true, nil
	case env.Event != nil:
		return false, ss.notify(ctx, env.Event, emit)
	case env.Terminate != nil:
		t := env.Terminate
		log.Info("EIDO subscription terminated by the server; subscribing again", "subscription_id", t.SubscriptionID)
		resp := terminateResponse{RequestID: t.RequestID, SubscriptionID: t.SubscriptionID, StatusCode: 200, StatusText: "OK"}
		if err := ss.write(ctx, envelope{TerminateResponse: &resp}); err != nil {
			return false, fmt.Errorf("eido: send terminateResponse: %w", err)
		}
		ss.subID, ss.expires = "", 0
		return false, ss.subscribe(ctx)
	case env.UnsubscribeResponse != nil, env.TerminateResponse != nil, env.EventResponse != nil:
		return false, nil
	}
	log.Debug("EIDO conveyance: unknown message ignored", "bytes", len(data))
	return false, nil
}

// notify emits the EIDOs of one event and, only once emit returned nil (the records are
// durable), answers eventResponse 200 with its transactionId (see decode and store).
func (ss *subState) notify(ctx context.Context, ev *event, emit adapters.Emit) error {
	recs, err := ss.decode(ctx, ev)
	if err != nil || recs == nil {
		return err
	}
	return ss.store(ctx, []*event{ev}, recs, emit)
}

// decode returns the records of an event's EIDOs. An event whose EIDOs cannot be decoded
// is answered 400 at once (the server would send it again and again otherwise): nil
// records, and an error only when that answer could not be sent.
func (ss *subState) decode(ctx context.Context, ev *event) ([]adapters.Record, error) {
	var recs []adapters.Record
	var bad error
	for i, raw := range ev.Notification {
		rs, err := record.DecodeJSON(raw, record.Limits{MaxBytes: readLimit})
		if err != nil {
			bad = fmt.Errorf("notification[%d]: %w", i, err)
			break
		}
		recs = append(recs, rs...)
	}
	if bad == nil && len(recs) == 0 {
		bad = errors.New("no EIDO in notification")
	}
	if bad == nil {
		return recs, nil
	}
	ss.s.log.Warn("EIDO notification refused", "transaction_id", ev.TransactionID, "err", bad)
	resp := eventResponse{TransactionID: ev.TransactionID, StatusCode: 400, StatusText: "Bad Request"}
	if err := ss.write(ctx, envelope{EventResponse: &resp}); err != nil {
		return nil, fmt.Errorf("eido: send eventResponse: %w", err)
	}
	return nil, nil
}

// store emits the records of events as one batch and, once emit returned nil, answers
// each event 200. A failed emit is not answered: the session ends and the server sends
// the events again.
func (ss *subState) store(ctx context.Context, evs []*event, recs []adapters.Record, emit adapters.Emit) error {
	if err := emit(ctx, adapters.Batch{Records: recs}); err != nil {
		if len(evs) == 1 {
			return fmt.Errorf("eido: emit of transaction %q: %w", evs[0].TransactionID, err)
		}
		return fmt.Errorf("eido: emit of %d transactions (%q, ...): %w", len(evs), evs[0].TransactionID, err)
	}
	for _, r := range recs {
		ss.s.log.Debug("EIDO stored", "incident_id", fmt.Sprint(r["$id"]))
	}
	for _, ev := range evs {
		resp := eventResponse{TransactionID: ev.TransactionID, StatusCode: 200, StatusText: "OK"}
		if err := ss.write(ctx, envelope{EventResponse: &resp}); err != nil {
			return fmt.Errorf("eido: send eventResponse: %w", err)
		}
	}
	return nil
}

// shutdown unsubscribes (bounded: the answer is awaited by nobody but the close
// handshake) and closes the connection normally.
func (ss *subState) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), unsubscribeTimeout)
	defer cancel()
	if ss.subID != "" {
		msg := unsubscribe{RequestID: newRequestID(), SubscriptionID: ss.subID}
		if err := ss.write(ctx, envelope{Unsubscribe: &msg}); err != nil {
			ss.s.log.Debug("EIDO unsubscribe not sent", "err", err)
		}
	}
	ss.disarm()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ss.conn.Close(websocket.StatusNormalClosure, "shutting down")
	}()
	select {
	case <-done:
	case <-ctx.Done():
		_ = ss.conn.CloseNow()
		<-done
	}
}

// write sends one message, bounded by writeTimeout.
func (ss *subState) write(ctx context.Context, m envelope) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return ss.conn.Write(wctx, websocket.MessageText, b)
}
