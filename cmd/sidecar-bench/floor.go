package main

import "fmt"

// Target ratios of the scenarios measured against a baseline in the same run (the README's
// Benchmarks section states them). A ratio compares two figures taken seconds apart on the
// same machine, so it holds on a noisy machine where absolute rates do not.
const (
	enqueueTargetRatio = 20 // outbox group commit over one bbolt Update per message
	ingestTargetRatio  = 4  // the sidecar's webhook over a receiver with one Update per note
)

func (r enqueueResult) ratios() (got, target float64) { return r.Ratio, enqueueTargetRatio }

func (r ingestResult) ratios() (got, target float64) { return r.Ratio, ingestTargetRatio }

// belowFloor returns an error when res's ratio is below floor times its target ratio
// (floor 0 = no check). CI runs with -floor 0.5: half the target, a generous margin for a
// shared machine, still far above what a lost optimisation gives (a ratio near 1).
func belowFloor(res result, floor float64) error {
	if floor <= 0 {
		return nil
	}
	got, target := res.ratios()
	if least := floor * target; got < least {
		return fmt.Errorf("ratio %.2f is below the floor %.2f (%g × the target ratio %g)", got, least, floor, target)
	}
	return nil
}
