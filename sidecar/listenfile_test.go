package sidecar_test

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// With port 0 in server.listen and admin.listen, the running sidecar reports the bound
// addresses in data_dir/listen.json, and removes the file when it stops.
func TestListenFileReportsBoundAddresses(t *testing.T) {
	var dataDir string
	t.Run("running", func(t *testing.T) {
		e := start(t, envOptions{})
		dataDir = e.cfg.DataDir
		var lf sidecar.ListenFile
		waitFor(t, 10*time.Second, "listen.json", func() bool {
			var err error
			lf, err = sidecar.ReadListenFile(dataDir)
			return err == nil
		})
		if lf.Public != e.s.PublicAddr() || lf.Admin != e.s.AdminAddr() {
			t.Fatalf("listen.json %+v, want public %s admin %s", lf, e.s.PublicAddr(), e.s.AdminAddr())
		}
		if got := sidecar.ResolveAdminListen(e.cfg); got != e.s.AdminAddr() {
			t.Fatalf("ResolveAdminListen = %s, want the bound %s", got, e.s.AdminAddr())
		}
		resp, err := http.Get("http://" + lf.Admin + "/healthz")
		if err != nil {
			t.Fatalf("admin address %s from listen.json: %v", lf.Admin, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("admin address %s from listen.json: /healthz %s", lf.Admin, resp.Status)
		}
	})
	if _, err := os.Stat(sidecar.ListenFilePath(dataDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("listen.json after a clean stop: %v, want it removed", err)
	}
}
