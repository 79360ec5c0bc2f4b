package adapters

import (
	"fmt"
	"strings"
)

// Factory describes one adapter. NewConfig returns a pointer to a config struct (koanf
// tags) already holding the defaults; Validate checks a decoded config; New builds the
// Source and Sink from it (either may be nil: a sink-only or read-only adapter). Define
// builds a Factory from typed functions, so that no adapter converts from any itself.
type Factory struct {
	Name      string
	NewConfig func() any
	Validate  func(cfg any) []Problem
	New       func(cfg any, deps Deps) (Source, Sink, error)
	// The sink role, for an adapter chosen with cad.sink while another one is the source:
	// ValidateSink checks what writing notes needs (no poll section required), NewSink
	// builds the Sink alone. Nil: the adapter cannot be a sink on its own (WithSink).
	ValidateSink func(cfg any) []Problem
	NewSink      func(cfg any, deps Deps) (Sink, error)
}

// Define is the Factory of an adapter whose config is *C: the one conversion from any (the
// config loader's view) to *C happens here.
func Define[C any](name string, newConfig func() *C, validate func(*C) []Problem, build func(*C, Deps) (Source, Sink, error)) Factory {
	conv := func(cfg any) (*C, error) {
		switch c := cfg.(type) {
		case *C:
			if c == nil {
				return nil, fmt.Errorf("%s: nil config", name)
			}
			return c, nil
		case C:
			return &c, nil
		}
		return nil, fmt.Errorf("%s: config is %T, want %T", name, cfg, (*C)(nil))
	}
	f := Factory{
		Name:      name,
		NewConfig: func() any { return newConfig() },
		New: func(cfg any, deps Deps) (Source, Sink, error) {
			c, err := conv(cfg)
			if err != nil {
				return nil, nil, err
			}
			return build(c, deps)
		},
	}
	if validate != nil {
		f.Validate = func(cfg any) []Problem {
			c, err := conv(cfg)
			if err != nil {
				return []Problem{{Key: "", Msg: err.Error()}}
			}
			return validate(c)
		}
	}
	return f
}

// WithSink gives f (made by Define over *C) the sink role (Factory.NewSink).
func WithSink[C any](f Factory, validate func(*C) []Problem, build func(*C, Deps) (Sink, error)) Factory {
	conv := func(cfg any) (*C, error) {
		if c, ok := cfg.(*C); ok && c != nil {
			return c, nil
		}
		return nil, fmt.Errorf("%s: config is %T, want %T", f.Name, cfg, (*C)(nil))
	}
	f.ValidateSink = func(cfg any) []Problem {
		c, err := conv(cfg)
		if err != nil {
			return []Problem{{Key: "", Msg: err.Error()}}
		}
		return validate(c)
	}
	f.NewSink = func(cfg any, deps Deps) (Sink, error) {
		c, err := conv(cfg)
		if err != nil {
			return nil, err
		}
		return build(c, deps)
	}
	return f
}

// WithoutPoll drops the problems under poll (a section used as a sink only): the usual
// way to write a ValidateSink from an adapter's Validate.
func WithoutPoll(probs []Problem) []Problem {
	var out []Problem
	for _, p := range probs {
		if p.Key != "poll" && !strings.HasPrefix(p.Key, "poll.") {
			out = append(out, p)
		}
	}
	return out
}

// SinkNamer is implemented by a source's config that names, in its own section, the
// adapter that writes its notes (cad.push.sink): the config loader treats that name as
// cad.sink (either may be set; both set must agree).
type SinkNamer interface {
	SinkName() string
}

// PathMounter is implemented by a config whose adapter mounts paths on the public
// listener (cad.push.path): the loader refuses a path that is assist.webhook.path. Keys
// are relative to the adapter's section.
type PathMounter interface {
	MountedPaths() map[string]string // key → path
}
