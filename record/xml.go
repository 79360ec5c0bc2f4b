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
//   - Comments, processing instructions and the DOCTYPE are ignored.
//
// Encoding: a UTF-8 or UTF-16 byte order mark is honoured, UTF-16 without one is
// recognised by its first character, and a declared encoding of UTF-8, UTF-16, US-ASCII,
// ISO-8859-1 (latin1) or windows-1252 is transcoded; any other is an error
// (ErrUnsupportedCharset). The decoder is strict and knows only the five predefined
// entities (and character references): a document that uses an entity declared in its
// DOCTYPE is rejected, so entity expansion ("billion laughs") cannot happen.
func DecodeXML(data []byte, lim Limits) (Record, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, &Error{Format: XML, Offset: -1, Err: lim.tooLarge()}
	}
	data, bom, err := unicodeText(data, true)
	if err != nil {
		return nil, &Error{Format: XML, Offset: -1, Err: err}
	}
	d := xml.NewDecoder(bytes.NewReader(data))
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

// xmlCharsetReader returns the xml.Decoder CharsetReader. bom is the encoding announced by
// a byte order mark (csUnknown: none); the input is UTF-8 already when there was one.
func xmlCharsetReader(bom charset) func(string, io.Reader) (io.Reader, error) {
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

func openCharset(bom charset, label string, in io.Reader) (io.Reader, error) {
	cs := lookupCharset(label)
	switch {
	case cs == csUnknown:
		return nil, unsupportedCharset(label)
	case bom.isUTF16() && cs.isUTF16():
		return in, nil // transcoded already
	case bom != csUnknown && cs != csUTF8:
		return nil, fmt.Errorf("declared encoding %s contradicts the document's %s byte order mark or first bytes", cs, bom)
	case cs.isUTF16():
		return nil, fmt.Errorf("declared encoding %s, but the document is not UTF-16 encoded", cs)
	case cs == csUTF8:
		return in, nil
	}
	return newByteDecoder(in, cs), nil
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
}

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
					if s := v.(string); s != "" {
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
	if f.m != nil {
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
	return &Error{Format: XML, Line: line, Column: col, Offset: -1, Err: err}
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
