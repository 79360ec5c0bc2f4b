package sidecar_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/outbox"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// GET /api/v1/backup streams the data file, whole (Content-Length) and sound, with the
// store id in a header; from another host than loopback it is refused like every request
// that shows note text.
func TestAdminAPIBackup(t *testing.T) {
	e := start(t, envOptions{cadDown: true})
	if resp, body := post(t, e.hookURL, "Bearer "+hookToken, noteBody("INC-1", "in the backup")); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d %s", resp.StatusCode, body)
	}
	h := e.s.AdminHandler()

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/backup", nil)
	req.RemoteAddr = "127.0.0.1:4711"
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Length") != strconv.Itoa(rec.Body.Len()) {
		t.Fatalf("backup: %d, Content-Length %q for %d bytes", rec.Code, rec.Header().Get("Content-Length"), rec.Body.Len())
	}
	if id := rec.Header().Get(sidecar.BackupStoreIDHeader); id != e.s.Store().StoreID() {
		t.Fatalf("store id header %q, want %q", id, e.s.Store().StoreID())
	}
	file := filepath.Join(t.TempDir(), "b.db")
	if err := os.WriteFile(file, rec.Body.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := outbox.Check(file)
	if err != nil || !r.Sound() || r.Topics[outbox.TopicNote].Pending != 1 {
		t.Fatalf("the streamed backup: %+v %v, want sound with the one note", r, err)
	}

	rec = httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodGet, "/api/v1/backup", nil)
	req.RemoteAddr = "192.0.2.7:4711"
	h.ServeHTTP(rec, req)
	checkRemoteRefusal(t, "GET", "/api/v1/backup", true, rec.Code, rec.Body.Bytes())
	if bytes.Contains(rec.Body.Bytes(), []byte("in the backup")) {
		t.Fatal("the refusal carries note text")
	}
}
