package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	Key    string // key path, e.g. "mapping.fields[2].expr"
	Msg    string
	Source string // "config.yaml:41", "env CAD_SIDECAR_ASSIST__TOKEN", or the file name alone
}

// String renders the contract's line: `key.path: what is wrong (file:line)`.
func (p Problem) String() string {
	key := p.Key
	if key == "" {
		key = "(config)"
	}
	if p.Source == "" {
		return key + ": " + p.Msg
	}
	return fmt.Sprintf("%s: %s (%s)", key, p.Msg, p.Source)
}

// Problems is the error Load returns when a configuration is not usable.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
