package config_test

import (
	"testing"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// TestTestVariablesAreNotOverrides: CI exports CAD_SIDECAR_TEST_REQUIRE_DB (and may export
// CAD_SIDECAR_TEST_MSSQL_DSN) while the binary's tests run; they must not be read as the
// config key "test_require_db", which does not exist.
func TestTestVariablesAreNotOverrides(t *testing.T) {
	cfg, err := config.Load("../config.example.yaml", config.Options{Environ: []string{
		"CAD_SIDECAR_TEST_REQUIRE_DB=1", "CAD_SIDECAR_TEST_MSSQL_DSN=sqlserver://sa:x@db:1433",
	}})
	if err != nil || cfg == nil {
		t.Fatalf("Load with the test suite's variables: %v", err)
	}
	if _, err := config.Load("../config.example.yaml", config.Options{Environ: []string{"CAD_SIDECAR_TESTX=1"}}); err == nil {
		t.Fatal("an unknown CAD_SIDECAR_ variable outside the test prefix is no longer reported")
	}
}
