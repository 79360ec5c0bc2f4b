package sidecar

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// OpsMetrics are the operator's latency and contact metrics, and the process's own.
type OpsMetrics struct {
	// NoteDelivery: a note's time from received (webhook or pull: the outbox message's
	// CreatedAt) to accepted by the CAD.
	NoteDelivery prometheus.Histogram
	// LinkLatency: a link's time from queued (the record seen new or changed) to answered
	// by Assist.
	LinkLatency prometheus.Histogram
	// CADContact, AssistContact: Unix time of the last successful contact with the CAD (a
	// good poll or a note accepted) and of Assist's last answer (any answered request).
	CADContact, AssistContact prometheus.Gauge
}

// latencyBuckets span a note delivered at once (tens of ms) to an hour-long CAD outage.
var latencyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

// newOpsMetrics registers the ops metrics, the Go runtime and process collectors and the
// CAD cursor's age (read from store at each scrape) on reg.
func newOpsMetrics(reg prometheus.Registerer, store *outbox.Store) *OpsMetrics {
	m := &OpsMetrics{
		NoteDelivery: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cad_sidecar_note_delivery_seconds", Buckets: latencyBuckets,
			Help: "Time from a note received from Assist (webhook or pull) to accepted by the CAD.",
		}),
		LinkLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cad_sidecar_link_seconds", Buckets: latencyBuckets,
			Help: "Time from a CAD record queued for linking (new or changed) to answered by Assist.",
		}),
		CADContact: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cad_sidecar_cad_last_contact_timestamp_seconds",
			Help: "Unix time of the last successful contact with the CAD: a good poll or a note accepted.",
		}),
		AssistContact: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cad_sidecar_assist_last_contact_timestamp_seconds",
			Help: "Unix time of Assist's last answer to any request (link, notes pull, webhook registration).",
		}),
	}
	reg.MustRegister(m.NoteDelivery, m.LinkLatency, m.CADContact, m.AssistContact,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if store != nil {
		reg.MustRegister(&cursorAgeCollector{store: store, desc: prometheus.NewDesc("cad_sidecar_cad_cursor_age_seconds",
			"How far the stored CAD cursor is behind now, when it is a time (absent for a sequence or no cursor).", nil, nil)})
	}
	return m
}

// cadContact records an answer of the CAD at now.
func (m *OpsMetrics) cadContact(now time.Time) { m.CADContact.Set(float64(now.UnixNano()) / 1e9) }

// cursorAgeCollector reads the stored CAD cursor at scrape time and reports its age when
// it is a time (by the kind the source said, else by its form).
type cursorAgeCollector struct {
	store *outbox.Store
	desc  *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c *cursorAgeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector. No cursor, a sequence, or a closed store: nothing.
func (c *cursorAgeCollector) Collect(ch chan<- prometheus.Metric) {
	cur, ok, err := c.store.Get(bucketCursor, cadCursorKey)
	if err != nil || !ok {
		return
	}
	if kind, _, _ := c.store.Get(bucketCursor, cadCursorKindKey); adapters.CursorKind(kind) == adapters.CursorSequence {
		return
	}
	t, ok := adapters.ParseCursorTime(cur)
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, time.Since(t).Seconds())
}

// assistAnswered is the Assist client's OnAnswer: the metrics exist before any request.
func (s *Sidecar) assistAnswered() {
	if s.metrics != nil {
		s.metrics.Ops.AssistContact.Set(float64(time.Now().UnixNano()) / 1e9)
	}
}

// registerReady adds cad_sidecar_ready: /readyz's answer (1 ready, 0 not), computed at
// each scrape.
func (s *Sidecar) registerReady(reg prometheus.Registerer) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cad_sidecar_ready", Help: "1 when /readyz answers ready, else 0 (GET /readyz says which check fails).",
	}, func() float64 {
		if ok, _ := s.Ready(); ok {
			return 1
		}
		return 0
	}))
}
