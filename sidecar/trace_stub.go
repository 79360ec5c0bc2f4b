package sidecar

import (
	"time"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

func lastNoteOfTrace(st *outbox.Store, id string) (*LastNote, error) { _ = time.Now; return nil, nil }

type tracer struct{}

func (t *tracer) flush() {}
