package record

import (
	"database/sql"
	"database/sql/driver"
	"reflect"
)

// FromSQL builds a record from a row as database/sql scans it into []any: keys are the
// column names as given; values are nil for NULL, time.Time, int64, float64, bool and
// string as they are, []byte (and sql.RawBytes) copied into a string, and decimals — which
// drivers return as strings or bytes — therefore kept exactly as text. A driver.Valuer
// (sql.NullString, ...) becomes its value, converted the same way (nil if Value fails); a
// *any is followed; other types are kept.
// A repeated column name keeps the later column's value; a column without a value is nil.
func FromSQL(columns []string, values []any) Record {
	rec := make(Record, len(columns))
	for i, c := range columns {
		var v any
		if i < len(values) {
			v = sqlValue(values[i])
		}
		rec[c] = v
	}
	return rec
}

func sqlValue(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case []byte:
		if x == nil {
			return nil
		}
		return string(x)
	case sql.RawBytes:
		if x == nil {
			return nil
		}
		return string(x)
	case *any:
		if x == nil {
			return nil
		}
		return sqlValue(*x)
	case driver.Valuer:
		if rv := reflect.ValueOf(x); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return nil
		}
		dv, err := x.Value()
		if err != nil {
			return nil
		}
		if _, again := dv.(driver.Valuer); again {
			return dv
		}
		return sqlValue(dv)
	}
	return v
}
