package tlsreload

import (
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/internal/testcert"
)

// Certificate files that become unreadable (a renewal tool that removed them, a volume
// unmounted) keep the current pair and say so once at WARN: never silently.
func TestFilesGoneAreWarnedOnce(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, dir, "ca")
	p := ca.Issue(t, dir, "server", testcert.Opts{})
	var buf syncBuf
	r, err := New(p.CertFile, p.KeyFile, Options{Interval: -1, What: "server.tls_cert",
		Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p.KeyFile); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if c := r.Current(); c == nil {
			t.Fatal("no certificate once the files are gone: the current one must be kept")
		}
	}
	if n := strings.Count(buf.String(), "not readable"); n != 1 {
		t.Fatalf("%d WARN lines about the unreadable files, want 1; log:\n%s", n, buf.String())
	}
}
