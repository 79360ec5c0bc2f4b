package record

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestDecodeCSVWindows1252: a windows-1252 export decodes right with the encoding
// configured; without it, no row comes through silently corrupted: each row with a
// non-ASCII byte is skipped and reported with its line.
func TestDecodeCSVWindows1252(t *testing.T) {
	data := readFixture(t, "calls_windows1252.csv")
	recs, err := DecodeCSVWith(bytes.NewReader(data), Options{Encoding: "windows-1252"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1200 Calle Niño", "45 Avenida Peñuelas", "Carretera 2 km 14.5 (Camuy–Hatillo)", "Calle Acuña 7"}
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	for i, w := range want {
		if recs[i]["Address"] != w {
			t.Errorf("record %d Address = %q, want %q", i+1, recs[i]["Address"], w)
		}
	}
	if got := recs[3]["Remarks"]; got != "Alarma “comercial” €" {
		t.Errorf("Remarks = %q", got)
	}
	if got := recs[2]["Remarks"]; got != `Choque; 2 vehículos, "sin heridos"` {
		t.Errorf("Remarks = %q", got)
	}
	for _, label := range []string{"cp1252", "WINDOWS-1252", "x-cp1252"} {
		if recs2, err := DecodeCSVWith(bytes.NewReader(data), Options{Encoding: label}); err != nil || !reflect.DeepEqual(recs2, recs) {
			t.Errorf("label %q: %v", label, err)
		}
	}

	// Read as UTF-8: every row is skipped (each has a byte that is not UTF-8), reported.
	recs, err = DecodeCSV(bytes.NewReader(data), Limits{})
	var sk *SkippedRows
	if !errors.As(err, &sk) || sk.Count != 4 || !errors.Is(err, ErrInvalidByte) {
		t.Fatalf("err = %v, want 4 rows skipped as not UTF-8", err)
	}
	if len(recs) != 0 {
		t.Errorf("records = %v, want none", recs)
	}
	if msg := err.Error(); !strings.Contains(msg, "line 2, column") || !strings.Contains(msg, "set the input's encoding, e.g. windows-1252") || strings.Contains(msg, "Ni") {
		t.Errorf("error %q: want the line, the hint, and no content", msg)
	}
}

// TestDecodeCSVSemicolon: a ';' export with quoted fields holding a line break, a ';'
// and doubled quotes; the delimiter is detected from the header line.
func TestDecodeCSVSemicolon(t *testing.T) {
	recs, err := DecodeCSV(bytes.NewReader(readFixture(t, "calls_semicolon.csv")), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3: %v", len(recs), recs)
	}
	if got := recs[0]["Observaciones"]; got != "Paciente consciente;\nrespira con dificultad" {
		t.Errorf("Observaciones = %q", got)
	}
	if got := recs[1]["Observaciones"]; got != `"Fuego" en contenedor` {
		t.Errorf("Observaciones = %q", got)
	}
	if got := recs[2]["Nº Incidente"]; got != "26-000203" {
		t.Errorf("Nº Incidente = %q", got)
	}
}

func TestDecodeCSVDelimiter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		delim rune
		want  []Record
	}{
		{"comma", "a,b\n1,2\n", 0, []Record{{"a": "1", "b": "2"}}},
		{"semicolon", "a;b\n1;2,5\n", 0, []Record{{"a": "1", "b": "2,5"}}},
		{"tab", "a\tb\n1\t2;3\n", 0, []Record{{"a": "1", "b": "2;3"}}},
		{"pipe", "a|b|c\n1|2|3\n", 0, []Record{{"a": "1", "b": "2", "c": "3"}}},
		{"quoted delimiters do not count", "\"a;x;y\",b\n1,2\n", 0, []Record{{"a;x;y": "1", "b": "2"}}},
		{"one column", "a\n1\n", 0, []Record{{"a": "1"}}},
		{"configured", "a;b|c\n1;2|3\n", '|', []Record{{"a;b": "1;2", "c": "3"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeCSVWith(strings.NewReader(tc.in), Options{Delimiter: tc.delim})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := DecodeCSVWith(strings.NewReader("a\n"), Options{Delimiter: '"'}); err == nil {
		t.Error("a quote as delimiter was accepted")
	}
}

// TestDecodeCSVBadRowSkipped: one bad row among good ones is skipped and reported with
// its line; the others come through.
func TestDecodeCSVBadRowSkipped(t *testing.T) {
	in := "id,type,addr\n1,FIRE,Main\n2,EMS\n3,\"multi\nline\",Oak\n4,SE\"CRET,x\n5,FIRE,Elm,extra\n6,EMS,Pine\n"
	recs, err := DecodeCSV(strings.NewReader(in), Limits{})
	var sk *SkippedRows
	if !errors.As(err, &sk) {
		t.Fatalf("err = %v, want *SkippedRows", err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r["id"].(string))
	}
	if strings.Join(ids, ",") != "1,3,6" {
		t.Errorf("records %v, want ids 1,3,6", ids)
	}
	var lines []int
	for _, r := range sk.Rows {
		lines = append(lines, r.Line)
	}
	if sk.Count != 3 || !reflect.DeepEqual(lines, []int{3, 6, 7}) {
		t.Errorf("skipped %d at lines %v, want 3 at 3, 6, 7", sk.Count, lines)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "record: csv: 3 rows skipped: line 3: wrong number of fields") || strings.Contains(msg, "SECRET") {
		t.Errorf("error %q", msg)
	}
}

func TestDecodeCSVDuplicateHeaders(t *testing.T) {
	_, err := DecodeCSV(strings.NewReader("Id,Addr,Id,Type,Addr\n"), Limits{})
	want := `record: csv: line 1: the header repeats "Id" (columns 1 and 3), "Addr" (columns 2 and 5): every column needs its own name`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

// TestDecodeCSVTranscodedInvalidByte: a byte the configured encoding does not define is
// an error naming the line, never a U+FFFD in the text.
func TestDecodeCSVTranscodedInvalidByte(t *testing.T) {
	in := "a,b\n1,ok\n2,bad\x81byte\n"
	_, err := DecodeCSVWith(strings.NewReader(in), Options{Encoding: "windows-1252"})
	if !errors.Is(err, ErrInvalidByte) || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("err = %v, want ErrInvalidByte at line 3", err)
	}
	if _, err := DecodeCSVWith(strings.NewReader(in), Options{Encoding: "klingon"}); !errors.Is(err, ErrUnsupportedCharset) {
		t.Fatalf("err = %v, want ErrUnsupportedCharset", err)
	}
}

// TestDecodeXMLCharsets: declared encodings through x/text, the configured encoding for a
// document that declares none, and invalid bytes reported.
func TestDecodeXMLCharsets(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  []byte
		enc  string
		want string
		err  error
	}{
		{"windows-1252 declared", []byte("<?xml version=\"1.0\" encoding=\"windows-1252\"?><r><a>Ni\xf1o \x93x\x94 \x80</a></r>"), "", "Niño “x” €", nil},
		{"ISO-8859-15 declared", []byte("<?xml version=\"1.0\" encoding=\"ISO-8859-15\"?><r><a>\xa4</a></r>"), "", "€", nil},
		{"Shift_JIS declared", []byte("<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><r><a>\x93\x8c\x8b\x9e</a></r>"), "", "東京", nil},
		{"configured, no declaration", []byte("<r><a>Pe\xf1uelas</a></r>"), "windows-1252", "Peñuelas", nil},
		{"declaration wins over configured", []byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?><r><a>Peñuelas</a></r>"), "windows-1252", "Peñuelas", nil},
		{"undefined byte", []byte("<?xml version=\"1.0\" encoding=\"windows-1252\"?>\n<r>\n<a>x\x81</a></r>"), "", "", ErrInvalidByte},
		{"not UTF-8 without a declaration", []byte("<r><a>Pe\xf1uelas</a></r>"), "", "", nil},
		{"unpaired surrogate in UTF-16", []byte("\xff\xfe<\x00r\x00>\x00\x00\xd8<\x00/\x00r\x00>\x00"), "", "", ErrInvalidByte},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := DecodeXMLWith(tc.doc, Options{Encoding: tc.enc})
			if tc.want == "" {
				if err == nil {
					t.Fatalf("no error; record %v", rec)
				}
				if tc.err != nil && !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec["a"] != tc.want {
				t.Errorf("a = %q, want %q", rec["a"], tc.want)
			}
		})
	}
}

// TestEachCSV: rows are handed over one by one with their line; fn's error stops; bad
// rows are listed at the end.
func TestEachCSV(t *testing.T) {
	in := "a;b\n1;x\n2\n3;\"two\nlines\"\n4;y\n"
	var lines []int
	err := EachCSV(strings.NewReader(in), Options{}, func(line int, rec Record) error {
		lines = append(lines, line)
		return nil
	})
	var sk *SkippedRows
	if !errors.As(err, &sk) || sk.Count != 1 || sk.Rows[0].Line != 3 || !reflect.DeepEqual(lines, []int{2, 4, 6}) {
		t.Fatalf("lines %v, err %v", lines, err)
	}
	stop := errors.New("stop")
	n := 0
	if err := EachCSV(strings.NewReader(in), Options{}, func(int, Record) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("err %v after %d rows, want stop after 1", err, n)
	}
}
