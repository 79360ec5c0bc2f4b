// Package testseed gives randomised tests a seed that can be fed back: taken from the
// environment variable SIDECAR_TEST_SEED when it is set, else from the clock, and
// printed with the command to rerun when the test fails.
package testseed

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// EnvVar names the environment variable that fixes the seed of every randomised test. It
// is outside the CAD_SIDECAR_ prefix on purpose: the binary's config loader reads every
// CAD_SIDECAR_* variable as a config key, and the tests' children inherit the environment.
const EnvVar = "SIDECAR_TEST_SEED"

// Seed returns the test's seed. A seed in EnvVar that is not a number fails the test.
func Seed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(EnvVar); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: not an unsigned integer: %v", EnvVar, s, err)
		}
		seed = n
	}
	t.Logf("seed %d", seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s failed with seed %d; rerun with: %s=%d go test -run '^%s$' ...", t.Name(), seed, EnvVar, seed, t.Name())
		}
	})
	return seed
}
