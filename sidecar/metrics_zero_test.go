package sidecar_test

import (
	"testing"
)

// Counters an alert rule watches exist at 0 from the start (a series that appears only with
// its first event makes rate() and increase() miss that event).
func TestAlertCountersPresentAtZero(t *testing.T) {
	e := start(t, envOptions{})
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				present[mf.GetName()+"{"+lp.GetName()+"="+lp.GetValue()+"}"] = true
			}
		}
	}
	for _, want := range []string{
		"cad_sidecar_webhook_refused_total{code=401}",
		"cad_sidecar_webhook_refused_total{code=503}",
		"cad_sidecar_note_write_errors_total{kind=transient}",
		"cad_sidecar_note_write_errors_total{kind=permanent}",
		"cad_sidecar_webhook_events_total{event=note}",
		"cad_sidecar_webhook_events_total{event=call_status}",
		"cad_sidecar_webhook_events_total{event=activation}",
		"cad_sidecar_unlinked_events_expired_total{kind=activation}",
		"cad_sidecar_unlinked_events_expired_total{kind=call_status}",
	} {
		if !present[want] {
			t.Errorf("%s is not exported before its first event", want)
		}
	}
}
