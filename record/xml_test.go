package record

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// hexagonIncident is what testdata/hexagon_incident*.xml decode to.
func hexagonIncident() Record {
	return Record{
		"@schemaVersion": "9.4",
		"@exportedAt":    "2024-03-18T14:02:11Z",
		"Incident": map[string]any{
			"@id":            "I-2024-000123",
			"@priority":      "1",
			"IncidentNumber": "24-000123",
			"Agency":         "FD",
			"Type":           map[string]any{"@code": "STRUC", "#text": "Structure Fire"},
			"CreatedAt":      "2024-03-18 09:58:42",
			"CallerPhone":    "(555) 010-4477",
			"Location": map[string]any{
				"Address": map[string]any{
					"HouseNumber": "1200",
					"StreetName":  "Avenue Ste-Thérèse",
					"City":        "Montréal",
					"State":       "QC",
					"PostalCode":  "H2X 1Y4",
				},
				"CrossStreet": "Rue Saint-Denis",
				"Coordinates": map[string]any{"@datum": "WGS84", "Latitude": "45.5086", "Longitude": "-73.5617"},
				"Apartment":   "",
			},
			"Units": map[string]any{"Unit": []any{
				map[string]any{"@id": "E12", "@status": "ENRT", "Dispatched": "2024-03-18 09:59:30"},
				map[string]any{"@id": "L4", "@status": "DISP", "Dispatched": "2024-03-18 09:59:41"},
				map[string]any{"@id": "BC1", "@status": "AVAIL"},
			}},
			"Remarks":     `Smoke showing from 2nd floor; caller says "kids may be inside" & door is locked <rear>`,
			"Comment":     []any{"first comment", "second comment"},
			"Disposition": nil, // xsi:nil="true"
		},
	}
}

func TestDecodeXMLFixtures(t *testing.T) {
	for _, name := range []string{
		"hexagon_incident.xml",
		"hexagon_incident_utf16le.xml", // UTF-16LE with a byte order mark
		"hexagon_incident_latin1.xml",  // ISO-8859-1, declared
	} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			recs, err := Decode(XML, f, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 {
				t.Fatalf("got %d records, want 1", len(recs))
			}
			if want := hexagonIncident(); !reflect.DeepEqual(recs[0], want) {
				t.Errorf("got  %v\nwant %v", recs[0], want)
			}
		})
	}
}

func utf16Bytes(s string, bigEndian, bom bool) []byte {
	var out []byte
	if bom {
		s = "\uFEFF" + s
	}
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

func TestDecodeXMLRules(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Record
	}{
		{"empty root", `<r/>`, Record{}},
		{"root text", `<r> hi </r>`, Record{"#text": " hi "}},
		{"root whitespace", "<r>\n  </r>", Record{}},
		{"text-only child verbatim", "<r><a>  x y  </a></r>", Record{"a": "  x y  "}},
		{"whitespace-only child is empty", "<r><a>\n   </a><b></b><c/></r>", Record{"a": "", "b": "", "c": ""}},
		{"NBSP is text", "<r><a>\u00a0</a></r>", Record{"a": "\u00a0"}},
		{"attributes and text", `<r><a k="v"> t </a></r>`, Record{"a": map[string]any{"@k": "v", "#text": " t "}}},
		{"attributes, whitespace text omitted", `<r><a k="v">  </a></r>`, Record{"a": map[string]any{"@k": "v"}}},
		{"mixed content", "<r><p>\n  Hello <b>world</b>\n  there  <i/> !</p></r>",
			Record{"p": map[string]any{"b": "world", "i": "", "#text": "Hello there !"}}},
		{"repeated non-adjacent", `<r><u>1</u><x/><u>2</u><u>3</u></r>`, Record{"u": []any{"1", "2", "3"}, "x": ""}},
		{"repeated maps and strings mixed", `<r><u id="1"/><u>2</u></r>`, Record{"u": []any{map[string]any{"@id": "1"}, "2"}}},
		{"namespaces stripped, xmlns skipped", `<a:r xmlns:a="urn:a" xmlns="urn:d" a:k="1" xml:lang="en"><a:c>1</a:c><c2>2</c2></a:r>`,
			Record{"@k": "1", "@lang": "en", "c": "1", "c2": "2"}},
		{"same local name, different namespaces", `<r xmlns:a="urn:a" xmlns:b="urn:b"><a:x>1</a:x><b:x>2</b:x></r>`, Record{"x": []any{"1", "2"}}},
		{"attributes with the same local name", `<r xmlns:a="urn:a" xmlns:b="urn:b" a:x="1" b:x="2"/>`, Record{"@x": []any{"1", "2"}}},
		{"CDATA and entities", `<r><a>x &lt;&amp;&gt;&quot;&apos; &#233;&#x20AC; <![CDATA[<b>&amp;</b>]]></a></r>`, Record{"a": `x <&>"' é€ <b>&amp;</b>`}},
		{"comments and PIs ignored", `<?xml version="1.0"?><!-- c --><!DOCTYPE r><r><?pi x?><a>1<!-- c -->2</a></r><!-- after -->`, Record{"a": "12"}},
		{"UTF-8 BOM", "\xEF\xBB\xBF<r><a>1</a></r>", Record{"a": "1"}},
		{"UTF-16BE BOM", string(utf16Bytes(`<?xml version="1.0" encoding="UTF-16"?><r><a>é😀</a></r>`, true, true)), Record{"a": "é😀"}},
		{"UTF-16LE without BOM", string(utf16Bytes(`<?xml version="1.0" encoding="UTF-16"?><r><a>é</a></r>`, false, false)), Record{"a": "é"}},
		{"UTF-16BE without BOM or declaration", string(utf16Bytes(`<r><a>é</a></r>`, true, false)), Record{"a": "é"}},
		{"windows-1252", "<?xml version='1.0' encoding='windows-1252'?><r><a>\x80 \x92s \xe9</a></r>", Record{"a": "€ ’s é"}},
		{"latin1 alias", "<?xml version='1.0' encoding='latin1'?><r><a>\x80\xe9</a></r>", Record{"a": "\u0080é"}},
		{"us-ascii", `<?xml version="1.0" encoding="US-ASCII"?><r><a>plain</a></r>`, Record{"a": "plain"}},
		{"utf8 label", `<?xml version="1.0" encoding="utf8"?><r><a>é</a></r>`, Record{"a": "é"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeXML([]byte(tt.in), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>`

func TestDecodeXMLErrors(t *testing.T) {
	deep := strings.Repeat("<a>", 1_000_000)
	tests := []struct {
		name string
		in   string
		lim  Limits
		want string
		is   error
	}{
		{"malformed", "<r>\n<a>SECRET</b>\n</r>", Limits{}, "record: xml: line 2: element <a> closed by </b>", nil},
		{"unexpected EOF", "<r>\n<a>SECRET", Limits{}, "record: xml: line 2: unexpected EOF", nil},
		{"depth", "<r>\n <a><b><c>SECRET</c></b></a></r>", Limits{MaxDepth: 3}, "record: xml: line 2, column 11: nesting too deep: more than 3 levels (mapping.input.max_depth)", ErrTooDeep},
		{"million deep", deep, Limits{}, "record: xml: line 1, column 196: nesting too deep: more than 64 levels (mapping.input.max_depth)", ErrTooDeep},
		{"text too long", "<r><a>SECRET-SECRET</a></r>", Limits{MaxString: 8}, "record: xml: line 1, column 20: string too long: more than 8 bytes (mapping.input.max_string)", ErrStringTooLong},
		{"text too long across runs", "<r><a>SECRET<!-- -->SECRET</a></r>", Limits{MaxString: 8}, "record: xml: line 1, column 27: string too long: more than 8 bytes (mapping.input.max_string)", ErrStringTooLong},
		{"attribute too long", `<r><a k="SECRET-SECRET"/></r>`, Limits{MaxString: 8}, "record: xml: line 1, column 26: string too long: more than 8 bytes (mapping.input.max_string)", ErrStringTooLong},
		{"too large", "<r>SECRET</r>", Limits{MaxBytes: 5}, "record: xml: input too large: more than 5 bytes (mapping.input.max_bytes)", ErrTooLarge},
		{"unsupported charset", `<?xml version="1.0" encoding="EBCDIC-US"?><r>SECRET</r>`, Limits{}, `record: xml: line 1, column 43: unsupported character encoding "EBCDIC-US" (any IANA charset name or WHATWG label, e.g. UTF-8, UTF-16, ISO-8859-1, windows-1252, Shift_JIS)`, ErrUnsupportedCharset},
		{"declared UTF-16, is 8-bit", `<?xml version="1.0" encoding="UTF-16"?><r>SECRET</r>`, Limits{}, "record: xml: line 1, column 40: declared encoding UTF-16, but the document is not UTF-16 encoded", nil},
		{"BOM contradicts declaration", "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r>SECRET</r>", Limits{}, "record: xml: line 1, column 44: declared encoding ISO-8859-1 contradicts the document's UTF-8 byte order mark or first bytes", nil},
		{"not US-ASCII", "<?xml version=\"1.0\" encoding=\"us-ascii\"?>\n<r>SECRET\xE9</r>", Limits{}, "record: xml: line 2: a byte that is not valid us-ascii, the input's encoding", ErrInvalidByte},
		{"billion laughs", billionLaughs, Limits{}, "record: xml: line 13: invalid character entity &lol9;", nil},
		{"undefined entity", "<r>&nbsp;SECRET</r>", Limits{}, "record: xml: line 1: invalid character entity &nbsp;", nil},
		{"no root", "<?xml version=\"1.0\"?>\n<!-- nothing -->\n", Limits{}, "record: xml: line 3, column 1: no root element", nil},
		{"empty", "", Limits{}, "record: xml: line 1, column 1: no root element", nil},
		{"two roots", "<r>SECRET</r>\n<r/>", Limits{}, "record: xml: line 2, column 5: more than one root element", nil},
		{"text after root", "<r/>SECRET", Limits{}, "record: xml: line 1, column 11: text outside the root element", nil},
		{"odd UTF-16", "\xFF\xFE<\x00r", Limits{}, "record: xml: UTF-16 input has an odd number of bytes", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := DecodeXML([]byte(tt.in), tt.lim)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("error %q\nwant  %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			var e *Error
			if !errors.As(err, &e) || e.Format != XML {
				t.Errorf("error %v is not a *record.Error for xml", err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error %q quotes the input", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// eidoPath is the NENA EIDO sample, kept in testdata (see testdata/eido/README.txt).
var eidoPath = filepath.Join("testdata", "eido", "EidoWithJcard.json")

func TestParseXMLStringEIDOLocation(t *testing.T) {
	data, err := os.ReadFile(eidoPath)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := DecodeJSON(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	locs, _ := recs[0]["locationComponent"].([]any)
	var pidf string
	for _, l := range locs {
		if s, ok := l.(map[string]any)["locationByValue"].(string); ok {
			pidf = s
			break
		}
	}
	if pidf == "" {
		t.Fatal("no locationComponent[].locationByValue in the EIDO sample")
	}
	loc, err := ParseXMLString(pidf)
	if err != nil {
		t.Fatal(err)
	}
	if got := loc["@entity"]; got != "pres:alice@atlanta.example.com" {
		t.Errorf("@entity = %v", got)
	}
	geopriv := loc["device"].(map[string]any)["geopriv"].(map[string]any)
	civic := geopriv["location-info"].(map[string]any)["civicAddress"]
	want := map[string]any{"country": "US", "A1": "DE", "A3": "Wilmington", "PRD": "W", "RD": "Cellular", "STS": "Street", "HNO": "42"}
	if !reflect.DeepEqual(civic, want) {
		t.Errorf("civicAddress = %v\nwant %v", civic, want)
	}
	if got := geopriv["method"]; got != "Manual" {
		t.Errorf("method = %v", got)
	}
	provider := geopriv["provided-by"].(map[string]any)["EmergencyCallDataValue"].(map[string]any)["EmergencyCallData.ProviderInfo"].(map[string]any)
	if got := provider["DataProviderString"]; got != "Diamond State Exemplar" {
		t.Errorf("DataProviderString = %v", got)
	}
}

// Indentation between many children is dropped, so it does not count against MaxString.
func TestDecodeXMLIndentationNotCounted(t *testing.T) {
	var b strings.Builder
	b.WriteString("<r>")
	for range 100 {
		b.WriteString("\n        <u>1</u>")
	}
	b.WriteString("\n</r>")
	rec, err := DecodeXML([]byte(b.String()), Limits{MaxString: 16})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rec["u"].([]any)); n != 100 {
		t.Errorf("%d units", n)
	}
	// Kept text does count: 3 runs of 6 bytes joined by spaces = 20 bytes.
	_, err = DecodeXML([]byte("<r>SECRET<a/>SECRET<a/>SECRET</r>"), Limits{MaxString: 16})
	if !errors.Is(err, ErrStringTooLong) {
		t.Errorf("error %v, want ErrStringTooLong", err)
	}
}
