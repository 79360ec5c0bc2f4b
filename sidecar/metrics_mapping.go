package sidecar

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// unparsedTimes counts, across mapping reloads, the field values the mapping left empty
// because parse_time could not read a time (mapping.Mapper.UnparsedTimes: each Mapper
// counts from 0; a reload adds the old one's count to base, so the counter never goes down).
type unparsedTimes struct {
	base atomic.Uint64
}

// registerUnparsedTimes exports cad_sidecar_mapping_unparsed_times_total.
func (s *Sidecar) registerUnparsedTimes(reg prometheus.Registerer) {
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "cad_sidecar_mapping_unparsed_times_total",
		Help: "Field values the mapping left empty because parse_time could not read the CAD's time (an optional field; a required one fails its record).",
	}, func() float64 {
		return float64(s.unparsed.base.Load() + s.mapping().UnparsedTimes())
	}))
}
