package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/config"
)

// cmdMap prints the LinkIncidentRequest for one CAD record (exit 0), the filter that
// dropped it (exit 3), or the error (exit 2). It needs only the mapping section.
func cmdMap(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("map", stderr)
	cfgPath := fs.String("config", "", "config file (default $CAD_SIDECAR_CONFIG, then ./config.yaml)")
	input := fs.String("input", "", "the CAD record: a JSON file, or - for standard input")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if *input == "" {
		fmt.Fprintln(stderr, "map: --input FILE|- is required")
		return exitProblems
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
	data, err := readInput(*input, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "map:", err)
		return exitProblems
	}
	rec, err := decodeRecord(data)
	if err != nil {
		fmt.Fprintf(stderr, "map: %s: %v\n", *input, err)
		return exitProblems
	}
	res, err := m.Map(rec)
	if err != nil {
		id, _ := m.IncidentID(rec)
		if id != "" {
			fmt.Fprintf(stderr, "map: incident %s: %v\n", id, err)
		} else {
			fmt.Fprintln(stderr, "map:", err)
		}
		return exitProblems
	}
	if res.Filtered {
		fmt.Fprintln(stdout, "filtered out:", res.Reason)
		return exitFiltered
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(res.Request); err != nil {
		fmt.Fprintln(stderr, "map:", err)
		return exitFailure
	}
	return exitOK
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	const limit = 64 << 20
	var r io.Reader = stdin
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
	if len(data) > limit {
		return nil, fmt.Errorf("%s is larger than 64 MiB", name)
	}
	return data, nil
}

// decodeRecord reads one JSON object, keeping numbers exact.
func decodeRecord(data []byte) (adapters.Record, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var rec adapters.Record
	if err := dec.Decode(&rec); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if rec == nil {
		return nil, errors.New("not a JSON object: null")
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value: map takes one record")
	}
	return rec, nil
}
