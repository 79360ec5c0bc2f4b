package record

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Character encodings. Input is UTF-8 unless a byte order mark (any format), an XML
// encoding declaration or Options.Encoding says otherwise; the decoders transcode
// everything else to UTF-8 with golang.org/x/text, which knows every IANA charset
// (ianaindex) and every WHATWG label (htmlindex: cp1252, latin1 as windows-1252, ...).
// A byte that is not valid in the encoding is an error (ErrInvalidByte), never replaced:
// after transcoding, a U+FFFD in the text is taken as such a byte (so a U+FFFD written in
// UTF-16 input is refused too).

// ErrInvalidByte is input that is not valid in its character encoding.
var ErrInvalidByte = errors.New("byte not valid in the character encoding")

// charset is a resolved encoding: its name, and nil enc for UTF-8 (no transcoding).
type charset struct {
	name  string
	enc   encoding.Encoding
	utf16 bool
}

func (c charset) isUTF8() bool { return c.enc == nil }

var utf8Charset = charset{name: "UTF-8"}

// lookupCharset resolves an encoding label (case-insensitive): IANA names and aliases
// first (ISO-8859-1 is ISO-8859-1), then WHATWG labels (cp1252, ascii).
func lookupCharset(label string) (charset, error) {
	l := strings.ToLower(strings.TrimSpace(label))
	switch l {
	case "utf-8", "utf8", "unicode-1-1-utf-8":
		return utf8Charset, nil
	case "ascii":
		l = "us-ascii"
	case "utf16":
		l = "utf-16"
	case "utf16le":
		l = "utf-16le"
	case "utf16be":
		l = "utf-16be"
	case "ucs-2", "iso-10646-ucs-2", "unicode":
		l = "utf-16"
	}
	enc, err := ianaindex.IANA.Encoding(l)
	if err != nil || enc == nil {
		if enc, err = htmlindex.Get(l); err != nil {
			enc = nil
		}
	}
	if enc == nil {
		return charset{}, fmt.Errorf("%w %q (any IANA charset name or WHATWG label, e.g. UTF-8, UTF-16, ISO-8859-1, windows-1252, Shift_JIS)",
			ErrUnsupportedCharset, clip(label))
	}
	name, err := ianaindex.IANA.Name(enc)
	if err != nil {
		if name, err = htmlindex.Name(enc); err != nil {
			name = label
		}
	}
	if enc == unicode.UTF8 || strings.EqualFold(name, "UTF-8") || strings.EqualFold(name, "utf-8") {
		return utf8Charset, nil
	}
	if l := strings.TrimSpace(label); l != "" {
		name = l // messages speak of the encoding as the document or config writes it
	}
	c := charset{name: name, enc: enc}
	c.utf16 = strings.HasPrefix(strings.ToUpper(name), "UTF-16")
	return c, nil
}

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// bomKind is what a byte order mark (or, for XML, the first bytes) announced.
type bomKind int

const (
	bomNone bomKind = iota
	bomIsUTF8
	bomIsUTF16
)

// unicodeText strips a byte order mark and transcodes UTF-16 to UTF-8. It returns what
// the mark announced. When xml is set it also recognises UTF-16 without a mark by the
// document's first character, '<' (XML 1.0 appendix F).
func unicodeText(data []byte, xml bool) ([]byte, bomKind, error) {
	switch {
	case bytes.HasPrefix(data, bomUTF8):
		return data[len(bomUTF8):], bomIsUTF8, nil
	case bytes.HasPrefix(data, bomUTF16LE):
		out, err := decodeUTF16(data[2:], false)
		return out, bomIsUTF16, err
	case bytes.HasPrefix(data, bomUTF16BE):
		out, err := decodeUTF16(data[2:], true)
		return out, bomIsUTF16, err
	case xml && len(data) >= 4 && data[0] == '<' && data[1] == 0 && data[2] != 0 && data[3] == 0:
		out, err := decodeUTF16(data, false)
		return out, bomIsUTF16, err
	case xml && len(data) >= 4 && data[0] == 0 && data[1] == '<' && data[2] == 0 && data[3] != 0:
		out, err := decodeUTF16(data, true)
		return out, bomIsUTF16, err
	}
	return data, bomNone, nil
}

var errOddUTF16 = errors.New("UTF-16 input has an odd number of bytes")

// decodeUTF16 transcodes UTF-16 (without its byte order mark) to UTF-8; an unpaired
// surrogate is an error.
func decodeUTF16(b []byte, bigEndian bool) ([]byte, error) {
	if len(b)%2 != 0 {
		return nil, errOddUTF16
	}
	e := unicode.LittleEndian
	if bigEndian {
		e = unicode.BigEndian
	}
	out, err := unicode.UTF16(e, unicode.IgnoreBOM).NewDecoder().Bytes(b)
	if err != nil {
		return nil, err
	}
	if i := bytes.IndexRune(out, utf8.RuneError); i >= 0 {
		return nil, invalidByte("UTF-16", out[:i])
	}
	return out, nil
}

// invalidByte reports a byte not valid in cs; before is the text decoded before it, for
// the line number.
func invalidByte(cs string, before []byte) error {
	return &invalidByteError{line: bytes.Count(before, []byte("\n")) + 1, charset: cs}
}

// invalidByteError is ErrInvalidByte at a line (of the decoded text).
type invalidByteError struct {
	line    int
	charset string
}

func (e *invalidByteError) Error() string {
	return "line " + strconv.Itoa(e.line) + ": " + e.text()
}

func (e *invalidByteError) text() string {
	return "a byte that is not valid " + e.charset + ", the input's encoding"
}

func (e *invalidByteError) Is(target error) bool { return target == ErrInvalidByte }

// withLine moves the line of an invalidByteError into an Error's Line.
func withLine(e *Error) *Error {
	var ib *invalidByteError
	if errors.As(e.Err, &ib) {
		e.Line, e.Column, e.Err = ib.line, 0, textError{ib}
	}
	return e
}

// textError is an invalidByteError without its line (the Error carries it).
type textError struct{ e *invalidByteError }

func (t textError) Error() string        { return t.e.text() }
func (t textError) Unwrap() error        { return t.e }
func (t textError) Is(target error) bool { return target == ErrInvalidByte }

// newDecodingReader transcodes r from cs to UTF-8 and fails (ErrInvalidByte, naming the
// line) at the first byte that is not valid in cs.
func newDecodingReader(r io.Reader, cs charset) io.Reader {
	return transform.NewReader(r, transform.Chain(cs.enc.NewDecoder(), &rejectReplacement{name: cs.name, line: 1}))
}

// rejectReplacement passes UTF-8 through and fails at U+FFFD, which x/text's decoders
// write for a byte that is not valid in their encoding.
type rejectReplacement struct {
	name string
	line int
}

func (t *rejectReplacement) Reset() { t.line = 1 }

func (t *rejectReplacement) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		c := src[nSrc]
		if c < utf8.RuneSelf {
			if nDst >= len(dst) {
				return nDst, nSrc, transform.ErrShortDst
			}
			if c == '\n' {
				t.line++
			}
			dst[nDst] = c
			nDst++
			nSrc++
			continue
		}
		if !atEOF && !utf8.FullRune(src[nSrc:]) {
			return nDst, nSrc, transform.ErrShortSrc
		}
		r, size := utf8.DecodeRune(src[nSrc:])
		if r == utf8.RuneError {
			return nDst, nSrc, &invalidByteError{line: t.line, charset: t.name}
		}
		if nDst+size > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		copy(dst[nDst:], src[nSrc:nSrc+size])
		nDst += size
		nSrc += size
	}
	return nDst, nSrc, nil
}
