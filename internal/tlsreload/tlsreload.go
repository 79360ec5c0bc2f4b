// Package tlsreload serves a certificate and key pair from PEM files and picks up a renewed
// pair without a restart: tls.Config.GetCertificate (a server) or GetClientCertificate (a
// client) asks the Reloader for the pair at every handshake, and the Reloader looks at the
// files' size and modification time at most once per check interval, re-reading the pair
// when either file changed. A new pair that does not load (a key that does not match the
// certificate, a file written halfway) is refused: the Reloader keeps serving the pair it
// has and logs why at WARN, once per change of the files; the next change is tried again.
//
// The check is done lazily, by the handshake that finds the interval passed: there is no
// goroutine to own or stop.
package tlsreload

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultInterval is how often, at most, the files are looked at.
const DefaultInterval = 5 * time.Second

// Options tune a Reloader.
type Options struct {
	// Interval is the least time between two looks at the files; 0 = DefaultInterval, a
	// negative value looks at every handshake (tests).
	Interval time.Duration
	// Logger receives the reloads (INFO) and the refused pairs (WARN); nil = discard.
	Logger *slog.Logger
	// What names the pair in logs and errors, e.g. "server.tls_cert".
	What string
}

// Reloader holds the current pair of CertFile and KeyFile.
type Reloader struct {
	certFile, keyFile string
	interval          time.Duration
	log               *slog.Logger
	what              string
	now               func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   stamp     // of the files the current pair was read from
	refused stamp     // of the files last refused (not logged again)
	checked time.Time // last look at the files
	// unreadable: the last look could not stat the files (warned once until they are back).
	unreadable bool
}

// stamp is what tells that a file changed.
type stamp struct {
	certSize, keySize int64
	certMod, keyMod   time.Time
}

// New loads the pair now: a pair that does not load is an error naming o.What.
func New(certFile, keyFile string, o Options) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile, interval: o.Interval, log: o.Logger, what: o.What, now: time.Now}
	if r.interval == 0 {
		r.interval = DefaultInterval
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.what == "" {
		r.what = "certificate"
	}
	st, err := r.stat()
	if err != nil {
		return nil, err
	}
	cert, err := load(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.what, err)
	}
	r.cert, r.stamp, r.checked = cert, st, r.now()
	return r, nil
}

// GetCertificate is for tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.Current(), nil
}

// GetClientCertificate is for tls.Config.GetClientCertificate.
func (r *Reloader) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return r.Current(), nil
}

// Current returns the pair to present, after looking at the files when the interval
// passed.
func (r *Reloader) Current() *tls.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if r.interval < 0 || now.Sub(r.checked) >= r.interval {
		r.checked = now
		r.check()
	}
	return r.cert
}

// check re-reads the pair when the files changed since it was read (r.mu held).
func (r *Reloader) check() {
	st, err := r.stat()
	if err != nil {
		if !r.unreadable {
			r.unreadable = true
			r.log.Warn("TLS certificate files not readable: the current certificate is kept", "what", r.what, "err", err)
		}
		return
	}
	r.unreadable = false
	if st == r.stamp || st == r.refused {
		return
	}
	cert, err := load(r.certFile, r.keyFile)
	if err != nil {
		r.refused = st
		r.log.Warn("renewed TLS certificate refused: the current certificate is kept", "what", r.what,
			"cert_file", r.certFile, "key_file", r.keyFile, "err", err)
		return
	}
	r.cert, r.stamp, r.refused = cert, st, stamp{}
	r.log.Info("TLS certificate reloaded", "what", r.what, "cert_file", r.certFile,
		"subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
}

func (r *Reloader) stat() (stamp, error) {
	var st stamp
	ci, err := os.Stat(r.certFile)
	if err != nil {
		return st, fmt.Errorf("%s: %w", r.what, err)
	}
	ki, err := os.Stat(r.keyFile)
	if err != nil {
		return st, fmt.Errorf("%s: %w", r.what, err)
	}
	st.certSize, st.certMod = ci.Size(), ci.ModTime()
	st.keySize, st.keyMod = ki.Size(), ki.ModTime()
	return st, nil
}

// load reads and checks a pair: the key must match the certificate and the leaf must parse.
func load(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s: %w", certFile, err)
		}
	}
	return &cert, nil
}
