package testseed

import "testing"

func TestSeedFromEnvironment(t *testing.T) {
	t.Setenv(EnvVar, "12345")
	if got := Seed(t); got != 12345 {
		t.Fatalf("Seed = %d, want 12345 from %s", got, EnvVar)
	}
}
