package adapters

import (
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Log is Deps.Logger, or a logger that discards when there is none.
func (d Deps) Log() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// Metrics is Deps.Registerer, or a registry of its own when there is none (tests).
func (d Deps) Metrics() prometheus.Registerer {
	if d.Registerer == nil {
		return prometheus.NewRegistry()
	}
	return d.Registerer
}

// Path resolves a path of the adapter's section: an absolute path as is, a relative one
// against Deps.Dir (the config file's folder); "" stays "".
func (d Deps) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || d.Dir == "" {
		return p
	}
	return filepath.Join(d.Dir, p)
}

// Store is Deps.State, or an in-memory State when there is none (tests).
func (d Deps) Store() State {
	if d.State == nil {
		return &MemState{}
	}
	return d.State
}

// MemState is a State in memory (tests, tools); the zero value is ready.
type MemState struct {
	mu sync.Mutex
	m  map[string]string
}

// Get returns the value of key.
func (m *MemState) Get(key string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[key]
	return v, ok, nil
}

// Put stores value under key.
func (m *MemState) Put(key, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]string{}
	}
	m.m[key] = value
	return nil
}

// Delete removes key.
func (m *MemState) Delete(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, key)
	return nil
}
