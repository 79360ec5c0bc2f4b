package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

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
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
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
	fmt.Fprintf(w, "  %s, mode %s, %s … %s\n", plural(r.Lines, "line"), mode, orDash(r.First), orDash(r.Last))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	linkedHow := "linked (sent to Assist)"
	if slices.Contains(r.Modes, config.ShadowAll) {
		linkedHow = "would be linked"
		if slices.Contains(r.Modes, config.ShadowCAD) {
			linkedHow = "linked or would be"
		}
	}
	fmt.Fprintf(tw, "incidents seen\t%d\n", r.Incidents)
	fmt.Fprintf(tw, "%s\t%d\t(%s)\n", linkedHow, r.Linked, plural(r.LinkRequests, "link request"))
	filtered, filteredInc := 0, 0
	for _, c := range r.Filtered {
		filtered += c.Records
		filteredInc += c.Incidents
	}
	fmt.Fprintf(tw, "filtered out\t%d\t(%s)\n", filteredInc, plural(filtered, "record"))
	for _, c := range r.Filtered {
		fmt.Fprintf(tw, "  %s\t%d\t(%s)\n", c.What, c.Incidents, plural(c.Records, "record"))
	}
	failed := 0
	for _, c := range r.MappingErrors {
		failed += c.Records
	}
	fmt.Fprintf(tw, "mapping errors\t%d\t(records)\n", failed)
	for _, c := range r.MappingErrors {
		fmt.Fprintf(tw, "  %s\t%d\t(%s)\n", c.What, c.Records, plural(c.Incidents, "incident"))
	}
	fmt.Fprintf(tw, "notes\t%d\t(%s, %d critical)\n", r.Notes, plural(r.Writes, "CAD write"), r.Critical)
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
		fmt.Fprintf(tw, "notes per incident\t%d–%d\t(median %d, over %s)\n", perInc[0], perInc[len(perInc)-1], perInc[len(perInc)/2], plural(withNotes, "incident"))
	}
	fmt.Fprintf(tw, "split notes\t%d\t(at most %s)\n", r.Split, plural(max(r.MaxParts, 1), "part"))
	if l := r.Longest; l != nil {
		fmt.Fprintf(tw, "longest write\t%d\t(characters, incident %s)\n", l.Length, l.IncidentID)
	}
	_ = tw.Flush()
	if perIncident && len(r.PerIncident) > 0 {
		fmt.Fprintln(w, "per incident:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
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

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
