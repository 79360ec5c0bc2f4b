package record

import (
	"database/sql"
	"reflect"
	"testing"
	"time"
)

func TestFromSQL(t *testing.T) {
	at := time.Date(2024, 3, 18, 9, 58, 42, 0, time.UTC)
	raw := sql.RawBytes("raw")
	var iface any = []byte("via *any")
	got := FromSQL(
		[]string{"id", "opened", "note", "amount", "count", "lat", "closed", "gone", "raw", "ns", "nullns", "ptr", "empty", "missing"},
		[]any{"24-000123", at, []byte("bytes"), "12.50", int64(7), 45.5, true, nil, raw,
			sql.NullString{String: "x", Valid: true}, sql.NullString{}, &iface, []byte{}},
	)
	raw[0] = 'X' // the driver reuses RawBytes: the record must hold a copy
	want := Record{
		"id": "24-000123", "opened": at, "note": "bytes", "amount": "12.50", "count": int64(7), "lat": 45.5,
		"closed": true, "gone": nil, "raw": "raw", "ns": "x", "nullns": nil, "ptr": "via *any", "empty": "", "missing": nil,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}

func TestFromSQLRepeatedColumn(t *testing.T) {
	got := FromSQL([]string{"id", "id"}, []any{int64(1), int64(2)})
	if !reflect.DeepEqual(got, Record{"id": int64(2)}) {
		t.Errorf("got %v", got)
	}
}
