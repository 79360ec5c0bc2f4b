package sidecar_test

import (
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// The dashboard's files are served at the admin listener's root without the admin token
// (the page asks for it), each with a Content-Security-Policy that allows this listener
// only.
func TestDashboardServed(t *testing.T) {
	e := start(t, envOptions{edit: func(c *config.Config) { c.Admin.Token = "dashboard-test-token-0123456789" }})
	for _, c := range []struct{ path, ctype, has string }{
		{"/", "text/html; charset=utf-8", `<script src="/ui/app.js" defer></script>`},
		{"/ui/app.js", "text/javascript; charset=utf-8", `"use strict"`},
		{"/ui/app.css", "text/css; charset=utf-8", ":root"},
	} {
		resp, err := http.Get(e.adminURL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("Content-Type") != c.ctype || !strings.Contains(string(b), c.has) {
			t.Fatalf("GET %s without the token: %d %q, body has %q: %v", c.path, resp.StatusCode, h.Get("Content-Type"), c.has, strings.Contains(string(b), c.has))
		}
		if csp := h.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") || !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe") {
			t.Fatalf("GET %s: Content-Security-Policy %q", c.path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("GET %s: headers %v", c.path, h)
		}
	}
	// The API itself still needs the token.
	if resp, err := http.Get(e.adminURL + "/api/v1/history"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /api/v1/history without the token: %v %v", resp.StatusCode, err)
	}
	if resp, err := http.Get(e.adminURL + "/ui/nothing.js"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /ui/nothing.js: %v %v", resp.StatusCode, err)
	}
}

// The page works under its CSP and puts data into the page as text only: no inline script
// or style, no event handler attribute, no other origin, no innerHTML.
func TestDashboardFilesSelfContained(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("dashboard/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	html, js, css := read("index.html"), read("app.js"), read("app.css")
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s+[^>]*)?>[^<]`), // an inline script
		regexp.MustCompile(`<script\b[^>]*>`),
		regexp.MustCompile(`\son[a-z]+\s*=`),
		regexp.MustCompile(`\sstyle\s*=`),
		regexp.MustCompile(`<style`),
	} {
		for _, m := range bad.FindAllString(html, -1) {
			if m == `<script src="/ui/app.js" defer>` {
				continue
			}
			t.Errorf("index.html has %q, which the CSP forbids or the page must not use", m)
		}
	}
	origin := regexp.MustCompile(`https?://[^\s"'()]+`)
	for name, text := range map[string]string{"index.html": html, "app.js": js, "app.css": css} {
		for _, u := range origin.FindAllString(text, -1) {
			if u != "http://www.w3.org/2000/svg" {
				t.Errorf("%s refers to %s: everything must come from the admin listener", name, u)
			}
		}
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %s: values go into the page with textContent only", bad)
		}
	}
	// Every form control has a label.
	ids := regexp.MustCompile(`<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"`).FindAllStringSubmatch(html, -1)
	for _, m := range ids {
		if !strings.Contains(html, `for="`+m[1]+`"`) && !regexp.MustCompile(`<label[^>]*>\s*<input[^>]*id="`+m[1]+`"`).MatchString(html) {
			t.Errorf("control #%s has no label", m[1])
		}
	}
	if len(ids) < 5 {
		t.Fatalf("found %d form controls; the page has more", len(ids))
	}
}

// Every text colour pair the stylesheet uses has a contrast of at least 4.5:1 (WCAG AA).
func TestDashboardContrast(t *testing.T) {
	b, err := os.ReadFile("dashboard/app.css")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"white": "#ffffff"}
	for _, m := range regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6})`).FindAllStringSubmatch(string(b), -1) {
		vars[m[1]] = m[2]
	}
	for _, p := range [][2]string{
		{"fg", "bg"}, {"fg", "panel"}, {"muted", "panel"}, {"muted", "bg"}, {"white", "accent"}, {"accent", "panel"},
		{"ok-fg", "ok-bg"}, {"bad-fg", "bad-bg"}, {"warn-fg", "warn-bg"}, {"bad-fg", "panel"}, {"ok-fg", "panel"}, {"warn-fg", "panel"},
		{"note", "panel"}, {"link", "panel"}, {"dead", "panel"},
	} {
		fg, bg := vars[p[0]], vars[p[1]]
		if fg == "" || bg == "" {
			t.Fatalf("app.css has no --%s or --%s", p[0], p[1])
		}
		if r := contrast(fg, bg); r < 4.5 {
			t.Errorf("--%s %s on --%s %s: contrast %.2f:1, want at least 4.5:1", p[0], fg, p[1], bg, r)
		}
	}
	// Table headers (#e8ecf1) and the chart (#fbfcfd) are darker than the panel.
	for _, bg := range []string{"#e8ecf1", "#fbfcfd", "#f4f6f9"} {
		if r := contrast(vars["muted"], bg); r < 4.5 {
			t.Errorf("--muted on %s: %.2f:1", bg, r)
		}
	}
}

// contrast is the WCAG 2 contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func luminance(hex string) float64 {
	var l float64
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		l += w * c
	}
	return l
}

// The "sidecar started" line names the dashboard's address, the admin listener's root, so
// that a sidecar on a random port (the demo, tests) says where to open it.
func TestStartedLineNamesDashboard(t *testing.T) {
	e := start(t, envOptions{})
	want := `msg="sidecar started" `
	waitFor(t, 20*time.Second, "the sidecar started line", func() bool { return strings.Contains(e.logs.String(), want) })
	dash := " dashboard=" + e.adminURL + "/ "
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, want) && !strings.Contains(l, dash) {
			t.Errorf("the started line lacks %q: %s", dash, l)
		}
	}
}
