package mapping

import (
	"errors"
	"os"
	"strings"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// loadSample reads mapping.sample: the first record of a JSON, XML or CSV file (format by
// extension).
func loadSample(file string, o record.Options) (adapters.Record, error) {
	f, ok := record.FormatFromName(file)
	if !ok {
		return nil, errors.New("unknown format: the file name must end in .json, .xml or .csv")
	}
	r, err := os.Open(file)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err
		}
		return nil, err
	}
	defer r.Close()
	recs, err := record.DecodeWith(f, r, o)
	var sk *record.SkippedRows
	if err != nil && !(errors.As(err, &sk) && len(recs) > 0) {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, errors.New("it holds no record")
	}
	return recs[0], nil
}

func parseXMLString(s string) (adapters.Record, error) {
	rec, err := record.ParseXMLString(s)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "record: "))
	}
	return rec, nil
}
