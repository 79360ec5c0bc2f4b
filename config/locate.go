package config

// Lines points problems found after Load (e.g. by `validate --connect`, which asks the
// CAD) at the lines of the config file, as Load does for its own problems.
type Lines struct{ s *source }

// LinesOf reads the config file at path (and the environment) again for its key lines.
func LinesOf(path string) (*Lines, error) {
	_, s, err := readLayers(path, Options{}, true)
	if err != nil {
		return nil, err
	}
	return &Lines{s: s}, nil
}

// Of is where key is set: "config.yaml:41", "env CAD_SIDECAR_…", or the file name when
// neither key nor any parent is written.
func (l *Lines) Of(key string) string { return l.s.of(key) }

// Attach fills in each problem's Source (where it is empty) and sorts them by key.
func (l *Lines) Attach(ps []Problem) Problems { return l.s.attach(ps) }
