package adapters

import (
	"fmt"
	"sort"
	"sync"
)

var (
	mu       sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes an adapter available under f.Name. It panics on a duplicate name or an
// incomplete Factory, as database/sql.Register does: both are programming errors.
func Register(f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if f.Name == "" || f.NewConfig == nil || f.New == nil {
		panic("adapters: Register with an incomplete Factory")
	}
	if _, dup := registry[f.Name]; dup {
		panic(fmt.Sprintf("adapters: Register called twice for %q", f.Name))
	}
	registry[f.Name] = f
}

// Lookup returns the adapter registered under name.
func Lookup(name string) (Factory, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := registry[name]
	return f, ok
}

// Names lists the registered adapters, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
