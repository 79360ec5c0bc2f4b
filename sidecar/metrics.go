package sidecar

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the sidecar's Prometheus metrics, registered on an injected registry.
type Metrics struct {
	Polls          *prometheus.CounterVec // result: ok | error
	Records        *prometheus.CounterVec // result: queued | unchanged | filtered | error
	Links          *prometheus.CounterVec // result: ok | error
	NotesReceived  *prometheus.CounterVec // source: push | pull; result: queued | duplicate
	NotesDelivered prometheus.Counter
	NoteErrors     *prometheus.CounterVec // kind: transient | permanent
	Webhooks       *prometheus.CounterVec // event: note | call_status | activation
	Registered     prometheus.Gauge
	LastPoll       prometheus.Gauge
	State          *StateMetrics // metrics_state.go
}

func newMetrics(reg prometheus.Registerer) *Metrics {
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
			Name: "cad_sidecar_notes_received_total", Help: "Notes received from Assist, by source (push, pull) and result (queued, duplicate).",
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
	}
	reg.MustRegister(m.Polls, m.Records, m.Links, m.NotesReceived, m.NotesDelivered, m.NoteErrors,
		m.Webhooks, m.Registered, m.LastPoll)
	m.State = newStateMetrics(reg)
	return m
}
