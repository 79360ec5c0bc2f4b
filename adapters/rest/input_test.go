package rest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/record"
)

// TestPollCSVBadRowSkipped: one bad row of a CSV poll is logged by its line (not its
// content) and skipped; the other rows flow and the cursor advances over them. With
// mapping.input (SetInput) a windows-1252 ';' export decodes right.
func TestPollCSVBadRowSkipped(t *testing.T) {
	body := "IncidentNumber;updated;Address\n5;20;Calle Ni\xf1o\n6;SECRET\n7;22;Pe\xf1uelas\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	src, _ := newTest(t, srv, func(c *Config) { c.Poll.Format, c.Poll.Items = "csv", "" })
	var logs bytes.Buffer
	src.log = slog.New(slog.NewTextHandler(&logs, nil))
	src.SetInput(record.Options{Encoding: "windows-1252"})
	b, err := src.Poll(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range b.Records {
		got = append(got, fmt.Sprint(r["IncidentNumber"], "=", r["Address"]))
	}
	if strings.Join(got, ",") != "5=Calle Niño,7=Peñuelas" || b.Cursor != "22" {
		t.Fatalf("records %v cursor %q", got, b.Cursor)
	}
	if l := logs.String(); !strings.Contains(l, "CSV row skipped") || !strings.Contains(l, "line=3") || strings.Contains(l, "SECRET") {
		t.Errorf("log %q: want the skipped row's line and no content", l)
	}
}

// TestPollOverRecordLimit: a JSON answer with more records than mapping.input.max_records
// is refused, naming the key; never truncated.
func TestPollOverRecordLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"data": [{"IncidentNumber": 1}, {"IncidentNumber": 2}, {"IncidentNumber": 3}]}`))
	}))
	defer srv.Close()
	src, _ := newTest(t, srv, nil)
	src.SetInput(record.Options{Limits: record.Limits{MaxRecords: 2}})
	b, err := src.Poll(context.Background(), "")
	if !errors.Is(err, record.ErrTooManyRecords) || !strings.Contains(err.Error(), "mapping.input.max_records") || len(b.Records) != 0 {
		t.Fatalf("err = %v, records %d; want refused naming mapping.input.max_records", err, len(b.Records))
	}
	src.SetInput(record.Options{Limits: record.Limits{MaxRecords: 3}})
	if b, err := src.Poll(context.Background(), ""); err != nil || len(b.Records) != 3 {
		t.Fatalf("at the limit: %v, %d records", err, len(b.Records))
	}
}
