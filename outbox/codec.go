package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// On-disk record encodings. All integers are Go varints/uvarints
// (encoding/binary); times are Unix nanoseconds, 0 meaning the zero time; strings and byte
// slices are a uvarint length followed by the bytes. The payload comes last so the index
// can be built at Open without touching (copying) payloads.
//
// queue value:  0x01 key attempts createdAt nextAttempt firstErrorAt lastErrorAt replayedAt lastError payload
//
//	or            0x02 flags key attempts ... payload    (as 0x01, with a uvarint of flags:
//	                                                      bit 0 = Urgent)
//	or            0x03 flags key attempts strikes ... payload  (as 0x02, with Strikes)
//
// dead value:   0x02 deadAt reason evidence <queue value>
//
//	(version 1, still read: 0x01 deadAt reason <queue value>, no evidence)
//
// A message is written in the oldest version that holds it: without flags and strikes as
// 0x01, byte for byte as before the flags existed (so a file whose messages carry neither
// is still read by older versions), with flags only as 0x02, with strikes as 0x03. All three
// are read; 0x01 and 0x02 records have Strikes 0. An older version refuses a 0x03 record as
// an unknown version (it does not misread it).
//
// Seq and Topic are not stored in the value: they are the bbolt key and bucket.

const (
	recordV1 = 0x01
	recordV2 = 0x02 // a queue value with flags
	recordV3 = 0x03 // a queue value with flags and strikes
)

// Message flags (recordV2).
const flagUrgent = 1 << 0

func messageFlags(m *Message) uint64 {
	if m.Urgent {
		return flagUrgent
	}
	return 0
}

// deadV2 is the dead-letter record version that adds Evidence (version 1 had none).
const deadV2 = 0x02

var errCorrupt = errors.New("outbox: corrupt record")

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func encodeMessage(m *Message) []byte {
	return appendMessage(make([]byte, 0, 1+len(m.Key)+len(m.LastError)+len(m.Payload)+10*binary.MaxVarintLen64), m)
}

func appendMessage(b []byte, m *Message) []byte {
	f, strikes := messageFlags(m), min(max(m.Strikes, 0), max(m.Attempts, 0))
	switch {
	case strikes > 0:
		b = append(b, recordV3)
		b = binary.AppendUvarint(b, f)
	case f != 0:
		b = append(b, recordV2)
		b = binary.AppendUvarint(b, f)
	default:
		b = append(b, recordV1)
	}
	b = appendBytes(b, []byte(m.Key))
	b = binary.AppendUvarint(b, uint64(max(m.Attempts, 0)))
	if strikes > 0 {
		b = binary.AppendUvarint(b, uint64(strikes))
	}
	b = appendTime(b, m.CreatedAt)
	b = appendTime(b, m.NextAttempt)
	b = appendTime(b, m.FirstErrorAt)
	b = appendTime(b, m.LastErrorAt)
	b = appendTime(b, m.ReplayedAt)
	b = appendBytes(b, []byte(m.LastError))
	b = appendBytes(b, m.Payload)
	return b
}

func encodeDead(d *DeadLetter) []byte {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(d.Reason)+len(d.Evidence))
	b = append(b, deadV2)
	b = appendTime(b, d.DeadAt)
	b = appendBytes(b, []byte(d.Reason))
	b = appendBytes(b, []byte(d.Evidence))
	return append(b, encodeMessage(&d.Message)...)
}

// reader decodes a record; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) time() time.Time {
	if r.err != nil {
		return time.Time{}
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return time.Time{}
	}
	r.b = r.b[n:]
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v)
}

// bytes returns a sub-slice of the record (not a copy).
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) version() {
	if r.err != nil {
		return
	}
	if len(r.b) == 0 || r.b[0] != recordV1 {
		r.err = fmt.Errorf("%w: unknown record version", errCorrupt)
		return
	}
	r.b = r.b[1:]
}

// messageVersion reads the version of a queue value (0x01, or 0x02/0x03 and its flags).
func (r *reader) messageVersion() (ver byte, flags uint64) {
	if r.err != nil {
		return 0, 0
	}
	if len(r.b) == 0 || (r.b[0] != recordV1 && r.b[0] != recordV2 && r.b[0] != recordV3) {
		r.err = fmt.Errorf("%w: unknown record version", errCorrupt)
		return 0, 0
	}
	ver = r.b[0]
	r.b = r.b[1:]
	if ver != recordV1 {
		return ver, r.uvarint()
	}
	return ver, 0
}

// counts reads attempts and, in a 0x03 record, strikes (clamped to attempts: Replay resets
// Attempts only, so a replayed message starts again with no strikes).
func (r *reader) counts(ver byte) (attempts, strikes int) {
	attempts = int(r.uvarint())
	if ver == recordV3 {
		strikes = min(int(r.uvarint()), attempts)
	}
	return attempts, strikes
}

// msgHeader is what the in-memory index needs: no payload copy.
type msgHeader struct {
	key         []byte // aliases the record
	createdAt   time.Time
	nextAttempt time.Time
	replayedAt  time.Time
	payloadLen  int
	urgent      bool
	attempts    int
	strikes     int
}

func decodeHeader(v []byte) (msgHeader, error) {
	r := reader{b: v}
	var h msgHeader
	ver, flags := r.messageVersion()
	h.urgent = flags&flagUrgent != 0
	h.key = r.bytes()
	h.attempts, h.strikes = r.counts(ver)
	h.createdAt = r.time()
	h.nextAttempt = r.time()
	r.time()
	r.time()
	h.replayedAt = r.time()
	r.bytes()
	h.payloadLen = len(r.bytes())
	return h, r.err
}

// decodeMessage decodes a queue value into a Message that owns its memory (bbolt values
// are only valid during their transaction).
func decodeMessage(v []byte, topic Topic, seq uint64) (Message, error) {
	r := reader{b: v}
	m := decodeMessageBody(&r)
	m.Topic, m.Seq = topic, seq
	return m, r.err
}

// decodeMessageBody decodes a queue value (version included).
func decodeMessageBody(r *reader) Message {
	var m Message
	ver, flags := r.messageVersion()
	m.Urgent = flags&flagUrgent != 0
	m.Key = string(r.bytes())
	m.Attempts, m.Strikes = r.counts(ver)
	m.CreatedAt = r.time()
	m.NextAttempt = r.time()
	m.FirstErrorAt = r.time()
	m.LastErrorAt = r.time()
	m.ReplayedAt = r.time()
	m.LastError = string(r.bytes())
	m.Payload = append([]byte{}, r.bytes()...)
	return m
}

func decodeDead(v []byte, topic Topic, seq uint64) (DeadLetter, error) {
	r := reader{b: v}
	var ver byte
	if len(v) > 0 {
		ver = v[0]
	}
	if ver == deadV2 {
		r.b = r.b[1:]
	} else {
		r.version()
	}
	var d DeadLetter
	d.DeadAt = r.time()
	d.Reason = string(r.bytes())
	if ver == deadV2 {
		d.Evidence = string(r.bytes())
	}
	d.Message = decodeMessageBody(&r)
	d.Topic, d.Seq = topic, seq
	return d, r.err
}

func u64key(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }
