//go:build !unix

package main

import "time"

// cpuTime is not measured here (csv-map then reports a CPU time of 0).
func cpuTime() time.Duration { return 0 }
