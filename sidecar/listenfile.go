package sidecar

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// ListenFileName is the file in data_dir that reports the bound addresses when
// server.listen or admin.listen asks for port 0 (any free port).
const ListenFileName = "listen.json"

// ListenFile is the content of data_dir/listen.json. Public is empty when the public
// listener is not used (notes by pull only).
type ListenFile struct {
	Public string `json:"public,omitempty"`
	Admin  string `json:"admin"`
}

// ListenFilePath is data_dir/listen.json.
func ListenFilePath(dataDir string) string { return filepath.Join(dataDir, ListenFileName) }

// ReadListenFile reads data_dir/listen.json as the running sidecar wrote it.
func ReadListenFile(dataDir string) (ListenFile, error) {
	var lf ListenFile
	b, err := os.ReadFile(ListenFilePath(dataDir))
	if err != nil {
		return lf, fmt.Errorf("read %s: %w", ListenFileName, err)
	}
	if err := json.Unmarshal(b, &lf); err != nil {
		return lf, fmt.Errorf("decode %s: %w", ListenFileName, err)
	}
	return lf, nil
}

// ResolveAdminListen is where the admin listener of the sidecar configured by cfg is, for
// the CLI commands that call it (healthcheck, the operator commands): admin.listen, or —
// when it asks for port 0 — the address the running sidecar reported in
// data_dir/listen.json (admin.listen itself while there is no such file).
func ResolveAdminListen(cfg *config.Config) string {
	if !anyPort(cfg.Admin.Listen) {
		return cfg.Admin.Listen
	}
	if lf, err := ReadListenFile(cfg.DataDir); err == nil && lf.Admin != "" {
		return lf.Admin
	}
	return cfg.Admin.Listen
}

// anyPort reports whether a listen address asks for port 0.
func anyPort(hostport string) bool {
	_, port, err := net.SplitHostPort(hostport)
	return err == nil && port == "0"
}

// writeListenFile writes data_dir/listen.json, atomically (a temporary file synced and
// renamed into place), when a listener was configured with port 0; it returns a function
// that removes the file (deferred by Run, so called when it stops; a no-op when nothing
// was written).
func (s *Sidecar) writeListenFile() (remove func(), err error) {
	if !anyPort(s.cfg.Server.Listen) && !anyPort(s.cfg.Admin.Listen) {
		// Fixed ports: no file, and none left over from an earlier run with port 0.
		if err := os.Remove(ListenFilePath(s.cfg.DataDir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("could not remove a stale listen file", "path", ListenFilePath(s.cfg.DataDir), "err", err)
		}
		return func() {}, nil
	}
	b, err := json.Marshal(ListenFile{Public: s.PublicAddr(), Admin: s.AdminAddr()})
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ListenFileName, err)
	}
	path := ListenFilePath(s.cfg.DataDir)
	if err := writeFileAtomic(path, append(b, '\n')); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return func() {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("could not remove the listen file", "path", path, "err", err)
		}
	}, nil
}

// writeFileAtomic writes b to path through a temporary file in the same folder, synced
// before the rename, so a reader sees either no file or the whole of it.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}
