package sidecar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/mapping"
	"github.com/cad-sidecar/cad-sidecar/record"
)

// The mapping tester of the admin API (the dashboard's "Mapping tester" panel):
//
//	POST /api/v1/map  {"record": {...}} or {"text": "<JSON, XML or CSV>", "format": "json|xml|csv|"}
//
// maps one record with the mapping in use, as `cad-sidecar map --explain` does, and
// answers MapAnswer (200 whatever the outcome). A body that is not such JSON, or a text
// that does not decode to exactly one record, is 400; a body over maxMapBody is 413. The
// record is never logged: it holds caller data.

// maxMapBody bounds POST /api/v1/map's body.
const maxMapBody = 1 << 20

// MapRequest is POST /api/v1/map's body: Record, or Text in Format ("" = told from its
// first character: { or [ is JSON, < is XML).
type MapRequest struct {
	Record json.RawMessage `json:"record,omitempty"`
	Text   string          `json:"text,omitempty"`
	Format string          `json:"format,omitempty"`
}

// MapAnswer is how one record maps.
type MapAnswer struct {
	// Outcome is "mapped" (Request is set), "filtered" (Reason says why) or "failed"
	// (Error says why).
	Outcome string                      `json:"outcome"`
	Request *assist.LinkIncidentRequest `json:"request"`
	Explain []ExplainEntry              `json:"explain"`
	Reason  string                      `json:"reason"`
	Error   string                      `json:"error"`
	// UnparsedTimes names the fields left empty because a time could not be read.
	UnparsedTimes []string `json:"unparsed_times,omitempty"`
}

// ExplainEntry is one value of mapping.Explanation: the filter, the incident id, the user
// id or a field. Raw is null when the source path is not in the record; Value is null when
// omit_empty left the field out.
type ExplainEntry struct {
	Field   string        `json:"field"` // "filter", "incident_id", "user_id" or the field's name
	Key     string        `json:"key"`   // the mapping key: "filter", "incident_id", "fields[2]"
	Source  string        `json:"source"`
	Raw     *string       `json:"raw"`
	Steps   []ExplainStep `json:"steps"`
	Value   *string       `json:"value"`
	Omitted bool          `json:"omitted,omitempty"`
	Error   string        `json:"error,omitempty"`
}

// ExplainStep is one transform and the value after it.
type ExplainStep struct {
	Transform string `json:"transform"`
	Value     string `json:"value"`
}

func (s *Sidecar) mapRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+apiPrefix+"map", s.apiMap)
}

func (s *Sidecar) apiMap(w http.ResponseWriter, r *http.Request) {
	var req MapRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxMapBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		apiError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", maxMapBody))
		return
	case err != nil:
		apiError(w, http.StatusBadRequest, "bad request body: want {\"record\": {...}} or {\"text\": \"...\", \"format\": \"json|xml|csv\"}: "+err.Error())
		return
	}
	m := s.mapper.Load()
	if m == nil {
		apiError(w, http.StatusServiceUnavailable, "no mapping loaded")
		return
	}
	ans, err := tryMapping(m, req)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiOK(w, ans)
}

// tryMapping decodes the record of req with m's input options (mapping.input) and maps
// it with m, explaining each value. An error is an *InputError: req holds no single
// record.
func tryMapping(m *mapping.Mapper, req MapRequest) (MapAnswer, error) {
	rec, err := mapRequestRecord(m.Input(), req)
	if err != nil {
		return MapAnswer{}, err
	}
	e, err := m.Explain(rec)
	ans := MapAnswer{Explain: explainEntries(e)}
	switch {
	case err != nil:
		ans.Outcome, ans.Error = "failed", err.Error()
	case e.Result.Filtered:
		ans.Outcome, ans.Reason = "filtered", e.Result.Reason
	default:
		req := e.Result.Request
		ans.Outcome, ans.Request, ans.UnparsedTimes = "mapped", &req, e.Result.UnparsedTimes
	}
	return ans, nil
}

// mapRequestRecord decodes req's one record as the CAD adapters do (record.DecodeWith,
// within mapping.input's limits).
func mapRequestRecord(in record.Options, req MapRequest) (record.Record, error) {
	var (
		f    record.Format
		data []byte
	)
	switch {
	case len(req.Record) > 0 && req.Text != "":
		return nil, inputErrorf("give record or text, not both")
	case len(req.Record) > 0:
		if req.Format != "" && !strings.EqualFold(req.Format, "json") {
			return nil, inputErrorf("record is JSON: format %q does not apply (use text for XML or CSV)", req.Format)
		}
		if b := bytes.TrimSpace(req.Record); len(b) == 0 || b[0] != '{' {
			return nil, inputErrorf("record must be a JSON object")
		}
		f, data = record.JSON, req.Record
	case req.Text != "":
		data = []byte(req.Text)
		switch ff := record.Format(strings.ToLower(req.Format)); ff {
		case record.JSON, record.XML, record.CSV:
			f = ff
		case "":
			var ok bool
			if f, ok = record.Sniff(data); !ok {
				return nil, inputErrorf("cannot tell the format of the text (it starts with neither {, [ nor <): choose json, xml or csv")
			}
		default:
			return nil, inputErrorf("unknown format %q: json, xml or csv", req.Format)
		}
	default:
		return nil, inputErrorf("no record: give record (a JSON object) or text")
	}
	recs, err := record.DecodeWith(f, bytes.NewReader(data), in)
	if err != nil {
		// record's errors name the format and the position, never the content.
		return nil, inputErrorf("not valid %s: %v", strings.ToUpper(string(f)), err)
	}
	switch len(recs) {
	case 0:
		return nil, inputErrorf("the %s text holds no record", strings.ToUpper(string(f)))
	case 1:
		return recs[0], nil
	}
	return nil, inputErrorf("the %s text holds %d records: paste one", strings.ToUpper(string(f)), len(recs))
}

// explainEntries flattens an explanation: the filter, the incident id, the user id, then
// the fields in order.
func explainEntries(e mapping.Explanation) []ExplainEntry {
	var out []ExplainEntry
	if f := e.Filter; f != nil {
		ent := ExplainEntry{Field: "filter", Key: "filter", Source: "expr " + f.Expr, Steps: []ExplainStep{}, Error: f.Err}
		if f.Err == "" {
			v := f.Result
			ent.Value = &v
		}
		out = append(out, ent)
	}
	add := func(field string, st mapping.SourceTrace) {
		ent := ExplainEntry{Field: field, Key: st.Key, Source: st.Source, Steps: []ExplainStep{}, Omitted: st.Omitted, Error: st.Err}
		if st.Found {
			raw := st.Raw
			ent.Raw = &raw
		}
		for _, step := range st.Steps {
			ent.Steps = append(ent.Steps, ExplainStep{Transform: step.Name, Value: step.Value})
		}
		if st.Err == "" && !st.Omitted {
			v := st.Value
			ent.Value = &v
		}
		out = append(out, ent)
	}
	add("incident_id", e.IncidentID)
	if e.UserID != nil {
		add("user_id", *e.UserID)
	}
	for _, f := range e.Fields {
		add(f.Name, f)
	}
	return out
}
