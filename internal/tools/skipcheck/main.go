// Command skipcheck reads `go test -json` on stdin, prints what plain `go test` would
// (package results, and the output of failed and skipped tests), and exits 1 when a test
// failed or was skipped without saying it may be.
//
// The convention: a test that may legitimately not run says so with
//
//	t.Skip("SKIP-OK: <why>")
//
// Any other skip — a fixture missing, a forgotten t.Skip — fails CI, because a test that
// does not run holds no promise. CI runs
//
//	go test -race -count=1 -timeout 10m -json ./... | go run ./internal/tools/skipcheck
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

// AllowPrefix starts the message of a skip that is allowed.
const AllowPrefix = "SKIP-OK:"

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// skip is a test that was skipped without AllowPrefix.
type skip struct {
	name    string
	message string
}

// report is the outcome of a run.
type report struct {
	events     int
	failed     []string
	unexpected []skip
	allowed    int
}

// logLine is a t.Log/t.Skip line as test2json carries it: "    file_test.go:12: message".
var logLine = regexp.MustCompile(`^\s*[^\s:]+\.go:\d+: (.*)$`)

func main() {
	r, err := check(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "skipcheck:", err)
		os.Exit(2)
	}
	os.Exit(r.summary(os.Stderr))
}

// check reads the event stream from in and echoes the interesting output to out.
func check(in io.Reader, out io.Writer) (*report, error) {
	r := &report{}
	buf := map[string]*strings.Builder{} // output per package/test, until the test ends
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(out, "%s\n", line) // not an event (a build error): pass it on
			continue
		}
		r.events++
		if e.Test == "" {
			// Package-level output: "ok pkg 1.2s", "FAIL", build output; a package with
			// no test files is a "skip" of no test, not a skipped test. The bare "PASS"
			// that -json adds before "ok" is dropped, as plain go test prints none.
			if e.Output != "PASS\n" {
				fmt.Fprint(out, e.Output)
			}
			continue
		}
		id := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			b := buf[id]
			if b == nil {
				b = &strings.Builder{}
				buf[id] = b
			}
			b.WriteString(e.Output)
		case "pass":
			delete(buf, id)
		case "fail":
			r.failed = append(r.failed, id)
			fmt.Fprint(out, text(buf[id]))
			delete(buf, id)
		case "skip":
			output := text(buf[id])
			delete(buf, id)
			if msg, ok := allowed(output); ok {
				r.allowed++
				fmt.Fprintf(out, "--- SKIP (allowed): %s: %s\n", id, msg)
				continue
			}
			fmt.Fprint(out, output)
			r.unexpected = append(r.unexpected, skip{name: id, message: skipMessage(output)})
		}
	}
	if err := sc.Err(); err != nil {
		return r, fmt.Errorf("read the test events: %w", err)
	}
	return r, nil
}

func text(b *strings.Builder) string {
	if b == nil {
		return ""
	}
	return b.String()
}

// allowed reports whether a skipped test's output holds a log line starting with
// AllowPrefix, and returns that message.
func allowed(output string) (string, bool) {
	for _, l := range strings.Split(output, "\n") {
		if m := logLine.FindStringSubmatch(l); m != nil && strings.HasPrefix(m[1], AllowPrefix) {
			return m[1], true
		}
	}
	return "", false
}

// skipMessage is the last log line of a skipped test (t.Skip's message), or a note that
// it gave none.
func skipMessage(output string) string {
	msg := "(no message: t.SkipNow)"
	for _, l := range strings.Split(output, "\n") {
		if m := logLine.FindStringSubmatch(l); m != nil {
			msg = m[1]
		}
	}
	return msg
}

// summary prints the verdict and returns the exit code.
func (r *report) summary(w io.Writer) int {
	if r.events == 0 {
		fmt.Fprintln(w, "skipcheck: no test events on stdin (was go test given -json?)")
		return 1
	}
	code := 0
	if len(r.failed) > 0 {
		sort.Strings(r.failed)
		fmt.Fprintf(w, "skipcheck: %d test(s) failed: %s\n", len(r.failed), strings.Join(r.failed, ", "))
		code = 1
	}
	if len(r.unexpected) > 0 {
		fmt.Fprintf(w, "skipcheck: %d test(s) skipped without a %q reason (a skip that may happen says t.Skip(%q)):\n",
			len(r.unexpected), AllowPrefix, AllowPrefix+" why")
		for _, s := range r.unexpected {
			fmt.Fprintf(w, "  %s: %s\n", s.name, s.message)
		}
		code = 1
	}
	if code == 0 {
		fmt.Fprintf(w, "skipcheck: no unexpected skip (%d allowed)\n", r.allowed)
	}
	return code
}
