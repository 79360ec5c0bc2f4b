package config_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// TestSecretFileUnreadable: a `*_file` secret the process may not read (a container's
// non-root user and a host file of mode 0600) is reported with the file and the uid and
// gid the sidecar runs as; the other secret, readable, loads. Root reads every file, so
// the refusal is injected at the read.
func TestSecretFileUnreadable(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "assist_token")
	hook := filepath.Join(dir, "webhook_auth_token")
	for _, f := range []string{token, hook} {
		if err := os.WriteFile(f, []byte("0123456789abcdef0123\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	restore := config.SetReadFile(func(name string) ([]byte, error) {
		if name == token {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
		}
		return os.ReadFile(name)
	})
	defer restore()
	body := strings.Replace(minimal(t), "token: test-token", "token_file: "+token, 1)
	body = strings.Replace(body, `webhook: {auth_token: "0123456789abcdef0123"}`, "webhook: {auth_token_file: "+hook+"}", 1)
	_, err := config.Load(writeConfig(t, body), config.Options{Environ: []string{}})
	got := problems(t, err)
	want := fmt.Sprintf(`assist.token_file: cannot read secret file %q: permission denied; the sidecar runs as uid %d, gid %d: make the file readable by it`, token, os.Getuid(), os.Getgid())
	if len(got) != 1 || !strings.HasPrefix(got[0], want) {
		t.Fatalf("problems %q, want one starting %q (the readable webhook secret must load)", got, want)
	}
}

// TestConfigFileUnreadable: a config file the process may not read says which uid and gid
// it runs as (the compose file mounts ./config.yaml as it is).
func TestConfigFileUnreadable(t *testing.T) {
	path := writeConfig(t, minimal(t))
	restore := config.SetReadFile(func(name string) ([]byte, error) {
		if name == path {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
		}
		return os.ReadFile(name)
	})
	defer restore()
	_, err := config.Load(path, config.Options{Environ: []string{}})
	want := fmt.Sprintf("the sidecar runs as uid %d, gid %d", os.Getuid(), os.Getgid())
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
		t.Fatalf("err %v, want the file %s and %q", err, path, want)
	}
}
