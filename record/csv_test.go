package record

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeCSVFixture(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "incidents.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := Decode(CSV, f, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{"IncidentID": "24-000123", "Type": "STRUC", "Address": "1200 Avenue Ste-Thérèse, Montréal",
			"Remarks": `Smoke showing; caller says "kids may be inside"`, "Priority": "1", "CallerPhone": "(555) 010-4477"},
		{"IncidentID": "24-000124", "Type": "MED", "Address": "88 Elm St, Apt 4",
			"Remarks": "Line one\nline two, with comma", "Priority": "2", "CallerPhone": ""},
		{"IncidentID": "24-000125", "Type": "TRAF", "Address": "I-95 NB MM 42",
			"Remarks": "", "Priority": "3", "CallerPhone": "555.010.9911"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}

func TestDecodeCSV(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Record
	}{
		{"empty", "", nil},
		{"header only", "a,b\n", nil},
		{"header only without newline", "a,b", nil},
		{"header names trimmed", " a , b\n1, 2 \n", []Record{{"a": "1", "b": " 2 "}}},
		{"empty lines skipped", "a\n\n1\n\n2\n", []Record{{"a": "1"}, {"a": "2"}}},
		{"no final newline", "a,b\n1,2", []Record{{"a": "1", "b": "2"}}},
		{"quoted", "a,b\n\"x,\"\"y\"\"\r\nz\",\"\"\n", []Record{{"a": "x,\"y\"\nz", "b": ""}}},
		{"UTF-16LE BOM", string(utf16Bytes("a,b\r\né,2\r\n", false, true)), []Record{{"a": "é", "b": "2"}}},
		{"UTF-16BE BOM", string(utf16Bytes("a\n😀\n", true, true)), []Record{{"a": "😀"}}},
		// Excel, SQL Server and PowerShell exports: a UTF-8 byte order mark before a quoted header.
		{"UTF-8 BOM quoted header", "\uFEFF\"a\",\"b\"\r\n\"1\",\"2\"\r\n", []Record{{"a": "1", "b": "2"}}},
		{"UTF-8 BOM", "\uFEFFa,b\n1,2\n", []Record{{"a": "1", "b": "2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeCSV(strings.NewReader(tt.in), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeCSVErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lim  Limits
		want string
		is   error
	}{
		{"too few fields", "a,b,c\n1,2,3\n\"x\ny\",SECRET\n", Limits{}, "record: csv: line 3: wrong number of fields: the header has 3", nil},
		{"too many fields", "a,b\n1,2\n3,4\n5,SECRET,6\n", Limits{}, "record: csv: line 4: wrong number of fields: the header has 2", nil},
		{"duplicate header", "id,name,id\n", Limits{}, `record: csv: line 1: the header repeats "id" (columns 1 and 3): every column needs its own name`, nil},
		{"duplicate after trim", "id, id\n", Limits{}, `record: csv: line 1: the header repeats "id" (columns 1 and 2): every column needs its own name`, nil},
		{"empty header", "id,,name\n", Limits{}, "record: csv: line 1: column 2 of the header has an empty name", nil},
		{"bare quote", "a,b\n1,SE\"CRET\n", Limits{}, "record: csv: line 2, column 5: bare \" in non-quoted-field", nil},
		{"unterminated quote", "a,b\n1,\"SECRET\n", Limits{}, "record: csv: line 2, column 11: extraneous or missing \" in quoted-field", nil},
		{"too large", "a,b\n1,SECRET\n", Limits{MaxBytes: 8}, "record: csv: input too large: more than 8 bytes (mapping.input.max_bytes)", ErrTooLarge},
		{"string too long", "a,b\n1,SECRET-SECRET\n", Limits{MaxString: 8}, "record: csv: line 2: column 2: string too long: more than 8 bytes (mapping.input.max_string)", ErrStringTooLong},
		{"too many records", "a\n1\n2\nSECRET\n", Limits{MaxRecords: 2}, "record: csv: line 4: too many records: more than 2 (mapping.input.max_records)", ErrTooManyRecords},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeCSV(strings.NewReader(tt.in), tt.lim)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("error %q\nwant  %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error %q quotes the input", err)
			}
		})
	}
}
