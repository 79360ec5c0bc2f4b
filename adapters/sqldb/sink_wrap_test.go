package sqldb

import (
	"context"
	"errors"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// A note statement whose parameters cannot be bound is permanent and wraps the cause (%w).
func TestWriteNoteArgsErrorWrapped(t *testing.T) {
	s := &Sink{stmt: Bound{Names: []string{"no_such_param"}}}
	err := s.WriteNote(context.Background(), adapters.Note{IncidentID: "INC-1"})
	if err == nil {
		t.Fatal("no error")
	}
	inner := err
	for errors.Unwrap(inner) != nil {
		inner = errors.Unwrap(inner)
	}
	if inner.Error() != "unknown parameter :no_such_param" {
		t.Fatalf("innermost error %q of %q: the cause is not wrapped", inner, err)
	}
}
