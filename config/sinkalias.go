package config

import (
	"fmt"
	"strings"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

// sinkAlias takes the sink a source names in its own section (cad.push.sink, through
// adapters.SinkNamer) as cad.sink: either may be set, both set must agree. The name is
// checked as cad.sink is.
func (c *Config) sinkAlias(settings any) []Problem {
	n, ok := settings.(adapters.SinkNamer)
	if !ok || n.SinkName() == "" {
		return nil
	}
	key := "cad." + c.CAD.Adapter + ".sink"
	name := n.SinkName()
	switch {
	case c.CAD.Sink == "":
		c.CAD.Sink = name
	case c.CAD.Sink != name:
		return []Problem{{Key: key, Msg: fmt.Sprintf("%q disagrees with cad.sink %q (set one of them)", name, c.CAD.Sink)}}
	default:
		return nil // cad.sink already checked
	}
	f, ok := adapters.Lookup(name)
	switch {
	case !ok:
		return []Problem{{Key: key, Msg: fmt.Sprintf("unknown adapter %q (available: %s)", name, strings.Join(adapters.Names(), ", "))}}
	case c.CAD.SeparateSink() && f.NewSink == nil:
		return []Problem{{Key: key, Msg: fmt.Sprintf("adapter %q cannot write notes on its own", name)}}
	}
	return nil
}

// mountedPaths refuses an adapter's public path that is assist.webhook.path (whether
// notes are pushed now or not: switching assist.notes later must not break either).
func (c *Config) mountedPaths(settings any) []Problem {
	m, ok := settings.(adapters.PathMounter)
	if !ok {
		return nil
	}
	var ps []Problem
	for key, p := range m.MountedPaths() {
		if p == c.Assist.Webhook.Path {
			ps = append(ps, Problem{Key: joinKey("cad."+c.CAD.Adapter, key),
				Msg: fmt.Sprintf("%q is assist.webhook.path: choose another path", p)})
		}
	}
	return ps
}
