package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/sidecar"
)

const shadowUsage = `usage: cad-sidecar shadow report [--json] [--incidents] [--config FILE] [FILE...]
  summarises shadow files (JSON lines written by run --shadow): incidents seen, linked,
  filtered by which filter, mapping errors by field, notes per incident, longest write,
  splits. Without FILE: the config's shadow.file and its rotated files (oldest first).
`

// shadowFlag is run's --shadow[=cad|all|off]: bare, it is cad (nothing is written into the
// CAD; links still go to Assist).
type shadowFlag struct{ mode string }

func (f *shadowFlag) String() string { return f.mode }

// IsBoolFlag lets --shadow stand alone (flag passes "true").
func (f *shadowFlag) IsBoolFlag() bool { return true }

func (f *shadowFlag) Set(v string) error {
	switch v {
	case "true":
		f.mode = config.ShadowCAD
	case "false":
		f.mode = config.ShadowOff
	case config.ShadowOff, config.ShadowCAD, config.ShadowAll:
		f.mode = v
	default:
		return fmt.Errorf("must be cad, all or off (--shadow alone is cad), got %q", v)
	}
	return nil
}

// cmdShadow is `shadow report`.
func cmdShadow(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "report" {
		fmt.Fprint(stderr, shadowUsage)
		return exitProblems
	}
	fs := newFlags("shadow report", stderr)
	cfgPath := fs.String("config", "", "config file, for its shadow.file when no FILE is given")
	asJSON := fs.Bool("json", false, "machine-readable JSON")
	perIncident := fs.Bool("incidents", false, "list every incident (text output)")
	files, code := parseMixed(fs, args[1:])
	if code >= 0 {
		return code
	}
	if len(files) == 0 {
		cfg, code := loadConfig(*cfgPath, stderr)
		if cfg == nil {
			return code
		}
		files = sidecar.ShadowFiles(sidecar.ShadowPath(cfg))
	}
	rep, err := sidecar.ReadShadowReport(files...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	if *asJSON {
		printJSON(stdout, rep)
		return exitOK
	}
	printShadowReport(stdout, rep, *perIncident)
	return exitOK
}

func printShadowReport(w io.Writer, r *sidecar.ShadowReport, perIncident bool) {
	plural := func(n int, one string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, one)
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	mode := strings.Join(r.Modes, ", ")
	if mode == "" {
		mode = "-"
	}
	fmt.Fprintf(w, "shadow report of %s\n", strings.Join(r.Files, ", "))
	fmt.Fprintf(w, "  %s, mode %s, %s … %s\n", plural(r.Lines, "line"), mode, shortTime(r.First), shortTime(r.Last))
	row := func(label string, value any, rest string) {
		line := fmt.Sprintf("%-26s%-5v %s", label, value, rest)
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	linkedHow := "linked (sent to Assist)"
	if slices.Contains(r.Modes, config.ShadowAll) {
		linkedHow = "would be linked"
		if slices.Contains(r.Modes, config.ShadowCAD) {
			linkedHow = "linked or would be"
		}
	}
	row("incidents seen", r.Incidents, "")
	row(linkedHow, r.Linked, "("+plural(r.LinkRequests, "link request")+")")
	filtered, filteredInc := 0, 0
	for _, c := range r.Filtered {
		filtered += c.Records
		filteredInc += c.Incidents
	}
	row("filtered out", filteredInc, "("+plural(filtered, "record")+")")
	for _, c := range r.Filtered {
		fmt.Fprintf(w, "    %s, %s: %s\n", plural(c.Records, "record"), plural(c.Incidents, "incident"), c.What)
	}
	failed, failedInc := 0, 0
	for _, c := range r.MappingErrors {
		failed += c.Records
		failedInc += c.Incidents
	}
	row("mapping errors", failedInc, "("+plural(failed, "record")+")")
	for _, c := range r.MappingErrors {
		fmt.Fprintf(w, "    %s, %s: %s\n", plural(c.Records, "record"), plural(c.Incidents, "incident"), c.What)
	}
	row("notes", r.Notes, fmt.Sprintf("(%s, %d critical)", plural(r.Writes, "CAD write"), r.Critical))
	withNotes := 0
	var perInc []int
	for _, inc := range r.PerIncident {
		if inc.Notes > 0 {
			withNotes++
			perInc = append(perInc, inc.Notes)
		}
	}
	if len(perInc) > 0 {
		slices.Sort(perInc)
		row("notes per incident", fmt.Sprintf("%d–%d", perInc[0], perInc[len(perInc)-1]),
			fmt.Sprintf("(median %d, over %s)", perInc[len(perInc)/2], plural(withNotes, "incident")))
	}
	row("split notes", r.Split, "(at most "+plural(max(r.MaxParts, 1), "part")+")")
	if l := r.Longest; l != nil {
		row("longest write", l.Length, "characters (incident "+l.IncidentID+")")
	}
	if perIncident && len(r.PerIncident) > 0 {
		fmt.Fprintln(w, "per incident:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  INCIDENT\tLINKED\tNOTES\tWRITES\tCRITICAL\tFILTERED\tERRORS\tCALL")
		for _, inc := range r.PerIncident {
			linked := "no"
			if inc.Linked {
				linked = "yes"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", inc.IncidentID, linked, inc.Notes, inc.Writes,
				inc.Critical, inc.Filtered, inc.MappingErrors, orDash(inc.CallID))
		}
		_ = tw.Flush()
	}
	if n := len(r.BadLines); n > 0 {
		fmt.Fprintf(w, "%s skipped (the rest is counted):\n", plural(n, "bad line"))
		for _, b := range r.BadLines {
			fmt.Fprintf(w, "  %s:%d: %s\n", b.File, b.Line, b.Err)
		}
	}
}

// shortTime is a line's time to the second ("-" if none).
func shortTime(s string) string {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Format(time.RFC3339)
	}
	return orDash(s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
