package sidecar

import "github.com/prometheus/client_golang/prometheus"

// CallNoteMetrics are the metrics of the call's own notes (callnotes.go).
type CallNoteMetrics struct {
	// Summaries counts the decisions on a call's summary fallback; result: queued (no
	// CALL_COMPLETED note came: the summary is queued as one) | not_needed (one came) |
	// empty (Assist had no summary) | given_up (GET /call failed for good, or rendering).
	Summaries *prometheus.CounterVec
	// Transcripts counts the calls' transcripts; result: queued | empty | given_up.
	Transcripts *prometheus.CounterVec
	// FetchErrors counts failed GET /call requests; kind: transient | permanent.
	FetchErrors *prometheus.CounterVec
	// Pending is the number of ended calls whose summary or transcript is not settled yet.
	Pending prometheus.Gauge
}

func newCallNoteMetrics(reg prometheus.Registerer) *CallNoteMetrics {
	m := &CallNoteMetrics{
		Summaries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cad_sidecar_summary_fallbacks_total",
			Help: "Ended calls checked for a CALL_COMPLETED note (mapping.note.summary), by result (queued: none came, the call's summary is queued as one; not_needed; empty: no summary; given_up).",
		}, []string{"result"}),
		Transcripts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cad_sidecar_transcripts_total",
			Help: "Ended calls' transcripts (mapping.note.transcript), by result (queued, empty, given_up).",
		}, []string{"result"}),
		FetchErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cad_sidecar_assist_call_fetch_errors_total",
			Help: "Failed GET /call/{id} requests for a call's summary or transcript, by kind (transient: retried; permanent: given up).",
		}, []string{"kind"}),
		Pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cad_sidecar_call_notes_pending",
			Help: "Ended calls whose summary or transcript is not settled yet (waiting for the grace, or retrying GET /call).",
		}),
	}
	for _, r := range []string{"queued", "not_needed", "empty", "given_up"} {
		m.Summaries.WithLabelValues(r) // present at 0 from the start, for alerts
	}
	for _, r := range []string{"queued", "empty", "given_up"} {
		m.Transcripts.WithLabelValues(r)
	}
	for _, k := range []string{"transient", "permanent"} {
		m.FetchErrors.WithLabelValues(k)
	}
	reg.MustRegister(m.Summaries, m.Transcripts, m.FetchErrors, m.Pending)
	return m
}
