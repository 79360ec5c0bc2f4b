package sidecar

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
)

// The dashboard: a page of plain HTML, CSS and JavaScript (sidecar/dashboard/, embedded in
// the binary) served at the admin listener's root, GET / and GET /ui/<file>. The files are
// served without the admin token; the page reads the admin API with it (asking the
// operator for it on a 401). Every answer carries a Content-Security-Policy that allows
// nothing but this listener: no inline script, no other origin.

//go:embed dashboard
var dashboardFiles embed.FS

// dashboardCSP is the dashboard's Content-Security-Policy.
const dashboardCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func (s *Sidecar) dashboardRoutes(mux *http.ServeMux) {
	files, err := fs.Sub(dashboardFiles, "dashboard")
	if err != nil {
		panic(err) // the embedded folder is part of the build
	}
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		panic(err)
	}
	mux.Handle("GET /{$}", dashboardHeaders(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(index)
	})))
	mux.Handle("GET /ui/", dashboardHeaders(http.StripPrefix("/ui/", http.FileServerFS(files))))
}

// dashboardHeaders adds the security headers of the dashboard's files.
func dashboardHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", dashboardCSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cache-Control", "no-cache")
		// Fixed types: the host's MIME table (which http.FileServer consults) varies.
		switch path.Ext(r.URL.Path) {
		case ".js":
			hd.Set("Content-Type", "text/javascript; charset=utf-8")
		case ".css":
			hd.Set("Content-Type", "text/css; charset=utf-8")
		}
		h.ServeHTTP(w, r)
	})
}
