package record

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DecodeXML decodes an XML document into one record, its root element:
//
//   - The root element's own name is dropped; the record holds its attributes, children
//     and text.
//   - Child elements become keys by local name (namespace prefixes are stripped).
//   - Attributes become keys "@name" by local name; namespace declarations (xmlns,
//     xmlns:p) are skipped.
//   - An element with neither attributes nor children is its text, a string. An element
//     with attributes or children is a map; its text, if any, is under "#text".
//   - Text of an element without children is kept verbatim (entities decoded, CDATA
//     included), except that text that is only whitespace counts as empty: <a/>, <a></a>
//     and <a>  </a> are all "" (and have no "#text" when the element has attributes).
//   - Text of an element with children (mixed content) is each run of text between
//     child elements trimmed of surrounding whitespace, the non-empty runs joined with
//     one space: the indentation of a pretty-printed export disappears.
//   - Repeated keys (elements, or attributes with the same local name) become a []any in
//     document order; the first occurrence becomes the list's first element when the
//     second one is met, whether or not the two are adjacent.
//   - An element with the attribute nil="true" (or "1") of the XML Schema instance
//     namespace (http://www.w3.org/2001/XMLSchema-instance, under any prefix: xsi:nil,
//     i:nil as .NET's serializers write it) is nil, whatever else it holds: a field that
//     reads it is empty for required, omit_empty, default, coalesce and templates.
//   - Comments, processing instructions and the DOCTYPE are ignored.
//
// Encoding: a UTF-8 or UTF-16 byte order mark is honoured, UTF-16 without one is
// recognised by its first character, and a declared encoding — any IANA charset or WHATWG
// label, through golang.org/x/text — is transcoded (one x/text does not know is
// ErrUnsupportedCharset). A document with neither a mark nor a declared encoding is
// UTF-8, or Options.Encoding when set (DecodeXMLWith). A byte that is not valid in the
// encoding is an error naming the line (ErrInvalidByte), never replaced. The decoder is strict and knows only the five predefined
// entities (and character references): a document that uses an entity declared in its
// DOCTYPE is rejected, so entity expansion ("billion laughs") cannot happen.
func DecodeXML(data []byte, lim Limits) (Record, error) {
	return DecodeXMLWith(data, Options{Limits: lim})
}

// DecodeXMLWith is DecodeXML with Options: the Limits, and the encoding of a document
// that declares none.
func DecodeXMLWith(data []byte, o Options) (Record, error) {
	lim := o.Limits.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, &Error{Format: XML, Offset: -1, Err: lim.tooLarge()}
	}
	data, bom, err := unicodeText(data, true)
	if err != nil {
		return nil, withLine(&Error{Format: XML, Offset: -1, Err: err})
	}
	var in io.Reader = bytes.NewReader(data)
	if o.Encoding != "" && bom == bomNone && !declaresEncoding(data) {
		cs, err := lookupCharset(o.Encoding)
		if err != nil {
			return nil, &Error{Format: XML, Offset: -1, Err: err}
		}
		if !cs.isUTF8() {
			in = newDecodingReader(in, cs)
		}
	}
	d := xml.NewDecoder(in)
	d.Strict = true
	d.Entity = nil
	d.CharsetReader = xmlCharsetReader(bom)
	x := xmlBuilder{d: d, lim: lim}
	return x.build()
}

// ParseXMLString decodes XML held in a string (such as the PIDF-LO location inside a NENA
// EIDO) with the default Limits; see DecodeXML.
func ParseXMLString(s string) (Record, error) {
	return DecodeXML([]byte(s), Limits{})
}

// declaresEncoding reports whether data starts with an XML declaration that has an
// encoding.
func declaresEncoding(data []byte) bool {
	d := bytes.TrimLeft(data, xmlSpace)
	if !bytes.HasPrefix(d, []byte("<?xml")) {
		return false
	}
	end := bytes.Index(d, []byte("?>"))
	return end > 0 && bytes.Contains(d[:end], []byte("encoding"))
}

// xmlCharsetReader returns the xml.Decoder CharsetReader. bom is what a byte order mark
// announced; the input is UTF-8 already when there was one.
func xmlCharsetReader(bom bomKind) func(string, io.Reader) (io.Reader, error) {
	return func(label string, in io.Reader) (io.Reader, error) {
		r, err := openCharset(bom, label, in)
		if err != nil {
			return nil, &charsetError{err}
		}
		return r, nil
	}
}

// charsetError marks an error of the CharsetReader (encoding/xml wraps it in its own).
type charsetError struct{ err error }

func (e *charsetError) Error() string { return e.err.Error() }
func (e *charsetError) Unwrap() error { return e.err }

func openCharset(bom bomKind, label string, in io.Reader) (io.Reader, error) {
	cs, err := lookupCharset(label)
	switch {
	case err != nil:
		return nil, err
	case bom == bomIsUTF16 && (cs.utf16 || cs.isUTF8()):
		return in, nil // transcoded already
	case bom != bomNone && !cs.isUTF8():
		mark := "UTF-8"
		if bom == bomIsUTF16 {
			mark = "UTF-16"
		}
		return nil, fmt.Errorf("declared encoding %s contradicts the document's %s byte order mark or first bytes", cs.name, mark)
	case cs.utf16:
		return nil, fmt.Errorf("declared encoding %s, but the document is not UTF-16 encoded", cs.name)
	case cs.isUTF8():
		return in, nil
	}
	return newDecodingReader(in, cs), nil
}

// xmlSpace is XML's white space (the S production); NBSP and the like are text.
const xmlSpace = " \t\r\n"

type xmlFrame struct {
	name     string         // local name
	m        map[string]any // attributes and children; nil while there are none
	hasChild bool
	run      strings.Builder // the current run of text
	parts    []string        // finished (trimmed, non-empty) runs, once there is a child
	keptLen  int             // bytes of parts, with separators
	isNil    bool            // xsi:nil="true"
}

// xsiNamespace is the XML Schema instance namespace, of the nil attribute.
const xsiNamespace = "http://www.w3.org/2001/XMLSchema-instance"

type xmlBuilder struct {
	d     *xml.Decoder
	lim   Limits
	stack []*xmlFrame
}

func (x *xmlBuilder) build() (Record, error) {
	var root Record
	for {
		tok, err := x.d.Token()
		if err == io.EOF {
			if root == nil {
				return nil, x.errorf(errors.New("no root element"))
			}
			return root, nil
		}
		if err != nil {
			return nil, x.syntaxError(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil {
				return nil, x.errorf(errors.New("more than one root element"))
			}
			if err := x.start(t); err != nil {
				return nil, err
			}
		case xml.EndElement:
			v := x.end()
			if len(x.stack) == 0 {
				m, ok := v.(map[string]any)
				if !ok {
					m = map[string]any{}
					if s, _ := v.(string); s != "" {
						m["#text"] = s
					}
				}
				root = m
			}
		case xml.CharData:
			if len(x.stack) == 0 {
				if len(bytes.Trim(t, xmlSpace)) > 0 {
					return nil, x.errorf(errors.New("text outside the root element"))
				}
				continue
			}
			f := x.stack[len(x.stack)-1]
			// The text kept so far plus the current run, whose whitespace between child
			// elements is dropped at the next child (so indentation does not add up).
			if f.keptLen+f.run.Len()+len(t) > x.lim.MaxString {
				return nil, x.errorf(x.lim.stringTooLong())
			}
			f.run.Write(t)
		}
		// Comments, processing instructions and directives are ignored.
	}
}

func (x *xmlBuilder) start(t xml.StartElement) error {
	if len(x.stack) >= x.lim.MaxDepth {
		return x.errorf(x.lim.tooDeep())
	}
	if n := len(x.stack); n > 0 {
		p := x.stack[n-1]
		p.hasChild = true
		p.endRun()
	}
	if len(t.Name.Local) > x.lim.MaxString {
		return x.errorf(x.lim.stringTooLong())
	}
	f := &xmlFrame{name: t.Name.Local}
	for _, a := range t.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		if len(a.Value) > x.lim.MaxString || len(a.Name.Local) > x.lim.MaxString {
			return x.errorf(x.lim.stringTooLong())
		}
		if a.Name.Space == xsiNamespace && a.Name.Local == "nil" {
			if v := strings.Trim(a.Value, xmlSpace); v == "true" || v == "1" {
				f.isNil = true
			}
			continue
		}
		if f.m == nil {
			f.m = map[string]any{}
		}
		addValue(f.m, "@"+a.Name.Local, a.Value)
	}
	x.stack = append(x.stack, f)
	return nil
}

// end closes the innermost element and adds it to its parent; it returns its value.
func (x *xmlBuilder) end() any {
	n := len(x.stack)
	f := x.stack[n-1]
	x.stack = x.stack[:n-1]
	var text string
	if f.hasChild {
		f.endRun()
		text = strings.Join(f.parts, " ")
	} else if text = f.run.String(); strings.Trim(text, xmlSpace) == "" {
		text = ""
	}
	var v any = text
	if f.isNil {
		v = nil
	} else if f.m != nil {
		if text != "" {
			f.m["#text"] = text
		}
		v = f.m
	}
	if n > 1 {
		p := x.stack[n-2]
		if p.m == nil {
			p.m = map[string]any{}
		}
		addValue(p.m, f.name, v)
	}
	return v
}

// endRun finishes the current run of text of an element with children.
func (f *xmlFrame) endRun() {
	if s := strings.Trim(f.run.String(), xmlSpace); s != "" {
		f.parts = append(f.parts, s)
		f.keptLen += len(s) + 1
	}
	f.run.Reset()
}

// addValue sets m[k] = v, turning the value into a list when k is there already.
func addValue(m map[string]any, k string, v any) {
	old, ok := m[k]
	if !ok {
		m[k] = v
		return
	}
	if l, ok := old.([]any); ok {
		m[k] = append(l, v)
		return
	}
	m[k] = []any{old, v}
}

func (x *xmlBuilder) errorf(err error) error {
	line, col := x.d.InputPos()
	return withLine(&Error{Format: XML, Line: line, Column: col, Offset: -1, Err: err})
}

// syntaxError converts an encoding/xml error, keeping its line and dropping its "xml:"
// prefix.
func (x *xmlBuilder) syntaxError(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return &Error{Format: XML, Line: se.Line, Offset: -1, Err: errors.New(se.Msg)}
	}
	var ce *charsetError
	if errors.As(err, &ce) {
		return x.errorf(ce.err)
	}
	if msg, ok := strings.CutPrefix(err.Error(), "xml: "); ok {
		err = errors.New(msg)
	}
	return x.errorf(err)
}
