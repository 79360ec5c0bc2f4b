package rest

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the REST adapter's own (Deps.Registerer; the host adds adapter="rest").
type metrics struct {
	pages   prometheus.Counter     // list pages read
	details *prometheus.CounterVec // detail requests by result: ok | failed | given_up
	retry   prometheus.Gauge       // listed records whose detail failed, waiting for the next poll
	tokens  *prometheus.CounterVec // OAuth2 token and login requests by result: ok | error
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		pages: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cad_sidecar_rest_pages_total",
			Help: "Pages of the CAD's incident list read (cad.rest.poll.pagination).",
		})),
		details: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cad_sidecar_rest_details_total",
			Help: "Detail requests (cad.rest.poll.detail) by result: ok, failed (retried at the next poll), given_up.",
		}, []string{"result"})),
		retry: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cad_sidecar_rest_detail_retry",
			Help: "Listed incidents whose detail request failed, fetched again at each poll.",
		})),
		tokens: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cad_sidecar_rest_token_requests_total",
			Help: "OAuth2 token and session login requests (cad.rest.auth) by result: ok, error.",
		}, []string{"result"})),
	}
	for _, r := range []string{"ok", "failed", "given_up"} {
		m.details.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "error"} {
		m.tokens.WithLabelValues(r)
	}
	return m
}

// register registers c, or returns the collector already registered under its name.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if x, ok := are.ExistingCollector.(C); ok {
				return x
			}
		}
	}
	return c
}

// token counts one token or login request.
func (m *metrics) token(err error) {
	if err != nil {
		m.tokens.WithLabelValues("error").Inc()
		return
	}
	m.tokens.WithLabelValues("ok").Inc()
}
