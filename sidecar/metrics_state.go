package sidecar

import "github.com/prometheus/client_golang/prometheus"

// StateMetrics are the metrics of the sidecar's small state (its pruning).
type StateMetrics struct {
	// UnlinkedExpired counts call statuses and assistant activations forgotten because
	// their call was not linked within outbox.unlinked_retention; kind: activation |
	// call_status.
	UnlinkedExpired *prometheus.CounterVec
}

func newStateMetrics(reg prometheus.Registerer) *StateMetrics {
	m := &StateMetrics{
		UnlinkedExpired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cad_sidecar_unlinked_events_expired_total",
			Help: "Call statuses and assistant activations forgotten because their call was not linked within outbox.unlinked_retention, by kind (activation, call_status).",
		}, []string{"kind"}),
	}
	for _, kind := range []string{"activation", "call_status"} {
		m.UnlinkedExpired.WithLabelValues(kind) // present at 0 from the start, for alerts
	}
	reg.MustRegister(m.UnlinkedExpired)
	return m
}
