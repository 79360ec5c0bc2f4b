package record

import "bytes"

// Sniff tells JSON from XML by the input's first character after a UTF-8 byte order mark
// and white space: { or [ is JSON, < is XML. CSV cannot be told by its content: ok is false
// for it, as for empty input.
func Sniff(data []byte) (f Format, ok bool) {
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(trimmed) == 0 {
		return "", false
	}
	switch trimmed[0] {
	case '{', '[':
		return JSON, true
	case '<':
		return XML, true
	}
	return "", false
}
