package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	imagepng "image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/internal/sim"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

// The dashboard in a real browser (Debian's chromium, headless, driven by chromedp) against
// the real binary and the simulators: the page's numbers are the admin API's, a dead letter
// is replayed by clicking and reaches the CAD, the mapping tester shows the request the
// sidecar sent Assist, every button is reachable with Tab, note text appears only when
// asked for. Screenshots (1366×768 PNG) go to $CAD_SIDECAR_TEST_ARTIFACTS (default: the
// test's temporary folder).
//
// Without chromium the test skips, unless CAD_SIDECAR_TEST_REQUIRE_BROWSER=1.
func TestDashboardInBrowser(t *testing.T) {
	browser := findBrowser(t)
	artifacts := artifactsDir(t)

	cad := sim.NewCAD(sim.CADOptions{Seed: 21})
	linked := cad.AddIncident()
	// The mapping below requires Nature.Code: this record is never linked (no call, no
	// notes from the simulated Assist), and the CAD refuses its notes until told otherwise.
	locked := cad.AddIncidentWithoutNature()
	cad.RefuseNotesFor(locked, "record locked by another dispatcher")
	as := sim.NewAssist(sim.AssistOptions{Token: rigToken, Seed: 21, NotesPerCall: 2, NoteEvery: 100 * time.Millisecond, PushRetryEvery: 100 * time.Millisecond})
	r := newRig(t, cad, as)
	editRigConfig(t, r.cfgPath,
		`fields: [{name: Nature, from: Nature.Code}]`, `fields: [{name: Nature, from: Nature.Code, required: true}]`,
		`admin: {listen: "127.0.0.1:0"}`, `admin: {listen: "127.0.0.1:0", history_interval: 1s, token: `+dashToken+`}`)
	r.start(t)
	admin := "http://" + r.admin
	api := dashAPI{base: admin, token: dashToken}
	waitFor(t, 15*time.Second, "the admin listener", func() bool { return httpOK(admin + "/healthz") })

	// The linked incident's call runs to its end: 2 notes and CALL_COMPLETED in the CAD.
	waitFor(t, 30*time.Second, "the linked incident's 3 notes in the CAD", func() bool { return len(cad.Notes(linked)) == 3 })
	// One note for the locked incident: refused (422), so a dead letter at once.
	const secret = "Caller reports smoke in the stairwell (dashboard test)"
	postWebhookNote(t, r.public, locked, secret)
	waitFor(t, 30*time.Second, "one dead letter", func() bool { return api.deadCount(t) == 1 })
	waitFor(t, 30*time.Second, "an empty note outbox", func() bool { return api.status(t).Outbox.Note.Depth == 0 })

	page, _ := http.Get(admin + "/")
	if page != nil {
		page.Body.Close()
		if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Fatalf("GET /: Content-Security-Policy %q", csp)
		}
	}

	ctx, problems := newBrowser(t, browser)
	// shot saves the viewport (1366×768) with the panel sel at its top ("" = the page's top).
	shot := func(name, sel string) {
		t.Helper()
		scroll := `window.scrollTo(0, 0)`
		if sel != "" {
			scroll = `document.querySelector(` + strconv.Quote(sel) + `).scrollIntoView({block: "start"})`
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](scroll+`; null`)); err != nil {
			t.Fatalf("scroll to %s: %v", sel, err)
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if c, err := imagepng.DecodeConfig(bytes.NewReader(png)); err != nil || c.Width != 1366 || c.Height != 768 {
			t.Fatalf("screenshot %s: %dx%d (%v), want a 1366x768 PNG", name, c.Width, c.Height, err)
		}
		if err := os.WriteFile(filepath.Join(artifacts, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\nbrowser problems: %v", what, err, problems())
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v\nbrowser problems: %v", sel, err, problems())
		}
		return strings.TrimSpace(s)
	}
	// waitText waits until sel's rendered text (its text content for an SVG desc) passes ok.
	waitText := func(what, sel string, ok func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			s := text(sel)
			if strings.HasSuffix(sel, "-desc") {
				c, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
				if err != nil {
					t.Fatalf("read %s: %v", sel, err)
				}
				s = c
			}
			if ok(s) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out after 30s waiting for %s: %s is %q\nbrowser problems: %v", what, sel, s, problems())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	is := func(want string) func(string) bool { return func(s string) bool { return s == want } }
	has := func(want string) func(string) bool { return func(s string) bool { return strings.Contains(s, want) } }

	// The page asks for the admin token (the API answers 401 without it), refuses a wrong
	// one, and keeps the right one for the tab.
	run("open the dashboard", chromedp.Navigate(admin+"/"), chromedp.WaitVisible(chromedp.CSS("#token-input")))
	if s := text("#dead-count"); s != "–" {
		t.Fatalf("without the token the page shows %q dead letters", s)
	}
	shot("dashboard-token.png", "")
	run("a wrong token", chromedp.SendKeys(chromedp.CSS("#token-input"), "not-the-admin-token-at-all"), chromedp.Click(chromedp.CSS("#token-submit")))
	waitText("the wrong token refused", "#token-error", has("refused"))
	run("the token", chromedp.SendKeys(chromedp.CSS("#token-input"), dashToken+kb.Enter))
	run("the token form gone", chromedp.WaitNotVisible(chromedp.CSS("#token-panel")))

	// The page's numbers are the admin API's (the state is settled: nothing changes now).
	st := api.status(t)
	waitText("the page's dead-letter count", "#dead-count", is("1"))
	waitText("the page's link count", "#link-count", is(strconv.Itoa(st.Links.Count)))
	waitText("the page's note depth", "#note-depth", is(strconv.Itoa(st.Outbox.Note.Depth)))
	waitText("the page's link depth", "#link-depth", is(strconv.Itoa(st.Outbox.Link.Depth)))
	waitText("the linked incident in the table", "#links-table tbody", has(linked))
	waitText("the dead letter in the table", "#dead-table tbody", has(locked))
	waitText("the chart's samples", "#chart-desc", has("samples every 1 s"))
	// The header's version: a release as "v1.2.3", a build without one as it is ("dev").
	if want := st.Version; !regexp.MustCompile(`^[0-9]`).MatchString(want) {
		waitText("the header's version", "#version", is(want))
	} else {
		waitText("the header's version", "#version", is("v"+want))
	}
	if st.Links.Count != 1 || api.deadCount(t) != 1 {
		t.Fatalf("the admin API changed under the test: %+v", st)
	}
	if body := text("body"); strings.Contains(body, secret) {
		t.Fatalf("the note text is on the page before the operator asked for it")
	}
	shot("dashboard-overview.png", "")
	// Every control has an accessible name; the headings go h1 → h2 → h3 without a jump.
	unnamed, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("button, input, select, textarea")]
		.filter((e) => !((e.labels && e.labels.length) || e.getAttribute("aria-label") || e.textContent.trim()))
		.map((e) => e.id || e.outerHTML.slice(0, 80))`))
	if err != nil || len(unnamed) > 0 {
		t.Fatalf("controls without an accessible name: %v (%v)", unnamed, err)
	}
	jumps, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => { let last = 0; const out = [];
		for (const h of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) { const n = Number(h.tagName[1]);
			if (n > last + 1) out.push(h.tagName + " " + h.textContent.trim()); last = n; } return out; })()`))
	if err != nil || len(jumps) > 0 {
		t.Fatalf("headings that skip a level: %v (%v)", jumps, err)
	}

	// Keyboard: Tab reaches every control, the Replay button and the incident's link included.
	reached := tabThrough(t, ctx, 120)
	for _, want := range []string{"refresh", "show-content", "replay:" + api.deadID(t), "incident:" + linked,
		"trace-input", "trace-submit", "map-input", "map-format", "map-submit"} {
		if !slices.Contains(reached, want) {
			t.Errorf("Tab never reached %q; it reached %v", want, reached)
		}
	}

	// The refreshes every few seconds keep the keyboard focus where it is.
	run("focus Replay", chromedp.Focus(chromedp.CSS("#dead-table button.replay")))
	refreshes := func() int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.refreshed || "0"`))
		if err != nil {
			t.Fatal(err)
		}
		i, _ := strconv.Atoi(n)
		return i
	}
	n0 := refreshes()
	waitFor(t, 30*time.Second, "two refreshes of the page", func() bool { return refreshes() >= n0+2 })
	if f, err := chromedp.Run(ctx, chromedp.Evaluate[string](focusedJS)); err != nil || f != "replay:"+api.deadID(t) {
		t.Fatalf("after two refreshes the focus is on %q (%v); want it kept on the Replay button", f, err)
	}

	// Note text only on request.
	run("show content", chromedp.Click(chromedp.CSS("#show-content")))
	waitText("the note text shown on request", "#dead-table tbody", has(secret))
	shot("dashboard-content.png", "")
	run("hide content", chromedp.Click(chromedp.CSS("#show-content")))
	waitText("the note text hidden again", "#dead-table tbody", func(s string) bool { return !strings.Contains(s, secret) })

	// Replay by clicking: the CAD takes the note now.
	cad.AllowNotesFor(locked)
	run("click Replay", chromedp.Click(chromedp.CSS("#dead-table button.replay")))
	waitFor(t, 30*time.Second, "the replayed note in the CAD", func() bool {
		return slices.ContainsFunc(cad.Notes(locked), func(n sim.CADNote) bool { return strings.Contains(n.Text, secret) })
	})
	waitText("the replay announced", "#dead-status", has("Replayed"))
	waitText("the page's dead-letter count at 0", "#dead-count", is("0"))
	waitText("the page's note depth at 0", "#note-depth", is("0"))
	if n := api.deadCount(t); n != 0 {
		t.Fatalf("the admin API still has %d dead letters", n)
	}
	shot("dashboard-replayed.png", "")

	// The mapping tester, with the linked incident's record as the CAD serves it: the
	// request shown is the one the sidecar sent Assist.
	rec, _ := cad.Incident(linked)
	recJSON, _ := json.MarshalIndent(rec, "", "  ")
	run("map a record", chromedp.SetValue(chromedp.CSS("#map-input"), string(recJSON)), chromedp.Click(chromedp.CSS("#map-submit")))
	waitText("the mapping outcome", "#map-outcome", has("Mapped"))
	var shown assist.LinkIncidentRequest
	if err := json.Unmarshal([]byte(text("#map-request")), &shown); err != nil {
		t.Fatalf("the request shown is not JSON: %v\n%s", err, text("#map-request"))
	}
	sent, ok := as.LastLink(linked)
	if !ok || !reflect.DeepEqual(shown, sent) {
		t.Fatalf("the mapping tester shows %+v; the sidecar sent Assist %+v", shown, sent)
	}
	waitText("the explain table", "#map-explain tbody", has(`from "Nature.Code"`))
	shot("dashboard-mapping.png", "#mapper")

	// A record the mapping refuses says why.
	bad, _ := cad.Incident(locked)
	badJSON, _ := json.Marshal(bad)
	run("map a bad record", chromedp.SetValue(chromedp.CSS("#map-input"), string(badJSON)), chromedp.Click(chromedp.CSS("#map-submit")))
	waitText("the failure", "#map-outcome", has("Mapping failed"))
	// The incident trace, by clicking the incident in the links table.
	run("open the trace", chromedp.Click(chromedp.CSS(`#links-table button[data-incident="`+linked+`"]`)))
	waitText("the trace", "#trace-status", has("Incident "+linked+":"))
	waitText("the trace's events", "#trace-table tbody", has("note_delivered"))
	shot("dashboard-trace.png", "#trace")
	// Or by typing its id: the record the mapping refused is in its trace.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`document.getElementById("trace-input").value = ""; null`)); err != nil {
		t.Fatal(err)
	}
	run("type an incident id", chromedp.SendKeys(chromedp.CSS("#trace-input"), locked+kb.Enter))
	waitText("the typed incident's trace", "#trace-status", has("Incident "+locked+":"))
	waitText("the refused record in its trace", "#trace-table tbody", has("mapping_failed"))

	if p := problems(); len(p) > 0 {
		t.Fatalf("the browser reported problems: %v", p)
	}
	t.Logf("screenshots in %s", artifacts)
}

// findBrowser returns Debian's chromium (or another Chrome), or skips the test.
func findBrowser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CAD_SIDECAR_TEST_REQUIRE_BROWSER") == "1" {
		t.Fatal("CAD_SIDECAR_TEST_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install -y chromium)")
	}
	t.Skip("SKIP-OK: no chromium on PATH (apt-get install -y chromium; CAD_SIDECAR_TEST_REQUIRE_BROWSER=1 makes this a failure)")
	return ""
}

// artifactsDir is $CAD_SIDECAR_TEST_ARTIFACTS (created), else the test's temporary folder.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CAD_SIDECAR_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("CAD_SIDECAR_TEST_ARTIFACTS: %v", err)
	}
	return dir
}

// newBrowser starts headless chromium at 1366×768 for the test's length; problems returns
// the page's uncaught exceptions and console errors (a CSP violation is one) so far.
func newBrowser(t *testing.T, path string) (context.Context, func() []string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(1366, 768),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-first-run", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // chromium refuses to run its sandbox as root
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1366, 768)); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	var mu sync.Mutex
	var seen []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// Exceptions, console.error, and the browser's security log (a CSP violation).
			if m.IsException() || (m.Type == chromedp.ConsoleError && (m.Source == "" || m.Source == "security" || strings.Contains(m.Text, "Content Security Policy"))) {
				mu.Lock()
				seen = append(seen, string(m.Type)+": "+m.Text)
				mu.Unlock()
			}
		}
	}()
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// focusedJS names the element that has the focus: "replay:<id>" for a Replay button,
// "incident:<id>" for an incident's trace link, else its id ("" for none).
const focusedJS = `(() => { const e = document.activeElement; if (!e || e === document.body) return "";
	if (e.dataset.id && e.classList.contains("replay")) return "replay:" + e.dataset.id;
	if (e.dataset.incident) return "incident:" + e.dataset.incident;
	return e.id || e.tagName; })()`

// tabThrough presses Tab up to n times from the top of the page and returns what had the
// focus after each press: "replay:<id>" for a Replay button, "incident:<id>" for an
// incident's trace link, else the element's id.
func tabThrough(t *testing.T, ctx context.Context, n int) []string {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`window.scrollTo(0, 0); document.activeElement && document.activeElement.blur(); null`)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for range n {
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatalf("Tab: %v", err)
		}
		f, err := chromedp.Run(ctx, chromedp.Evaluate[string](focusedJS))
		if err != nil {
			t.Fatalf("the focused element: %v", err)
		}
		if f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// editRigConfig replaces, in the rig's config, each old text (which must be there) by its new one.
func editRigConfig(t *testing.T, cfgPath string, oldNew ...string) {
	t.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(cfg, oldNew[i]) {
			t.Fatalf("the rig's config has no %q:\n%s", oldNew[i], cfg)
		}
		cfg = strings.Replace(cfg, oldNew[i], oldNew[i+1], 1)
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// postWebhookNote sends one note webhook to the sidecar's public listener, as Assist would.
func postWebhookNote(t *testing.T, public, incident, text string) {
	t.Helper()
	body := fmt.Sprintf(`{"callId":"call-%s","incidentId":%q,"note":{"type":"INFO","note":%q,"critical":true,"createdAt":"2026-12-01T18:00:00Z"}}`, incident, incident, text)
	req, _ := http.NewRequest(http.MethodPost, "http://"+public+"/webhookhandler/cad", strings.NewReader(body))
	req.Header.Set("Authorization", "e2e-webhook-auth-token-0123456789")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d %s", resp.StatusCode, b)
	}
}

// adminStatus is the part of GET /api/v1/status the test compares.
type adminStatus struct {
	Version string
	Outbox  struct {
		Link, Note struct{ Depth int }
	}
	Links struct{ Count int }
}

// dashToken is the admin token of the browser test's sidecar.
const dashToken = "dashboard-admin-token-0123456789"

// dashAPI calls the admin API with the token.
type dashAPI struct{ base, token string }

func (a dashAPI) get(t *testing.T, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

func (a dashAPI) status(t *testing.T) adminStatus {
	t.Helper()
	var st adminStatus
	a.get(t, "/api/v1/status", &st)
	return st
}

func (a dashAPI) deadCount(t *testing.T) int {
	t.Helper()
	var p sidecar.DeadLetterPage
	a.get(t, "/api/v1/deadletters", &p)
	n := 0
	for _, c := range p.Total {
		n += c
	}
	return n
}

func (a dashAPI) deadID(t *testing.T) string {
	t.Helper()
	var p sidecar.DeadLetterPage
	a.get(t, "/api/v1/deadletters", &p)
	if len(p.DeadLetters) == 0 {
		t.Fatal("no dead letter")
	}
	return p.DeadLetters[0].ID
}
