package sidecar

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/mapping"
)

// Memo lets Detect skip the mapping of a record it has mapped before: per incident, the
// fingerprint of the raw record last mapped (a SHA-256 of its keys and typed values) with
// what the mapping made of it (the request's content hash, or the filter's reason). A
// record whose fingerprint is the remembered one maps to the same thing — when the mapping
// depends on the record alone (mapping.Mapper.Pure) and is the same mapping — so:
//
//   - remembered as a request whose hash is still known(incident) (the last link queued):
//     Unchanged, without mapping;
//   - remembered as filtered: Filtered again, with the same reason;
//   - anything else (another fingerprint, another known hash, a mapping error): mapped.
//
// The entries belong to one Mapper: Detect with another one (a reload, SIGHUP) forgets
// them all first, so a new mapping is never judged by the old one's results. Failed
// records are not remembered (they are logged at every poll, as before). The zero Memo is
// ready; it is safe for concurrent use. It holds at most maxCachedHashes incidents (then
// starts over: it is only a shortcut).
type Memo struct {
	mu     sync.RWMutex
	mapper *mapping.Mapper
	e      map[string]memoEntry
}

type memoEntry struct {
	fp       fingerprint
	hash     string // the request's content hash ("" when filtered)
	reason   string // the filter's reason (filtered)
	filtered bool
}

type fingerprint [sha256.Size]byte

// view resets the memo for m (see reset) and returns its entries for reading, with the
// read lock held until done is called: one Detect reads them without a lock per record.
func (mm *Memo) view(m *mapping.Mapper) (entries map[string]memoEntry, done func()) {
	mm.reset(m)
	mm.mu.RLock()
	return mm.e, mm.mu.RUnlock
}

// reset forgets the entries when they were made by another mapper than m.
func (mm *Memo) reset(m *mapping.Mapper) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.mapper != m {
		mm.mapper, mm.e = m, nil
	}
}

// store records the entries of one Detect made with m.
func (mm *Memo) store(m *mapping.Mapper, ids []string, es []memoEntry) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.mapper != m {
		return // a reload meanwhile: these belong to the old mapping
	}
	for i, id := range ids {
		if mm.e == nil || len(mm.e) >= maxCachedHashes {
			mm.e = make(map[string]memoEntry, len(ids))
		}
		mm.e[id] = es[i]
	}
}

// fpEncoder computes record fingerprints; one per goroutine. It keeps the sorted keys of
// the last record: the records of one poll mostly have the same columns, so the next one
// is encoded in that order after a check that it has exactly those keys (no sort).
type fpEncoder struct {
	buf  []byte
	keys []string
	// ids, es: what the goroutine mapped, to remember once the Detect is done.
	ids []string
	es  []memoEntry
}

func (fe *fpEncoder) remember(id string, e memoEntry) {
	fe.ids, fe.es = append(fe.ids, id), append(fe.es, e)
}

// fingerprint is the SHA-256 of rec's canonical encoding (keys sorted, each value with
// its type); false when rec holds a value of a type it does not know (such a record is
// always mapped).
func (fe *fpEncoder) fingerprint(rec adapters.Record) (fingerprint, bool) {
	same := len(fe.keys) == len(rec)
	for _, k := range fe.keys {
		if !same {
			break
		}
		_, same = rec[k]
	}
	if !same {
		fe.keys = fe.keys[:0]
		for k := range rec {
			fe.keys = append(fe.keys, k)
		}
		slices.Sort(fe.keys)
	}
	b := binary.AppendUvarint(append(fe.buf[:0], tagMap), uint64(len(fe.keys)))
	ok := true
	for _, k := range fe.keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		if b, ok = appendValue(b, rec[k]); !ok {
			break
		}
	}
	if cap(b) <= 64<<10 {
		fe.buf = b
	}
	if !ok {
		return fingerprint{}, false
	}
	return sha256.Sum256(b), true
}

// Tags of the canonical encoding.
const (
	tagNil byte = iota
	tagString
	tagInt
	tagUint
	tagFloat
	tagBool
	tagTime
	tagMap
	tagList
	tagNumber
	tagBytes
)

func appendStr(b []byte, tag byte, s string) []byte {
	b = append(b, tag)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendValue(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, tagNil), true
	case string:
		return appendStr(b, tagString, x), true
	case json.Number:
		return appendStr(b, tagNumber, string(x)), true
	case []byte:
		return appendStr(b, tagBytes, string(x)), true
	case bool:
		if x {
			return append(b, tagBool, 1), true
		}
		return append(b, tagBool, 0), true
	case int64:
		return binary.AppendVarint(append(b, tagInt), x), true
	case int:
		return binary.AppendVarint(append(b, tagInt), int64(x)), true
	case int32:
		return binary.AppendVarint(append(b, tagInt), int64(x)), true
	case uint64:
		return binary.AppendUvarint(append(b, tagUint), x), true
	case float64:
		return binary.BigEndian.AppendUint64(append(b, tagFloat), math.Float64bits(x)), true
	case float32:
		return binary.BigEndian.AppendUint64(append(b, tagFloat), math.Float64bits(float64(x))), true
	case time.Time:
		// The instant, and the zone it is shown in (a mapping may format it).
		name, off := x.Zone()
		b = binary.AppendVarint(append(b, tagTime), x.Unix())
		b = binary.AppendUvarint(b, uint64(x.Nanosecond()))
		b = binary.AppendVarint(b, int64(off))
		return appendStr(b, tagString, name), true
	case map[string]any:
		return appendMap(b, x)
	case []any:
		b = binary.AppendUvarint(append(b, tagList), uint64(len(x)))
		for _, e := range x {
			var ok bool
			if b, ok = appendValue(b, e); !ok {
				return b, false
			}
		}
		return b, true
	case []map[string]any:
		b = binary.AppendUvarint(append(b, tagList), uint64(len(x)))
		for _, e := range x {
			var ok bool
			if b, ok = appendMap(b, e); !ok {
				return b, false
			}
		}
		return b, true
	}
	return b, false
}

func appendMap(b []byte, m map[string]any) ([]byte, bool) {
	var arr [32]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(append(b, tagMap), uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		var ok bool
		if b, ok = appendValue(b, m[k]); !ok {
			return b, false
		}
	}
	return b, true
}
