package config

import "strconv"

// validateShadow checks the shadow: section (shadow mode, its file and rotation).
func (c *Config) validateShadow() []Problem {
	var ps []Problem
	bad := func(key, msg string) { ps = append(ps, Problem{Key: key, Msg: msg}) }
	s := c.Shadow
	switch s.Mode {
	case ShadowOff, ShadowCAD, ShadowAll:
	default:
		bad("shadow.mode", `must be one of off | cad | all, got "`+s.Mode+`"`)
	}
	if s.File == "" {
		bad("shadow.file", "must not be empty (the shadow file, JSON lines, relative to data_dir)")
	}
	if s.MaxSize < KiB {
		bad("shadow.max_size", "must be at least 1KiB, got "+s.MaxSize.String())
	}
	if n := s.MaxFiles; n < 1 || n > 1000 {
		ps = append(ps, Problem{Key: "shadow.max_files", Msg: "must be between 1 and 1000, got " + strconv.Itoa(n)})
	}
	return ps
}
