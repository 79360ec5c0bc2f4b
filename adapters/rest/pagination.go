package rest

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/cad-sidecar/cad-sidecar/record"
)

// Pagination (cad.rest.poll.pagination). One poll reads pages until the list ends or
// max_pages were read; the records of all its pages are emitted as one batch, whose cursor
// is the list's own only when the list ended: a poll cut short by max_pages keeps the
// host's cursor and stores where it stopped (resume.go), and the next poll goes on from
// there. Nothing read is ever skipped: a page that fails fails the poll, and the next
// poll reads the same pages again.

// pageStyle is how the next page is found.
type pageStyle int

const (
	pageNone   pageStyle = iota // the answer is the whole list
	pageNext                    // a URL in the body (links.next, @odata.nextLink)
	pageLink                    // the RFC 8288 Link header, rel="next"
	pageToken                   // a continuation token in the body, sent back as a query parameter
	pageNumber                  // a page number parameter
	pageOffset                  // an offset parameter
)

func (s pageStyle) String() string {
	return [...]string{"none", "next", "link_header", "token", "page_param", "offset_param"}[s]
}

// styleOf is the configured style; more than one is a Validate problem.
func styleOf(c PaginationConfig) (pageStyle, int) {
	n, st := 0, pageNone
	for _, x := range []struct {
		on bool
		s  pageStyle
	}{
		{c.Next != "", pageNext}, {c.LinkHeader, pageLink}, {c.Token != "", pageToken},
		{c.PageParam != "", pageNumber}, {c.OffsetParam != "", pageOffset},
	} {
		if x.on {
			n++
			st = x.s
		}
	}
	return st, n
}

// position is where a sequence's next page is: a URL (next, link_header), a token, or a
// page number or offset. The zero value is the first page.
type position struct {
	URL   string `json:"url,omitempty"`
	Token string `json:"token,omitempty"`
	N     int    `json:"n,omitempty"`
	// Started: N (and Token) are meaningful; false = the first page.
	Started bool `json:"started,omitempty"`
}

// pager builds page requests and finds the next page in an answer.
type pager struct {
	style pageStyle
	c     PaginationConfig
	base  *url.URL // base_url: a next link must stay on its scheme and host
}

func newPager(c PaginationConfig, baseURL string) *pager {
	st, _ := styleOf(c)
	b, _ := url.Parse(baseURL)
	return &pager{style: st, c: c, base: b}
}

// maxPages is the most pages one poll reads (1 without pagination).
func (p *pager) maxPages() int {
	if p.style == pageNone || p.c.MaxPages <= 0 {
		return 1
	}
	return p.c.MaxPages
}

// request is the path (or absolute URL) of the page at pos of a poll whose first page is
// first (poll.path rendered).
func (p *pager) request(first string, pos position) (string, error) {
	switch p.style {
	case pageNext, pageLink:
		if pos.URL != "" {
			return pos.URL, nil
		}
		return first, nil
	case pageToken:
		if !pos.Started {
			return first, nil
		}
		return withParams(first, p.c.TokenParam, pos.Token)
	case pageNumber, pageOffset:
		n := pos.N
		if !pos.Started {
			n = p.startN()
		}
		param := p.c.PageParam
		if p.style == pageOffset {
			param = p.c.OffsetParam
		}
		kv := []string{param, strconv.Itoa(n)}
		if p.c.SizeParam != "" {
			kv = append(kv, p.c.SizeParam, strconv.Itoa(p.c.PageSize))
		}
		return withParams(first, kv...)
	}
	return first, nil
}

func (p *pager) startN() int {
	if p.style == pageNumber {
		return p.c.FirstPage
	}
	return 0
}

// next finds the page after the one at pos, fetched from full (the absolute URL asked),
// which answered header and doc (the decoded body; nil for CSV) with n records. more is
// false when the list ended: no next link or token, or — for page numbers and offsets — an
// empty page, or a page shorter than page_size when size_param told the CAD the size.
func (p *pager) next(full string, pg page, pos position) (next position, more bool, err error) {
	switch p.style {
	case pageNext, pageLink:
		var link string
		if p.style == pageNext {
			v, ok := bodyLookup(pg.doc, p.c.Next)
			if ok && v != nil {
				link = strings.TrimSpace(record.String(v))
			}
		} else {
			link = nextLink(pg.header["Link"])
		}
		if link == "" {
			return position{}, false, nil
		}
		u, err := p.resolve(full, link)
		if err != nil {
			return position{}, false, err
		}
		if u == full {
			return position{}, false, fmt.Errorf("the next page's link is the page itself (%s): the list would never end", withoutQuery(u))
		}
		return position{URL: u, Started: true}, true, nil
	case pageToken:
		v, ok := bodyLookup(pg.doc, p.c.Token)
		tok := ""
		if ok && v != nil {
			tok = strings.TrimSpace(record.String(v))
		}
		if tok == "" {
			return position{}, false, nil
		}
		if pos.Started && tok == pos.Token {
			return position{}, false, fmt.Errorf("the continuation token did not change: the list would never end")
		}
		return position{Token: tok, Started: true}, true, nil
	case pageNumber, pageOffset:
		if pg.n == 0 || (p.c.SizeParam != "" && pg.n < p.c.PageSize) {
			return position{}, false, nil
		}
		n := pos.N
		if !pos.Started {
			n = p.startN()
		}
		if p.style == pageNumber {
			n++
		} else {
			n += pg.n
		}
		return position{N: n, Started: true}, true, nil
	}
	return position{}, false, nil
}

// resolve makes link (absolute, or relative to the page's URL full) absolute and checks
// that it stays on base_url's scheme and host: the CAD's credentials go with it.
func (p *pager) resolve(full, link string) (string, error) {
	ref, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("the next page's link is not a URL: %w", err)
	}
	cur, err := url.Parse(full)
	if err != nil {
		return "", fmt.Errorf("page URL: %w", err)
	}
	u := cur.ResolveReference(ref)
	if p.base != nil && (!strings.EqualFold(u.Scheme, p.base.Scheme) || !strings.EqualFold(u.Host, p.base.Host)) {
		return "", fmt.Errorf("the next page's link leaves base_url (%s://%s): not followed, the CAD's credentials would go with it", u.Scheme, u.Host)
	}
	return u.String(), nil
}

// bodyLookup finds path in an answer: the whole path as a key of the top-level object
// first ("@odata.nextLink" holds a dot), else the dotted path.
func bodyLookup(doc any, path string) (any, bool) {
	if m, ok := doc.(map[string]any); ok {
		if v, ok := m[path]; ok {
			return v, true
		}
	}
	return record.Lookup(doc, path)
}

// withParams sets query parameters (pairs of name, value) on a path or URL, keeping its
// other parameters.
func withParams(path string, kv ...string) (string, error) {
	base, query, _ := strings.Cut(path, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("query of %s: %w", withoutQuery(path), err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return base + "?" + q.Encode(), nil
}

// nextLink is the target of the first rel="next" link in Link header values (RFC 8288:
// `<uri>; rel="next"; title="…", <uri2>; rel="prev last"`), "" if none.
func nextLink(values []string) string {
	for _, v := range values {
		for len(v) > 0 {
			i := strings.IndexByte(v, '<')
			if i < 0 {
				break
			}
			j := strings.IndexByte(v[i:], '>')
			if j < 0 {
				break
			}
			target := v[i+1 : i+j]
			v = v[i+j+1:]
			// The parameters run to the next comma outside a quoted string.
			params, end := "", len(v)
			inQuote := false
			for k := 0; k < len(v); k++ {
				switch c := v[k]; {
				case c == '\\' && inQuote:
					k++
				case c == '"':
					inQuote = !inQuote
				case c == ',' && !inQuote:
					end = k
					k = len(v)
				}
			}
			params, v = v[:end], v[min(end+1, len(v)):]
			for _, prm := range strings.Split(params, ";") {
				name, val, ok := strings.Cut(strings.TrimSpace(prm), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(name), "rel") {
					continue
				}
				val = strings.Trim(strings.TrimSpace(val), `"`)
				for _, rel := range strings.Fields(val) {
					if strings.EqualFold(rel, "next") {
						return strings.TrimSpace(target)
					}
				}
			}
		}
	}
	return ""
}
