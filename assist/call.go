package assist

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// GetCall fetches a call with its summary and transcript (GET /call/{id}) and decodes it
// into a FullCallDto; fields the sidecar does not know are ignored. Failures are classified
// like every other call (a 404 — no such call — is permanent, 5xx and 429 transient) and
// name the path and status, never the answer (which holds caller data): the answer is the
// error's Evidence. A 2xx answer that is not a call is transient, as for the other calls.
func (c *Client) GetCall(ctx context.Context, callID string) (FullCallDto, error) {
	var out FullCallDto
	if callID == "" || callID == "." || callID == ".." {
		return out, delivery.Permanent(fmt.Errorf("assist: get call: invalid callId %q", callID))
	}
	path := "/call/" + url.PathEscape(callID)
	raw, err := c.do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return FullCallDto{}, undecodable(http.MethodGet, path, typeOnly(err))
	}
	return out, nil
}

// typeOnly keeps a decoding error's shape (which field, which type) and drops the value
// that did not fit, which may be caller data.
func typeOnly(err error) error {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Errorf("field %q: %s where %v is expected", te.Field, te.Value, te.Type)
	}
	if _, ok := err.(*json.SyntaxError); ok {
		return fmt.Errorf("not JSON: %w", err)
	}
	return err
}

// FinalSegments returns the call's transcript: the segments marked final, in the order
// they were spoken (startTime; the answer's order for equal times). When Assist marked
// none final, every segment is returned.
func (c FullCallDto) FinalSegments() []CallSegmentDto {
	var out []CallSegmentDto
	for _, s := range c.Segments {
		if s.Final {
			out = append(out, s)
		}
	}
	if out == nil {
		out = append(out, c.Segments...)
	}
	slices.SortStableFunc(out, func(a, b CallSegmentDto) int { return cmp.Compare(a.StartTime, b.StartTime) })
	return out
}
