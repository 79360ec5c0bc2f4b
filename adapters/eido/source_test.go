package eido_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/adapters/eido"
)

// recorder is an Emit that keeps what it was given; with gate set, emitting records
// blocks until the gate is closed (a slow durable store).
type recorder struct {
	mu      sync.Mutex
	ids     []string // $id of every record emitted, in order
	errs    []error
	ok      int // batches without Err
	entered chan string
	gate    chan struct{}
}

func newRecorder() *recorder { return &recorder{entered: make(chan string, 100)} }

func (r *recorder) emit(ctx context.Context, b adapters.Batch) error {
	if b.Err != nil {
		r.mu.Lock()
		r.errs = append(r.errs, b.Err)
		r.mu.Unlock()
		return nil
	}
	for _, rec := range b.Records {
		id := fmt.Sprint(rec["$id"])
		select {
		case r.entered <- id:
		default:
		}
		if r.gate != nil {
			select {
			case <-r.gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ok++
	for _, rec := range b.Records {
		r.ids = append(r.ids, fmt.Sprint(rec["$id"]))
	}
	return nil
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.ids {
		if x == id {
			n++
		}
	}
	return n
}

func (r *recorder) errCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs)
}

// run starts the adapter (built through its Factory, as the host does) against cfg; the
// returned stop cancels it and checks that Run returned nil promptly.
func run(t *testing.T, cfg *eido.Config, emit adapters.Emit) (stop func()) {
	t.Helper()
	src, _, err := eido.Factory.New(cfg, adapters.Deps{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, emit) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run after cancel = %v, want nil", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return within 30s of its cancellation")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func config(url string) *eido.Config {
	c := eido.NewConfig()
	c.URL = url
	c.Reconnect.Initial, c.Reconnect.Max = 10*time.Millisecond, 50*time.Millisecond
	return c
}

// TestSubscribeNotifyAck: the subscriber subscribes as configured (EIDO, requestSubType,
// qualFilter, minRate, bearer), emits every notified EIDO as a record and acknowledges
// each notification with its transactionId.
func TestSubscribeNotifyAck(t *testing.T) {
	s := newServer(t, func(s *wsServer) { s.token = "s3cret" })
	cfg := config(s.url())
	cfg.Bearer, cfg.Filter, cfg.MinRate, cfg.RequestSubType = "s3cret", "agency=state.pa.us", 1500, "new"
	rec := newRecorder()
	run(t, cfg, rec.emit)
	waitFor(t, "a subscription", func() bool { return s.stat(func(s *wsServer) int { return s.subscribes }) == 1 })
	a := s.notify(t, testEIDO(t, "urn:emergency:uid:incidentid:a:test"))
	b := s.notify(t, testEIDO(t, "urn:emergency:uid:incidentid:b:test"))
	waitFor(t, "both notifications acknowledged", func() bool { return s.acked(a) == 1 && s.acked(b) == 1 })
	if rec.count("urn:emergency:uid:incidentid:a:test") != 1 || rec.count("urn:emergency:uid:incidentid:b:test") != 1 {
		t.Fatalf("emitted %v, want each EIDO once", rec.ids)
	}
	s.mu.Lock()
	sub := s.lastSub
	s.mu.Unlock()
	want := map[string]any{"requestType": "EIDO", "requestSubType": "new", "qualFilter": "agency=state.pa.us", "minRate": float64(1500)}
	for k, v := range want {
		if sub[k] != v {
			t.Errorf("subscribe %s = %v, want %v", k, sub[k], v)
		}
	}
	if id, _ := sub["requestId"].(string); id == "" {
		t.Error("subscribe without a requestId")
	}
}

// TestRecordIsTheEIDO: the record is the EIDO as record.DecodeJSON makes it (components
// as lists of maps, exact numbers).
func TestRecordIsTheEIDO(t *testing.T) {
	s := newServer(t, nil)
	got := make(chan adapters.Record, 1)
	run(t, config(s.url()), func(_ context.Context, b adapters.Batch) error {
		for _, r := range b.Records {
			got <- r
		}
		return nil
	})
	waitFor(t, "a subscription", func() bool { return s.stat(func(s *wsServer) int { return s.subscribes }) == 1 })
	s.notify(t, testEIDO(t, "urn:x"))
	select {
	case r := <-got:
		calls, ok := r["callComponent"].([]any)
		if r["$id"] != "urn:x" || !ok || len(calls) == 0 {
			t.Fatalf("record %v: want $id urn:x and the callComponent list", r["$id"])
		}
		if c := calls[0].(map[string]any); c["standardPrimaryCallType"] != "emergency" {
			t.Fatalf("callComponent[0].standardPrimaryCallType = %v", c["standardPrimaryCallType"])
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no record within 30s")
	}
}

// TestAckOnlyAfterEmit: while emit has not returned (the record not yet durable) the
// notification is not acknowledged; once it returns, it is.
func TestAckOnlyAfterEmit(t *testing.T) {
	s := newServer(t, nil)
	rec := newRecorder()
	rec.gate = make(chan struct{})
	run(t, config(s.url()), rec.emit)
	waitFor(t, "a subscription", func() bool { return s.stat(func(s *wsServer) int { return s.subscribes }) == 1 })
	tx := s.notify(t, testEIDO(t, "urn:slow"))
	select {
	case <-rec.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("emit not called within 30s")
	}
	s.ping(t) // anything the client wrote before the pong has been read by now
	if n := s.acked(tx); n != 0 {
		t.Fatalf("the notification was acknowledged %d times while emit was still blocked", n)
	}
	close(rec.gate)
	waitFor(t, "the acknowledgement once emit returned", func() bool { return s.acked(tx) == 1 })
}

// TestDropMidStream: the server drops the connection right after a notify (before its
// ack): the subscriber reconnects, subscribes again, gets the notify again and emits and
// acknowledges it — nothing notified is lost.
func TestDropMidStream(t *testing.T) {
	s := newServer(t, nil)
	rec := newRecorder()
	run(t, config(s.url()), rec.emit)
	waitFor(t, "a subscription", func() bool { return s.stat(func(s *wsServer) int { return s.subscribes }) == 1 })
	s.mu.Lock()
	s.dropOnce = true
	s.mu.Unlock()
	tx := s.notify(t, testEIDO(t, "urn:dropped"))
	waitFor(t, "a second subscription and the dropped notify acknowledged", func() bool {
		return s.stat(func(s *wsServer) int { return s.subscribes }) >= 2 && s.acked(tx) >= 1
	})
	if rec.count("urn:dropped") < 1 {
		t.Fatal("the notify sent before the drop was never emitted")
	}
	if rec.errCount() < 1 {
		t.Fatal("the dropped connection was not reported as Batch.Err")
	}
}

// TestDuplicateNotify: a notify received twice is emitted twice (the host's content hash
// makes the second harmless) and acknowledged twice.
func TestDuplicateNotify(t *testing.T) {
	s := newServer(t, func(s *wsServer) { s.twice = true })
	rec := newRecorder()
	run(t, config(s.url()), rec.emit)
	waitFor(t, "a subscription", func() bool { return s.stat(func(s *wsServer) int { return s.subscribes }) == 1 })
	tx := s.notify(t, testEIDO(t, "urn:twice"))
	waitFor(t, "two acknowledgements", func() bool { return s.acked(tx) == 2 })
	if n := rec.count("urn:twice"); n != 2 {
		t.Fatalf("emitted %d times, want 2", n)
	}
}

// TestRenewBeforeExpiry: a subscription granted for a few seconds is renewed (same
// subscriptionId) before it expires, again and again, without a new subscription.
func TestRenewBeforeExpiry(t *testing.T) {
	s := newServer(t, func(s *wsServer) { s.expires = 2 })
	run(t, config(s.url()), newRecorder().emit)
	waitFor(t, "two renewals", func() bool { return s.stat(func(s *wsServer) int { return s.renewals }) >= 2 })
	if n := s.stat(func(s *wsServer) int { return s.late }); n != 0 {
		t.Fatalf("%d renewals came after the subscription had expired", n)
	}
	if n := s.stat(func(s *wsServer) int { return s.subscribes }); n != 1 {
		t.Fatalf("%d subscriptions, want 1 renewed", n)
	}
}

// TestSubscribeRefusedRetried: a subscribeResponse with an error status is reported
// (Batch.Err) and the subscriber tries again after its backoff.
func TestSubscribeRefusedRetried(t *testing.T) {
	s := newServer(t, func(s *wsServer) { s.refuseSubs = 2 })
	rec := newRecorder()
	run(t, config(s.url()), rec.emit)
	waitFor(t, "a subscription after two refusals", func() bool { return s.stat(func(s *wsServer) int { return s.subscribes }) == 1 })
	if n := rec.errCount(); n < 2 {
		t.Fatalf("%d errors reported, want the 2 refusals", n)
	}
}

// TestTerminateResubscribes: a terminate is answered and followed by a new subscription.
func TestTerminateResubscribes(t *testing.T) {
	s := newServer(t, nil)
	rec := newRecorder()
	run(t, config(s.url()), rec.emit)
	waitFor(t, "a subscription", func() bool { return s.stat(func(s *wsServer) int { return s.subscribes }) == 1 })
	s.terminate(t)
	waitFor(t, "terminateResponse and a new subscription", func() bool {
		return s.stat(func(s *wsServer) int { return s.termAnswers }) == 1 && s.stat(func(s *wsServer) int { return s.subscribes }) == 2
	})
	tx := s.notify(t, testEIDO(t, "urn:after-terminate"))
	waitFor(t, "the notify after the terminate acknowledged", func() bool { return s.acked(tx) == 1 })
}

// TestUnsubscribeOnShutdown: cancelling Run unsubscribes.
func TestUnsubscribeOnShutdown(t *testing.T) {
	s := newServer(t, nil)
	rec := newRecorder()
	stop := run(t, config(s.url()), rec.emit)
	// The subscriber has taken the subscribeResponse once it emitted its empty batch.
	waitFor(t, "the subscription accepted", func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return rec.ok >= 1 })
	stop()
	waitFor(t, "an unsubscribe", func() bool { return s.stat(func(s *wsServer) int { return s.unsubscribes }) == 1 })
}

// TestServerRestart: the server restarts while a notify's record is being stored, and
// another EIDO is queued while it is down: after the restart both are emitted and
// acknowledged — the subscriber survives the restart without losing a notified EIDO.
func TestServerRestart(t *testing.T) {
	s := newServer(t, nil)
	rec := newRecorder()
	rec.gate = make(chan struct{})
	run(t, config(s.url()), rec.emit)
	waitFor(t, "a subscription", func() bool { return s.stat(func(s *wsServer) int { return s.subscribes }) == 1 })
	a := s.notify(t, testEIDO(t, "urn:before-restart"))
	select {
	case <-rec.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("emit not called within 30s")
	}
	var b string
	s.restart(t, func() { b = s.notify(t, testEIDO(t, "urn:during-restart")) })
	close(rec.gate)
	waitFor(t, "both notifications acknowledged after the restart", func() bool { return s.acked(a) >= 1 && s.acked(b) >= 1 })
	if rec.count("urn:before-restart") < 1 || rec.count("urn:during-restart") < 1 {
		t.Fatalf("emitted %v, want both EIDOs", rec.ids)
	}
	if n := s.stat(func(s *wsServer) int { return s.subscribes }); n < 2 {
		t.Fatalf("%d subscriptions, want a new one after the restart", n)
	}
}

// TestUndecodableEIDORefused: a notification whose EIDO is not an object is answered 400
// (and not emitted) while the next one is emitted and acknowledged.
func TestUndecodableEIDORefused(t *testing.T) {
	s := newServer(t, nil)
	rec := newRecorder()
	run(t, config(s.url()), rec.emit)
	waitFor(t, "a subscription", func() bool { return s.stat(func(s *wsServer) int { return s.subscribes }) == 1 })
	bad := s.notifyRaw(t, "not an EIDO")
	good := s.notify(t, testEIDO(t, "urn:good"))
	waitFor(t, "the good notify acknowledged", func() bool { return s.acked(good) == 1 })
	if code := s.stat(func(s *wsServer) int { return s.refusals[bad] }); code != 400 {
		t.Fatalf("the undecodable notification was answered %d, want 400", code)
	}
	if s.acked(bad) != 0 || rec.count("urn:good") != 1 {
		t.Fatalf("acked %d times the bad one; emitted %v", s.acked(bad), rec.ids)
	}
}

// TestEmitFailedNotAcked: when emit fails (the record is not durable: a full disk, say)
// the notification is not acknowledged; the subscriber reconnects, the server sends it
// again, and this time it is stored and acknowledged.
func TestEmitFailedNotAcked(t *testing.T) {
	s := newServer(t, nil)
	var mu sync.Mutex
	failed, stored := 0, 0
	run(t, config(s.url()), func(_ context.Context, b adapters.Batch) error {
		if len(b.Records) == 0 {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if failed == 0 {
			failed++
			return errors.New("no space left on device")
		}
		stored++
		return nil
	})
	waitFor(t, "a subscription", func() bool { return s.stat(func(s *wsServer) int { return s.subscribes }) == 1 })
	tx := s.notify(t, testEIDO(t, "urn:retry"))
	waitFor(t, "the notification acknowledged after a reconnect", func() bool { return s.acked(tx) == 1 })
	mu.Lock()
	defer mu.Unlock()
	if failed != 1 || stored != 1 {
		t.Fatalf("emit failed %d and stored %d times, want 1 and 1", failed, stored)
	}
	if n := s.stat(func(s *wsServer) int { return s.subscribes }); n != 2 {
		t.Fatalf("%d subscriptions, want a second one after the failed emit", n)
	}
}

// TestSilentServerReconnect: a server that stops answering (a half-open connection: no
// pong to the keepalive ping) is left and subscribed to again; what it notifies then is
// received.
func TestSilentServerReconnect(t *testing.T) {
	defer eido.SetKeepalive(50*time.Millisecond, 500*time.Millisecond)()
	s := newServer(t, func(s *wsServer) { s.deafOnce = true })
	rec := newRecorder()
	stop := run(t, config(s.url()), rec.emit)
	defer stop()
	waitFor(t, "a second subscription after the server went silent", func() bool { return s.stat(func(s *wsServer) int { return s.subscribes }) >= 2 })
	tx := s.notify(t, testEIDO(t, "urn:after-silence"))
	waitFor(t, "the notify acknowledged", func() bool { return s.acked(tx) == 1 })
}

// TestNotifiesDuringEmitShareOneBatch: notifies that arrive while an emit is in progress
// (a stream faster than one durable commit each) are emitted together once it returns, as
// one batch, and each is acknowledged only after that emit returned; an undecodable one
// among them is answered 400 and holds up none of the others.
func TestNotifiesDuringEmitShareOneBatch(t *testing.T) {
	s := newServer(t, nil)
	var mu sync.Mutex
	var sizes []int
	entered := make(chan int, 10)
	release := make(chan struct{}, 10)
	run(t, config(s.url()), func(ctx context.Context, b adapters.Batch) error {
		if len(b.Records) == 0 {
			return nil
		}
		entered <- len(b.Records)
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		mu.Lock()
		sizes = append(sizes, len(b.Records))
		mu.Unlock()
		return nil
	})
	waitFor(t, "a subscription", func() bool { return s.stat(func(s *wsServer) int { return s.subscribes }) == 1 })
	entry := func() int {
		t.Helper()
		select {
		case n := <-entered:
			return n
		case <-time.After(30 * time.Second):
			t.Fatal("emit not called within 30s")
			return 0
		}
	}
	first := s.notify(t, testEIDO(t, "urn:first"))
	if n := entry(); n != 1 {
		t.Fatalf("first emit of %d records, want 1", n)
	}
	var later []string
	for i := range 3 {
		later = append(later, s.notify(t, testEIDO(t, fmt.Sprintf("urn:later-%d", i))))
	}
	bad := s.notifyRaw(t, "not an EIDO")
	s.ping(t) // the notifies above have been read by the subscriber
	release <- struct{}{}
	if n := entry(); n != 3 {
		t.Fatalf("second emit of %d records, want the 3 decodable notifies that came meanwhile", n)
	}
	waitFor(t, "the first notify acknowledged", func() bool { return s.acked(first) == 1 })
	s.ping(t)
	for _, tx := range later {
		if s.acked(tx) != 0 {
			t.Fatalf("%s acknowledged before its emit returned", tx)
		}
	}
	if code := s.stat(func(s *wsServer) int { return s.refusals[bad] }); code != 400 {
		t.Fatalf("the undecodable notify was answered %d, want 400 (at once, not after the emit)", code)
	}
	release <- struct{}{}
	for _, tx := range later {
		waitFor(t, tx+" acknowledged", func() bool { return s.acked(tx) == 1 })
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(sizes) != "[1 3]" {
		t.Fatalf("emits of %v records, want [1 3]", sizes)
	}
}
