package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/adapters/eido" // cad.adapter: eido
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

// The eido-stream scenario: a WebSocket server speaking NENA-STA-024 EIDO conveyance (the
// messages of testdata, from the shared fixtures) notifies EidoNotifies EIDOs at EidoRate
// per second (open loop: on schedule, whatever the answers) to a running sidecar
// (cad.adapter: eido), each EIDO a new incident, so each notify's record is committed
// and fsynced before it is acknowledged; the links are delivered to the simulated Assist
// meanwhile. The figure is the time from a notify's send to its eventResponse (p50, p99).
// Baselines of the same run: the disk's own fsync latency (a 1 KiB write and fdatasync
// at the same rate, in the same folder), and the same stream answered by the eido source
// with a no-op emit (the WebSocket, the JSON and the source's own work: nothing stored).
const eidoTargetP99Ms = 20

//go:embed testdata/NotifyWithEido.json
var eidoNotifyFixture []byte

//go:embed testdata/BasicSubscribeResponse.json
var eidoSubscribeResponseFixture []byte

type eidoResult struct {
	Bench         string  `json:"bench"`
	Notifies      int     `json:"notifies"`
	RatePerS      int     `json:"rate_per_s"`
	P50Ms         float64 `json:"p50_ms"`
	P99Ms         float64 `json:"p99_ms"`
	MaxMs         float64 `json:"max_ms"`
	FsyncP50Ms    float64 `json:"fsync_p50_ms"`
	FsyncP99Ms    float64 `json:"fsync_p99_ms"`
	NoopEmitP50Ms float64 `json:"noop_emit_p50_ms"`
	NoopEmitP99Ms float64 `json:"noop_emit_p99_ms"`
	Target        string  `json:"target"`
	OK            bool    `json:"ok"`
}

func (r eidoResult) key() float64                  { return r.P99Ms }
func (r eidoResult) failed() error                 { return nil }
func (r eidoResult) ratios() (got, target float64) { return 0, 0 } // judged by time
func (r eidoResult) judge() result {
	r.Target = fmt.Sprintf("p99 <= %d ms", eidoTargetP99Ms)
	r.OK = r.P99Ms > 0 && r.P99Ms <= eidoTargetP99Ms
	return r
}

// eidoStream is the conveyance server of one measurement: it answers the subscribe, then
// sends the notifies on schedule and times each until its eventResponse.
type eidoStream struct {
	msgs [][]byte // the notifies, in order; transaction ids "tx-<i>"
	rate int

	subscribed chan struct{}
	once       sync.Once
	mu         sync.Mutex
	sent       map[string]time.Time
	lat        []time.Duration
	done       chan struct{} // closed once every notify was answered
	refused    int
}

// eidoNotifies builds n notifies from the fixture, each with its own transactionId and
// EIDO $id (prefix distinguishes the streams of one run).
func eidoNotifies(n int, prefix string) ([][]byte, error) {
	var env map[string]map[string]any
	if err := json.Unmarshal(eidoNotifyFixture, &env); err != nil {
		return nil, fmt.Errorf("fixture NotifyWithEido.json: %w", err)
	}
	ev := env["event"]
	list, _ := ev["notification"].([]any)
	if len(list) != 1 {
		return nil, errors.New("fixture NotifyWithEido.json: want one EIDO in notification")
	}
	eidoDoc := list[0].(map[string]any)
	out := make([][]byte, n)
	for i := range n {
		ev["transactionId"] = fmt.Sprintf("tx-%d", i)
		eidoDoc["$id"] = fmt.Sprintf("urn:emergency:uid:incidentid:%s%06d:bench.example", prefix, i)
		b, err := json.Marshal(env)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func newEidoStream(msgs [][]byte, rate int) *eidoStream {
	return &eidoStream{msgs: msgs, rate: rate, subscribed: make(chan struct{}), sent: map[string]time.Time{}, done: make(chan struct{})}
}

func (s *eidoStream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{eido.Subprotocol}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(16 << 20)
	for {
		_, data, err := c.Read(r.Context())
		if err != nil {
			return
		}
		var m map[string]map[string]any
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		switch {
		case m["subscribe"] != nil:
			var resp map[string]map[string]any
			if err := json.Unmarshal(eidoSubscribeResponseFixture, &resp); err != nil {
				return
			}
			resp["subscribeResponse"]["requestId"] = m["subscribe"]["requestId"]
			b, _ := json.Marshal(resp)
			if c.Write(r.Context(), websocket.MessageText, b) != nil {
				return
			}
			first := false
			s.once.Do(func() { first = true })
			if first { // one stream, on the first subscription
				close(s.subscribed)
				go s.send(r.Context(), c)
			}
		case m["eventResponse"] != nil:
			tx, _ := m["eventResponse"]["transactionId"].(string)
			code, _ := m["eventResponse"]["statusCode"].(float64)
			at := time.Now()
			s.mu.Lock()
			if t0, ok := s.sent[tx]; ok {
				delete(s.sent, tx)
				s.lat = append(s.lat, at.Sub(t0))
				if code != 200 {
					s.refused++
				}
				if len(s.lat) == len(s.msgs) {
					close(s.done)
				}
			}
			s.mu.Unlock()
		}
	}
}

// send writes the notifies on schedule: notify i at start + i/rate (at once when late).
func (s *eidoStream) send(ctx context.Context, c *websocket.Conn) {
	start := time.Now()
	every := time.Second / time.Duration(s.rate)
	for i, b := range s.msgs {
		if d := time.Until(start.Add(time.Duration(i) * every)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		s.mu.Lock()
		s.sent[fmt.Sprintf("tx-%d", i)] = time.Now()
		s.mu.Unlock()
		if c.Write(ctx, websocket.MessageText, b) != nil {
			return
		}
	}
}

// wait waits until every notify is answered (or a minute past the stream's length).
func (s *eidoStream) wait(ctx context.Context) ([]time.Duration, error) {
	limit := time.Duration(len(s.msgs)/s.rate)*time.Second + time.Minute
	select {
	case <-s.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(limit):
		s.mu.Lock()
		n := len(s.lat)
		s.mu.Unlock()
		return nil, fmt.Errorf("eido-stream: %d of %d notifies answered after %s", n, len(s.msgs), limit)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused > 0 {
		return nil, fmt.Errorf("eido-stream: %d notifies refused", s.refused)
	}
	return slices.Clone(s.lat), nil
}

// quantiles returns the p50, p99 and max of ds in ms.
func quantiles(ds []time.Duration) (p50, p99, mx float64) {
	slices.Sort(ds)
	q := func(f float64) float64 {
		i := min(len(ds)-1, int(f*float64(len(ds))))
		return round(ms(ds[i]), 2)
	}
	return q(0.50), q(0.99), round(ms(ds[len(ds)-1]), 2)
}

func runEido(ctx context.Context, p params) (result, error) {
	dir, err := os.MkdirTemp(p.Dir, "eido-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	n, rate := p.EidoNotifies, p.EidoRate

	// Baseline 1: the disk's fsync, at the same rate.
	fs, err := fsyncLatencies(ctx, filepath.Join(dir, "fsync.bin"), n, rate)
	if err != nil {
		return nil, err
	}
	fsP50, fsP99, _ := quantiles(fs)

	// Baseline 2: the same stream answered by the eido source with a no-op emit.
	noop, err := eidoNoopEmit(ctx, n, rate)
	if err != nil {
		return nil, err
	}
	noP50, noP99, _ := quantiles(noop)

	// Measured: a running sidecar.
	lat, err := eidoSidecar(ctx, p, dir, n, rate)
	if err != nil {
		return nil, err
	}
	p50, p99, mx := quantiles(lat)
	p.logf("eido-stream: %d notifies at %d/s acknowledged: p50 %.2fms p99 %.2fms max %.2fms; fsync p50 %.2fms p99 %.2fms; no-op emit p50 %.2fms p99 %.2fms",
		n, rate, p50, p99, mx, fsP50, fsP99, noP50, noP99)
	return eidoResult{Bench: "eido-stream", Notifies: n, RatePerS: rate, P50Ms: p50, P99Ms: p99, MaxMs: mx,
		FsyncP50Ms: fsP50, FsyncP99Ms: fsP99, NoopEmitP50Ms: noP50, NoopEmitP99Ms: noP99}, nil
}

// fsyncLatencies writes 1 KiB and fdatasyncs it n times at rate per second, timing each.
func fsyncLatencies(ctx context.Context, path string, n, rate int) ([]time.Duration, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 1024)
	every := time.Second / time.Duration(rate)
	start := time.Now()
	out := make([]time.Duration, 0, n)
	for i := range n {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if d := time.Until(start.Add(time.Duration(i) * every)); d > 0 {
			time.Sleep(d)
		}
		t0 := time.Now()
		if _, err := f.WriteAt(buf, int64(i%1024)*1024); err != nil {
			return nil, err
		}
		if err := fdatasync(f); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t0))
	}
	return out, nil
}

// eidoNoopEmit runs the eido source against a stream with an emit that stores nothing.
func eidoNoopEmit(ctx context.Context, n, rate int) ([]time.Duration, error) {
	msgs, err := eidoNotifies(n, "noop")
	if err != nil {
		return nil, err
	}
	st := newEidoStream(msgs, rate)
	srv := httptest.NewServer(st)
	defer srv.Close()
	c := eido.NewConfig()
	c.URL = "ws" + srv.URL[len("http"):] + "/eido"
	src, err := eido.New(c, adapters.Deps{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- src.Run(rctx, func(context.Context, adapters.Batch) error { return nil })
	}()
	defer func() { cancel(); <-done }()
	return st.wait(ctx)
}

// eidoSidecar runs a sidecar (cad.adapter: eido) against a stream and times its answers.
func eidoSidecar(ctx context.Context, p params, dir string, n, rate int) ([]time.Duration, error) {
	msgs, err := eidoNotifies(n, "sc")
	if err != nil {
		return nil, err
	}
	st := newEidoStream(msgs, rate)
	srv := httptest.NewServer(st)
	defer srv.Close()
	as := sim.NewAssist(sim.AssistOptions{Token: benchAssistToken, NoteEvery: time.Hour})
	asSrv := httptest.NewServer(as)
	defer asSrv.Close()
	defer as.Close()
	yaml := fmt.Sprintf(`data_dir: ./data
log: {level: error}
server: {listen: "127.0.0.1:0", public_url: "http://127.0.0.1"}
admin: {listen: "127.0.0.1:0"}
assist: {base_url: %s, token: %s, notes: push, webhook: {register: false, auth_token: %s}}
cad:
  adapter: eido
  eido: {url: "%s/eido"}
mapping:
  incident_id: $id
  fields:
    - {name: CallId, from: 'callComponent[0].$id'}
    - {name: CallType, from: 'callComponent[0].standardPrimaryCallType'}
    - {name: CallStart, expr: 'format_time(parse_time(callComponent[0].callStartTimestamp))'}
`, asSrv.URL, benchAssistToken, benchHookToken, "ws"+srv.URL[len("http"):])
	_, stopSidecar, err := runSidecar(ctx, dir, yaml)
	if err != nil {
		return nil, err
	}
	defer func() { _ = stopSidecar() }()
	stop := p.profile("eido-stream")
	defer stop()
	return st.wait(ctx)
}
