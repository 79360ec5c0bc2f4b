package mapping

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sync"

	"github.com/cad-sidecar/cad-sidecar/assist"
)

var hashBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// Hash is a stable content hash (hex SHA-256) of req: the same request gives the same hash;
// any change of incidentId, userId, the number or order of fields, or any field's name,
// description or value gives another. Every string is length-prefixed, so no two requests
// share an encoding.
func Hash(req assist.LinkIncidentRequest) string {
	bp := hashBufs.Get().(*[]byte)
	b := append((*bp)[:0], "link/v1"...)
	b = appendString(b, req.IncidentID)
	b = appendString(b, req.UserID)
	b = binary.AppendUvarint(b, uint64(len(req.Fields)))
	for _, f := range req.Fields {
		b = appendString(b, f.Name)
		b = appendString(b, f.Description)
		b = appendString(b, f.Value)
	}
	sum := sha256.Sum256(b)
	*bp = b
	hashBufs.Put(bp)
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
