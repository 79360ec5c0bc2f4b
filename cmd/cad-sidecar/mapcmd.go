package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/mapping"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// cmdMap is `cad-sidecar map`: a dry run of the mapping section (the rest of the config is
// not needed).
//
// With --input it decodes the CAD records (JSON object or array, XML, CSV rows; format from
// --format, else the file's extension, else the first character: { or [ is JSON, < is
// XML) and maps each. --items PATH (default: the config's cad.rest.poll.items, when the
// input has it) takes the records from the list at PATH of a raw poll answer. One record prints its LinkIncidentRequest JSON, or "filtered out:
// reason"; several print a JSON array with one element per record, in order:
// {"record": n, "request": {...}} | {"record": n, "filtered": reason} |
// {"record": n, "incidentId": id, "error": msg} (errors are also written to stderr).
// --explain prints, for every record, how each value was found and transformed, then its
// outcome. Exit: 2 if any record fails (or the config, flags or input are bad), else 3 if
// every record was filtered out, else 0.
//
// With --note it renders an IncidentNotePayload JSON file as the CAD would receive it:
// every part (note.max_length), numbered. Exit 0, or 2.
func cmdMap(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("map", stderr)
	cfgPath := fs.String("config", "", "config file (default $CAD_SIDECAR_CONFIG, then ./config.yaml)")
	input := fs.String("input", "", "the CAD record(s): a .json, .xml or .csv file, or - for standard input")
	format := fs.String("format", "", "json, xml or csv (default: from the file name, else the first character)")
	explain := fs.Bool("explain", false, "show for each value its source, raw value and each transform's result")
	note := fs.String("note", "", "render this IncidentNotePayload JSON file (or -) as CAD notes instead of mapping a record")
	items := fs.String("items", "", "the path of the record list in the input, as cad.rest.poll.items (default: the config's cad.rest.poll.items, when the input has it)")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if *input == "" && *note == "" {
		fmt.Fprintln(stderr, "map: --input FILE|- (or --note FILE) is required")
		return exitProblems
	}
	if *input != "" && *note != "" {
		fmt.Fprintln(stderr, "map: give --input or --note, not both")
		return exitProblems
	}
	var f record.Format
	if *format != "" {
		f = record.Format(strings.ToLower(*format))
		if f != record.JSON && f != record.XML && f != record.CSV {
			fmt.Fprintf(stderr, "map: unknown --format %q: json, xml or csv\n", *format)
			return exitProblems
		}
	}
	m, err := config.LoadMapping(config.ResolvePath(*cfgPath))
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintln(stderr, p.String())
			}
		} else {
			fmt.Fprintln(stderr, "map:", err)
		}
		return exitProblems
	}
	if *note != "" {
		return renderNote(m, *note, stdin, stdout, stderr)
	}

	in := m.Input()
	data, err := readInput(*input, stdin, in.MaxBytes)
	if err != nil {
		fmt.Fprintln(stderr, "map:", err)
		return exitProblems
	}
	if f == "" {
		if f, err = detectFormat(*input, data); err != nil {
			fmt.Fprintln(stderr, "map:", err)
			return exitProblems
		}
	}
	itemsPath, explicit := *items, *items != ""
	if !explicit {
		itemsPath = config.RESTPollItems(config.ResolvePath(*cfgPath))
	}
	if itemsPath != "" && f == record.CSV {
		if explicit {
			fmt.Fprintln(stderr, "map: --items is for JSON and XML input (every CSV row is a record)")
			return exitProblems
		}
		itemsPath = ""
	}
	var recs []adapters.Record
	if itemsPath != "" {
		var found bool
		recs, found, err = decodeItems(f, data, itemsPath, in)
		if err != nil {
			fmt.Fprintf(stderr, "map: %s: %v\n", *input, err)
			return exitProblems
		}
		if !found {
			if explicit {
				fmt.Fprintf(stderr, "map: %s: --items %q not found in the input\n", *input, itemsPath)
				return exitProblems
			}
			fmt.Fprintf(stderr, "map: cad.rest.poll.items %q is not in %s: mapping the input itself as records (--items to choose)\n", itemsPath, *input)
			itemsPath = ""
		}
	}
	skippedRows := 0
	if itemsPath == "" {
		recs, err = record.DecodeWith(f, bytes.NewReader(data), in)
		var sk *record.SkippedRows
		if errors.As(err, &sk) {
			// The other rows are mapped; each bad one is reported, and the exit is 2.
			for _, r := range sk.Rows {
				fmt.Fprintf(stderr, "map: %s: row skipped: %v\n", *input, r)
			}
			if more := sk.Count - len(sk.Rows); more > 0 {
				fmt.Fprintf(stderr, "map: %s: %d more rows skipped\n", *input, more)
			}
			skippedRows, err = sk.Count, nil
		}
		if err != nil {
			fmt.Fprintf(stderr, "map: %s: not valid %s: %v\n", *input, strings.ToUpper(string(f)), err)
			return exitProblems
		}
	}
	if len(recs) == 0 {
		fmt.Fprintf(stderr, "map: %s holds no record\n", *input)
		return exitProblems
	}
	if max := in.MaxRecords; max > 0 && len(recs) > max {
		fmt.Fprintf(stderr, "map: %s holds %d records, more than %d (mapping.input.max_records)\n", *input, len(recs), max)
		return exitProblems
	}
	code := mapRecords(m, recs, *explain, stdout, stderr)
	if skippedRows > 0 {
		return exitProblems
	}
	return code
}

// mapOutcome is one record's element of the JSON array printed for several records.
type mapOutcome struct {
	Record     int                         `json:"record"`
	Request    *assist.LinkIncidentRequest `json:"request,omitempty"`
	Filtered   string                      `json:"filtered,omitempty"`
	IncidentID string                      `json:"incidentId,omitempty"`
	Error      string                      `json:"error,omitempty"`
}

func mapRecords(m *mapping.Mapper, recs []adapters.Record, explain bool, stdout, stderr io.Writer) int {
	var failed, filtered int
	var outcomes []mapOutcome
	for i, rec := range recs {
		n := i + 1
		var res mapping.Result
		var err error
		if explain {
			var e mapping.Explanation
			e, err = m.Explain(rec)
			res = e.Result
			if len(recs) > 1 {
				fmt.Fprintf(stdout, "== record %d ==\n", n)
			}
			fmt.Fprint(stdout, e.String())
		} else {
			res, err = m.Map(rec)
		}
		o := mapOutcome{Record: n}
		switch {
		case err != nil:
			failed++
			o.IncidentID, _ = m.IncidentID(rec)
			o.Error = err.Error()
			where := "map: "
			if len(recs) > 1 {
				where += fmt.Sprintf("record %d: ", n)
			}
			if o.IncidentID != "" {
				where += "incident " + o.IncidentID + ": "
			}
			fmt.Fprintln(stderr, where+o.Error)
			if explain {
				fmt.Fprintln(stdout, "→ error:", o.Error)
			}
		case res.Filtered:
			filtered++
			o.Filtered = res.Reason
			if explain || len(recs) == 1 {
				fmt.Fprintln(stdout, "filtered out:", res.Reason)
			}
		default:
			req := res.Request
			o.Request = &req
			if len(res.UnparsedTimes) > 0 {
				where := "map: "
				if len(recs) > 1 {
					where += fmt.Sprintf("record %d: ", n)
				}
				fmt.Fprintf(stderr, "%sincident %s: warning: time not parsed, left empty: %s\n", where, req.IncidentID, strings.Join(res.UnparsedTimes, ", "))
			}
			if explain || len(recs) == 1 {
				if err := writeJSON(stdout, req); err != nil {
					fmt.Fprintln(stderr, "map:", err)
					return exitFailure
				}
			}
		}
		outcomes = append(outcomes, o)
	}
	if !explain && len(recs) > 1 {
		if err := writeJSON(stdout, outcomes); err != nil {
			fmt.Fprintln(stderr, "map:", err)
			return exitFailure
		}
	}
	switch {
	case failed > 0:
		return exitProblems
	case filtered == len(recs):
		return exitFiltered
	}
	return exitOK
}

// decodeItems decodes a JSON or XML document (a raw poll answer) and returns the records
// of the list at path, as the REST adapter's poll.items finds them: a list of objects, an
// XML element that occurs once as a list of one, null as none. found is false when the
// document has no such path.
func decodeItems(f record.Format, data []byte, path string, in record.Options) (recs []adapters.Record, found bool, err error) {
	var doc any
	if f == record.XML {
		rec, err := record.DecodeXMLWith(data, in)
		if err != nil {
			return nil, false, fmt.Errorf("not valid XML: %w", err)
		}
		doc = map[string]any(rec)
	} else {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return nil, false, fmt.Errorf("not valid JSON: %w", err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, false, errors.New("not valid JSON: more than one value")
		}
	}
	list, ok := mapping.Lookup(doc, path)
	if !ok {
		return nil, false, nil
	}
	switch l := list.(type) {
	case nil:
		return nil, true, nil
	case map[string]any:
		return []adapters.Record{l}, true, nil
	case []any:
		for i, it := range l {
			m, ok := it.(map[string]any)
			if !ok {
				return nil, true, fmt.Errorf("item %d of %q is not an object", i+1, path)
			}
			recs = append(recs, m)
		}
		return recs, true, nil
	}
	return nil, true, fmt.Errorf("%q is not a list of records", path)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// detectFormat picks the input's format from its file name, else from its first
// character.
func detectFormat(name string, data []byte) (record.Format, error) {
	if name != "-" {
		if f, ok := record.FormatFromName(name); ok {
			return f, nil
		}
	}
	if f, ok := record.Sniff(data); ok {
		return f, nil
	}
	what := name
	if name == "-" {
		what = "standard input"
	}
	return "", fmt.Errorf("cannot tell the format of %s (not .json, .xml or .csv, and it starts with neither {, [ nor <): give --format json|xml|csv", what)
}

// renderNote renders an IncidentNotePayload the way the sidecar writes it into the CAD.
func renderNote(m *mapping.Mapper, name string, stdin io.Reader, stdout, stderr io.Writer) int {
	data, err := readInput(name, stdin, 0)
	if err != nil {
		fmt.Fprintln(stderr, "map:", err)
		return exitProblems
	}
	var p assist.IncidentNotePayload
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		fmt.Fprintf(stderr, "map: %s: not an IncidentNotePayload JSON object: %v\n", name, err)
		return exitProblems
	}
	n := adapters.Note{
		IncidentID: p.IncidentID, CallID: p.CallID, Type: p.Note.Type, Note: p.Note.Note,
		Critical: p.Note.Critical, CreatedAt: p.Note.CreatedAt, Key: assist.PushedNoteKey(p.IncidentID, p.CallID, p.Note),
	}
	parts, err := m.RenderNoteParts(n)
	if err != nil {
		fmt.Fprintf(stderr, "map: incident %s: %v\n", p.IncidentID, err)
		return exitProblems
	}
	for i, text := range parts {
		fmt.Fprintf(stdout, "--- note %d/%d (%d characters) ---\n%s\n", i+1, len(parts), utf8.RuneCountInString(text), text)
	}
	return exitOK
}

// readInput reads the input file, up to max(64 MiB, maxBytes) (the decoders then apply
// mapping.input.max_bytes).
func readInput(name string, stdin io.Reader, maxBytes int64) ([]byte, error) {
	limit := max(int64(64<<20), maxBytes)
	var r = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes (mapping.input.max_bytes)", name, limit)
	}
	return data, nil
}
