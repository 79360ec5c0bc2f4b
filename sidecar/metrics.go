package sidecar

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// Metrics are the sidecar's Prometheus metrics, registered on an injected registry.
type Metrics struct {
	Polls          *prometheus.CounterVec // result: ok | error
	Records        *prometheus.CounterVec // result: queued | unchanged | filtered | error
	Links          *prometheus.CounterVec // result: ok | error
	NotesReceived  *prometheus.CounterVec // source: push | pull; result: queued | duplicate | refused
	NotesDelivered prometheus.Counter
	NoteErrors     *prometheus.CounterVec // kind: transient | permanent
	Webhooks       *prometheus.CounterVec // event: note | call_status | activation
	Registered     prometheus.Gauge
	LastPoll       prometheus.Gauge
	WebhookRefused *prometheus.CounterVec // code: the HTTP status of the refusal
	CursorRejected prometheus.Counter
	State          *StateMetrics // metrics_state.go
	Ops            *OpsMetrics   // metrics_ops.go

	// CallNotes: metrics_callnotes.go.
	CallNotes *CallNoteMetrics
}

// newMetrics registers the sidecar's metrics on reg, with the outbox's sizes read from
// store at each scrape (outboxCollector).
func newMetrics(reg prometheus.Registerer, store *outbox.Store) *Metrics {
	m := &Metrics{
		Polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cad_sidecar_cad_polls_total", Help: "Polls of the CAD source, by result (ok, error).",
		}, []string{"result"}),
		Records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cad_sidecar_cad_records_total", Help: "CAD records seen by the mapping, by result (queued, unchanged, filtered, error).",
		}, []string{"result"}),
		Links: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cad_sidecar_assist_links_total", Help: "Link requests sent to Assist, by result (ok, error).",
		}, []string{"result"}),
		NotesReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cad_sidecar_notes_received_total", Help: "Notes received from Assist, by source (push, pull) and result (queued, duplicate, refused: a pulled note skipped).",
		}, []string{"source", "result"}),
		NotesDelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cad_sidecar_notes_delivered_total", Help: "Notes the CAD accepted.",
		}),
		NoteErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cad_sidecar_note_write_errors_total", Help: "Failed attempts to write a note into the CAD, by kind (transient, permanent).",
		}, []string{"kind"}),
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cad_sidecar_webhook_events_total", Help: "Webhook events accepted, by event (note, call_status, activation).",
		}, []string{"event"}),
		Registered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cad_sidecar_webhook_registered", Help: "1 once the webhook is registered with Assist (or registration is off).",
		}),
		LastPoll: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cad_sidecar_cad_last_poll_success_timestamp_seconds", Help: "Unix time of the last successful CAD poll.",
		}),
		WebhookRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cad_sidecar_webhook_refused_total", Help: "Webhook requests refused, by HTTP status code (401: wrong Assist auth token; 400 bad input; 413 too large; 503 outbox full).",
		}, []string{"code"}),
		CursorRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cad_sidecar_cad_cursor_rejected_total", Help: "Polls that found a CAD cursor later than now + cad.cursor_tolerance (a record's, not adopted, or the stored one).",
		}),
	}
	// Present at 0 from the start, so alert rules (rate, increase) see the first event.
	for _, code := range []string{"400", "401", "413", "503"} {
		m.WebhookRefused.WithLabelValues(code)
	}
	for _, kind := range []string{"transient", "permanent"} {
		m.NoteErrors.WithLabelValues(kind)
	}
	for _, ev := range []string{"note", "call_status", "activation"} {
		m.Webhooks.WithLabelValues(ev)
	}
	reg.MustRegister(m.Polls, m.Records, m.Links, m.NotesReceived, m.NotesDelivered, m.NoteErrors,
		m.Webhooks, m.Registered, m.LastPoll, m.WebhookRefused, m.CursorRejected)
	m.State = newStateMetrics(reg)
	m.Ops = newOpsMetrics(reg, store)
	m.CallNotes = newCallNoteMetrics(reg)
	if store != nil {
		reg.MustRegister(newOutboxCollector(store))
	}
	return m
}

// webhookRefused counts one refused webhook (assist.ReceiverOptions.OnRefused).
func (m *Metrics) webhookRefused(code int) {
	m.WebhookRefused.WithLabelValues(strconv.Itoa(code)).Inc()
}

// outboxCollector reads the outbox's sizes at scrape time: Stats (in memory) and, per
// topic, the first queue entry for the oldest age: O(topics), no walk of the backlog.
type outboxCollector struct {
	store                *outbox.Store
	dead, depth, ageDesc *prometheus.Desc
	givenUp              *prometheus.Desc
}

func newOutboxCollector(store *outbox.Store) *outboxCollector {
	return &outboxCollector{
		store: store,
		dead: prometheus.NewDesc("cad_sidecar_dead_letters",
			"Messages given up (dead letters), by topic: see `cad-sidecar deadletter list`.", []string{"topic"}, nil),
		depth: prometheus.NewDesc("cad_sidecar_outbox_depth",
			"Messages waiting in the outbox, by topic.", []string{"topic"}, nil),
		ageDesc: prometheus.NewDesc("cad_sidecar_outbox_oldest_age_seconds",
			"Age of the oldest message waiting in the outbox, by topic (0 when none waits).", []string{"topic"}, nil),
		givenUp: prometheus.NewDesc("cad_sidecar_notes_given_up_total",
			"Messages given up by the poison rule since start, by topic: they kept failing while the destination accepted others (see `cad-sidecar deadletter list`).", []string{"topic"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.dead
	ch <- c.depth
	ch <- c.ageDesc
	ch <- c.givenUp
}

// Collect implements prometheus.Collector. A closed store yields nothing.
func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.store.Stats()
	if err != nil {
		return
	}
	now := time.Now()
	for t, n := range st.Pending {
		topic := string(t)
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(n), topic)
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(st.Dead[t]), topic)
		ch <- prometheus.MustNewConstMetric(c.givenUp, prometheus.CounterValue, float64(st.GivenUp[t]), topic)
		age := 0.0
		if n > 0 {
			if since, ok, err := c.store.OldestPending(t); err == nil && ok {
				age = max(now.Sub(since).Seconds(), 0)
			}
		}
		ch <- prometheus.MustNewConstMetric(c.ageDesc, prometheus.GaugeValue, age, topic)
	}
}
