package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	_ "github.com/cad-sidecar/cad-sidecar/adapters/rest" // cad.adapter: rest
	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
)

type ingestResult struct {
	Bench           string  `json:"bench"`
	Conns           int     `json:"conns"`
	ReqPerS         float64 `json:"req_per_s"`
	P50ms           float64 `json:"p50_ms"`
	P99ms           float64 `json:"p99_ms"`
	BaselineReqPerS float64 `json:"baseline_req_per_s"`
	Ratio           float64 `json:"ratio"`
	Target          string  `json:"target"`
	OK              bool    `json:"ok"`
}

func (ingestResult) failed() error { return nil }

func (r ingestResult) key() float64 { return r.Ratio }

func (r ingestResult) judge() result {
	r.OK = r.ReqPerS >= 8000 && r.P99ms <= 25 && r.Ratio >= ingestTargetRatio
	return r
}

const (
	benchHookToken   = "sidecar-bench-webhook-token-0123456789"
	benchAssistToken = "sidecar-bench-assist-token"
	webhookPath      = "/webhookhandler/cad"
)

// runIngest measures the baseline receiver, then the real sidecar, with the same load
// generator, back to back; each server is fully stopped before the next starts.
func runIngest(ctx context.Context, p params) (result, error) {
	dir, err := os.MkdirTemp(p.Dir, "sidecar-bench-ingest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	// The CAD the sidecar delivers the notes to, with the incidents the notes are for.
	cad := sim.NewCAD(sim.CADOptions{Seed: 1})
	incidents := make([]string, p.IngestKeys)
	for i := range incidents {
		incidents[i] = cad.AddIncident()
	}

	base, err := ingestBaseline(ctx, p, dir, incidents)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	got, delivered, err := ingestSidecar(ctx, p, dir, cad, incidents)
	if err != nil {
		return nil, fmt.Errorf("sidecar: %w", err)
	}
	p.logf("ingest: baseline %d req in %s (p50 %.2f ms, p99 %.2f ms); sidecar %d req in %s, %d notes written to the simulated CAD meanwhile",
		base.n, base.dur, ms(base.p50), ms(base.p99), got.n, got.dur, delivered)

	r := ingestResult{
		Bench:           "ingest",
		Conns:           p.IngestConns,
		ReqPerS:         round(got.rate(), 0),
		P50ms:           round(ms(got.p50), 2),
		P99ms:           round(ms(got.p99), 2),
		BaselineReqPerS: round(base.rate(), 0),
		Target:          fmt.Sprintf("req_per_s>=8000, p99_ms<=25, ratio>=%d", ingestTargetRatio),
	}
	r.Ratio = ratio(r.ReqPerS, r.BaselineReqPerS)
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ingestSidecar runs a real sidecar.Sidecar (config.Load from a YAML file, REST adapter to
// the simulated CAD, notes pushed, no webhook registration), loads its public listener and
// stops it. It returns the load figures and the notes the CAD received meanwhile.
func ingestSidecar(ctx context.Context, p params, dir string, cad *sim.CAD, incidents []string) (loadStats, int, error) {
	cadSrv := httptest.NewServer(cad)
	defer cadSrv.Close()
	// Assist is never called: the filter drops every CAD record (no links) and notes are
	// pushed; a simulator answers anyway should that change.
	as := sim.NewAssist(sim.AssistOptions{Token: benchAssistToken})
	asSrv := httptest.NewServer(as)
	defer asSrv.Close()
	defer as.Close()

	yaml := fmt.Sprintf(`data_dir: %q
log: {level: error}
server: {listen: "127.0.0.1:0", public_url: "http://127.0.0.1"}
admin: {listen: "127.0.0.1:0"}
assist:
  base_url: %s
  token: %s
  notes: push
  webhook: {register: false, auth_token: %s, path: %s}
cad:
  adapter: rest
  rest:
    base_url: %s/api
    poll: {schedule: "@every 1h", path: "/incidents?since={{.Cursor}}", items: data, cursor_field: updated}
mapping:
  incident_id: IncidentNumber
  user_id: CallTaker.Id
  filter: 'false'
  fields:
    - {name: Status, from: Status}
  note: {text: '[Assist{{if .Critical}} CRITICAL{{end}}] {{.Note}}'}
`, filepath.Join(dir, "data"), asSrv.URL, benchAssistToken, benchHookToken, webhookPath, cadSrv.URL)
	s, stop, err := runSidecar(ctx, dir, yaml)
	if err != nil {
		return loadStats{}, 0, err
	}
	before := cad.NoteCount()
	stopProf := p.profile("ingest")
	st, err := loadGen(ctx, p, "http://"+s.PublicAddr()+webhookPath, incidents)
	stopProf()
	delivered := cad.NoteCount() - before
	if rerr := stop(); err == nil && rerr != nil {
		err = fmt.Errorf("run: %w", rerr)
	}
	return st, delivered, err
}

// ingestBaseline serves the same assist.Receiver with a Handle that does one bbolt Update
// per request (the payload under the next sequence plus its dedup keys, a duplicate
// stored nowhere) on a plain bbolt file, over the same kind of loopback server.
func ingestBaseline(ctx context.Context, p params, dir string, incidents []string) (loadStats, error) {
	db, err := bolt.Open(filepath.Join(dir, "baseline.db"), 0o600, nil)
	if err != nil {
		return loadStats{}, err
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{"queue", "dedup"} {
			if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return loadStats{}, err
	}
	rcv, err := assist.NewReceiver(assist.ReceiverOptions{
		AuthToken: benchHookToken,
		Handle: func(_ context.Context, ev assist.Event) error {
			if ev.Note == nil {
				return nil
			}
			payload, err := json.Marshal(*ev.Note)
			if err != nil {
				return err
			}
			keys := assist.NoteKeys(ev.Note.IncidentID, ev.Note.CallID, ev.Note.Note)
			return db.Update(func(tx *bolt.Tx) error {
				d := tx.Bucket([]byte("dedup"))
				for _, k := range keys {
					if d.Get([]byte(k)) != nil {
						return nil
					}
				}
				q := tx.Bucket([]byte("queue"))
				seq, err := q.NextSequence()
				if err != nil {
					return err
				}
				if err := q.Put(binary.BigEndian.AppendUint64(nil, seq), payload); err != nil {
					return err
				}
				now := binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))
				for _, k := range keys {
					if err := d.Put([]byte(k), now); err != nil {
						return err
					}
				}
				return nil
			})
		},
	})
	if err != nil {
		return loadStats{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return loadStats{}, err
	}
	mux := http.NewServeMux()
	mux.Handle(webhookPath, rcv)
	// The sidecar's public server settings (sidecar.serve).
	srv := &http.Server{
		Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	stopProf := p.profile("ingest-baseline")
	st, err := loadGen(ctx, p, "http://"+ln.Addr().String()+webhookPath, incidents)
	stopProf()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(sctx); err == nil && serr != nil {
		err = serr
	}
	if serr := <-served; err == nil && !errors.Is(serr, http.ErrServerClosed) {
		err = serr
	}
	return st, err
}

// loadStats are the client-side figures of one load run.
type loadStats struct {
	n        int           // requests answered 200 inside the measured window
	dur      time.Duration // the measured window
	p50, p99 time.Duration // over the requests counted in n
}

func (s loadStats) rate() float64 { return float64(s.n) / s.dur.Seconds() }

// loadGen posts distinct IncidentNotePayload webhooks over p.IngestConns keep-alive TCP
// connections, one goroutine each, for p.IngestWarmup (not counted) then p.IngestDuration.
// Only requests started and finished inside the measured window count; latency is from
// writing the request to having read the whole answer. Any answer other than 200 is an
// error.
//
// The client writes HTTP/1.1 requests itself and parses the answers with
// http.ReadResponse: in production Assist is on another machine, and net/http's Transport
// (two goroutines per connection, channels, header maps) would take a fifth of this
// machine's two cores away from the server under test. The baseline gets the same client.
func loadGen(ctx context.Context, p params, url string, incidents []string) (loadStats, error) {
	hostPath, ok := strings.CutPrefix(url, "http://")
	if !ok {
		return loadStats{}, fmt.Errorf("load: %s is not an http:// URL", url)
	}
	host, path, _ := strings.Cut(hostPath, "/")
	path = "/" + path

	conns := make([]net.Conn, p.IngestConns)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	var d net.Dialer
	for i := range conns {
		c, err := d.DialContext(ctx, "tcp", host)
		if err != nil {
			return loadStats{}, fmt.Errorf("load: %w", err)
		}
		conns[i] = c
	}
	stopOnCancel := context.AfterFunc(ctx, func() {
		for _, c := range conns {
			c.SetDeadline(time.Now())
		}
	})
	defer stopOnCancel()

	head := "POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + benchHookToken +
		"\r\nContent-Type: application/json\r\nContent-Length: "
	var seq atomic.Int64
	start := time.Now()
	from := start.Add(p.IngestWarmup)
	to := from.Add(p.IngestDuration)
	lats := make([][]time.Duration, p.IngestConns)
	var firstErr error
	var errOnce sync.Once
	var failed atomic.Bool
	var recorded, lateEnd atomic.Int64 // requests measured; end of a stretched window (unix ns)
	hardStop := to.Add(30 * time.Second)
	var wg sync.WaitGroup
	for c, conn := range conns {
		wg.Go(func() {
			br := bufio.NewReaderSize(conn, 4096)
			var req, body []byte
			one := func() error {
				i := int(seq.Add(1))
				body = noteWebhook(body[:0], i, incidents[i%len(incidents)])
				req = append(req[:0], head...)
				req = strconv.AppendInt(req, int64(len(body)), 10)
				req = append(req, "\r\n\r\n"...)
				req = append(req, body...)
				if _, err := conn.Write(req); err != nil {
					return err
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil {
					return err
				}
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("POST %s: HTTP %d", url, resp.StatusCode)
				}
				if resp.Close {
					return fmt.Errorf("POST %s: the server closed the connection", url)
				}
				return nil
			}
			for ctx.Err() == nil && !failed.Load() {
				t0 := time.Now()
				// The window closes at to, or — when a stall (an fsync under load) kept
				// every request of the window from completing — at the first completion
				// after it, so a noisy machine gives a slow figure, not an empty one.
				if !t0.Before(to) && (recorded.Load() > 0 || !t0.Before(hardStop)) {
					return
				}
				if err := one(); err != nil {
					if ctx.Err() == nil {
						errOnce.Do(func() { firstErr = err })
						failed.Store(true)
					}
					return
				}
				t1 := time.Now()
				if !t0.Before(from) && (!t1.After(to) || recorded.Load() == 0) {
					lats[c] = append(lats[c], t1.Sub(t0))
					recorded.Add(1)
					if t1.After(to) {
						stretchMax(&lateEnd, t1.UnixNano())
					}
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	all := slices.Concat(lats...)
	slices.Sort(all)
	st := loadStats{n: len(all), dur: p.IngestDuration}
	if end := lateEnd.Load(); end > 0 {
		st.dur = time.Unix(0, end).Sub(from)
	}
	if len(all) > 0 {
		st.p50 = all[len(all)*50/100]
		st.p99 = all[min(len(all)-1, len(all)*99/100)]
	} else if firstErr == nil {
		firstErr = fmt.Errorf("no request completed in the %s measured window (did the server or the disk stall?)", p.IngestDuration)
	}
	return st, firstErr
}

// noteWebhook appends a distinct IncidentNotePayload (about 250 bytes) for note i.
func noteWebhook(b []byte, i int, incident string) []byte {
	b = append(b, `{"callId":"call-`...)
	b = append(b, incident...)
	b = append(b, `","incidentId":"`...)
	b = append(b, incident...)
	b = append(b, `","note":{"type":"INFO","critical":false,"createdAt":"2026-01-01T10:00:00Z","note":"Caller reports smoke on the second floor, two occupants still inside; bench note `...)
	b = strconv.AppendInt(b, int64(i), 10)
	return append(b, `"}}`...)
}

// stretchMax raises v to n if n is larger.
func stretchMax(v *atomic.Int64, n int64) {
	for {
		old := v.Load()
		if n <= old || v.CompareAndSwap(old, n) {
			return
		}
	}
}
