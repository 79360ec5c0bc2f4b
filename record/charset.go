package record

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Character encodings. Input is UTF-8 unless a byte order mark (any format) or an XML
// encoding declaration says otherwise; the decoders transcode everything else to UTF-8.

type charset int

const (
	csUnknown charset = iota
	csUTF8
	csUTF16LE
	csUTF16BE
	csUTF16 // "UTF-16" declared: byte order from the byte order mark
	csASCII
	csLatin1
	csWindows1252
)

func (c charset) isUTF16() bool { return c == csUTF16 || c == csUTF16LE || c == csUTF16BE }

func (c charset) String() string {
	switch c {
	case csUTF8:
		return "UTF-8"
	case csUTF16LE:
		return "UTF-16LE"
	case csUTF16BE:
		return "UTF-16BE"
	case csUTF16:
		return "UTF-16"
	case csASCII:
		return "US-ASCII"
	case csLatin1:
		return "ISO-8859-1"
	case csWindows1252:
		return "windows-1252"
	}
	return "unknown"
}

// lookupCharset maps an encoding label (case-insensitive; the usual IANA names and
// aliases) to a charset.
func lookupCharset(label string) charset {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "unicode-1-1-utf-8":
		return csUTF8
	case "utf-16", "utf16", "ucs-2", "iso-10646-ucs-2", "unicode":
		return csUTF16
	case "utf-16le", "utf16le":
		return csUTF16LE
	case "utf-16be", "utf16be":
		return csUTF16BE
	case "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "iso-ir-6", "us", "cp367", "ibm367", "csascii":
		return csASCII
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "iso_8859-1:1987", "latin1", "latin-1", "l1",
		"iso-ir-100", "cp819", "ibm819", "csisolatin1", "8859-1":
		return csLatin1
	case "windows-1252", "cp1252", "x-cp1252", "cswindows1252", "ms-ansi":
		return csWindows1252
	}
	return csUnknown
}

func unsupportedCharset(label string) error {
	return fmt.Errorf("%w %q (supported: UTF-8, UTF-16, US-ASCII, ISO-8859-1, windows-1252)",
		ErrUnsupportedCharset, clip(label))
}

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// unicodeText strips a byte order mark and transcodes UTF-16 to UTF-8. It returns the
// charset the mark announced (csUnknown: none). When xml is set it also recognises UTF-16
// without a mark by the document's first character, '<' (XML 1.0 appendix F).
func unicodeText(data []byte, xml bool) ([]byte, charset, error) {
	switch {
	case bytes.HasPrefix(data, bomUTF8):
		return data[len(bomUTF8):], csUTF8, nil
	case bytes.HasPrefix(data, bomUTF16LE):
		out, err := decodeUTF16(data[2:], false)
		return out, csUTF16LE, err
	case bytes.HasPrefix(data, bomUTF16BE):
		out, err := decodeUTF16(data[2:], true)
		return out, csUTF16BE, err
	case xml && len(data) >= 4 && data[0] == '<' && data[1] == 0 && data[2] != 0 && data[3] == 0:
		out, err := decodeUTF16(data, false)
		return out, csUTF16LE, err
	case xml && len(data) >= 4 && data[0] == 0 && data[1] == '<' && data[2] == 0 && data[3] != 0:
		out, err := decodeUTF16(data, true)
		return out, csUTF16BE, err
	}
	return data, csUnknown, nil
}

var errOddUTF16 = errors.New("UTF-16 input has an odd number of bytes")

// decodeUTF16 transcodes UTF-16 (without its byte order mark) to UTF-8. Unpaired
// surrogates become U+FFFD.
func decodeUTF16(b []byte, bigEndian bool) ([]byte, error) {
	if len(b)%2 != 0 {
		return nil, errOddUTF16
	}
	unit := func(i int) rune {
		if bigEndian {
			return rune(b[i])<<8 | rune(b[i+1])
		}
		return rune(b[i+1])<<8 | rune(b[i])
	}
	out := make([]byte, 0, len(b)/2*3/2+4)
	for i := 0; i < len(b); i += 2 {
		r := unit(i)
		if utf16.IsSurrogate(r) && i+3 < len(b) {
			if r2 := utf16.DecodeRune(r, unit(i+2)); r2 != utf8.RuneError {
				out = utf8.AppendRune(out, r2)
				i += 2
				continue
			}
		}
		if utf16.IsSurrogate(r) {
			r = utf8.RuneError
		}
		out = utf8.AppendRune(out, r)
	}
	return out, nil
}

// windows1252 maps the bytes 0x80–0x9F; the five undefined ones map to the C1 control of
// the same value, as the WHATWG Encoding Standard does. 0xA0–0xFF equal ISO-8859-1.
var windows1252 = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

// byteDecoder transcodes a single-byte charset (US-ASCII, ISO-8859-1, windows-1252) to
// UTF-8 as it is read. A byte outside US-ASCII in US-ASCII input is an error.
type byteDecoder struct {
	src    io.ByteReader
	cs     charset
	pend   [4]byte
	pi, pn int // pend[pi:pn] is encoded but not yet delivered
	err    error
}

func newByteDecoder(r io.Reader, cs charset) *byteDecoder {
	br, ok := r.(io.ByteReader)
	if !ok {
		br = bufio.NewReader(r)
	}
	return &byteDecoder{src: br, cs: cs}
}

func (d *byteDecoder) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if d.pi < d.pn {
			c := copy(p[n:], d.pend[d.pi:d.pn])
			d.pi += c
			n += c
			continue
		}
		if d.err != nil {
			break
		}
		b, err := d.src.ReadByte()
		if err != nil {
			d.err = err
			break
		}
		if b < 0x80 {
			p[n] = b
			n++
			continue
		}
		r := rune(b)
		switch d.cs {
		case csASCII:
			d.err = fmt.Errorf("byte 0x%02X is not US-ASCII, the declared encoding", b)
			continue
		case csWindows1252:
			if b < 0xA0 {
				r = windows1252[b-0x80]
			}
		}
		d.pi, d.pn = 0, utf8.EncodeRune(d.pend[:], r)
	}
	if n > 0 {
		return n, nil
	}
	return 0, d.err
}
