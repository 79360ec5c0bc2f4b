package sim

import (
	"cmp"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Paging styles of a CADAPI's incident list.
const (
	PageNext   = "next"   // {"data":[…], "links":{"next":"/api/v2/incidents?…"}} (a relative link)
	PageOData  = "odata"  // {"value":[…], "@odata.nextLink":"http://host/api/v2/incidents?…"}
	PageLink   = "link"   // {"data":[…]} and Link: <…>; rel="next"
	PageToken  = "token"  // {"data":[…], "nextPageToken":"…"}; sent back as ?pageToken=
	PageNumber = "page"   // ?page=1,2,… &size=N (1-based)
	PageOffset = "offset" // ?offset=0,N,… &limit=N
)

// CADAPIOptions configure a CADAPI.
type CADAPIOptions struct {
	// Paging is the list's paging style (PageNext, …); "" = PageNext.
	Paging string
	// PageSize is the server's page size for the styles whose links it makes (next,
	// odata, link, token); page and offset take the client's size/limit (default 100).
	PageSize int
	// EmptyLastPage: a last page that is full still links to one more page, empty.
	EmptyLastPage bool
	// Summary: the list holds only {"Id", "updated"}; the record is GET /api/v2/incidents/{id}.
	Summary bool
	// OAuth2: every /api/v2 request needs a bearer token from POST /oauth/token
	// (client_credentials with this client) that has not expired nor been revoked.
	OAuth2 *OAuth2Client
	// Login: every /api/v2 request needs the X-Session header holding a token from
	// POST /api/v2/login {"username","password"} → {"session":{"token":"…"}}.
	Login *LoginUser
}

// OAuth2Client is the one client a CADAPI's token endpoint knows.
type OAuth2Client struct {
	ID, Secret string
	// TTL is the tokens' lifetime (expires_in); 0 = one hour.
	TTL time.Duration
}

// LoginUser is the one user a CADAPI's login endpoint knows.
type LoginUser struct{ Username, Password string }

// CADAPI is a vendor-style CAD API in front of a CAD's incidents and notes: a paged
// incident list, per-incident details, OAuth2 client credentials or a session login, rate
// limiting on demand:
//
//	POST /oauth/token                   grant_type=client_credentials → {"access_token","token_type","expires_in"}
//	POST /api/v2/login                  {"username","password"} → {"session":{"token"}}
//	GET  /api/v2/incidents?since=N      the incidents with updated > N, oldest change first, paged
//	GET  /api/v2/incidents/{id}         one incident
//	POST /api/v2/incidents/{id}/notes   as the CAD's
//
// The list is computed afresh for every page, as a live database answers: an incident
// that changes while a client pages moves to the end and the others shift (BeforePage).
type CADAPI struct {
	cad *CAD
	o   CADAPIOptions
	mux *http.ServeMux

	mu         sync.Mutex
	tokens     map[string]time.Time // access or session token → expiry
	issued     []string             // every token issued, revoked ones too
	scopes     []string             // of the last token request
	beforePage func(page int) int
	failDetail map[string]int // incident id → status its detail answers
	throttle   int            // list requests still to answer 429
	retryAfter string
	details    map[string]int // incident id → detail requests served

	listReqs, tokenReqs, logins, unauthorized atomic.Int64
	pageDelay, detailDelay                    atomic.Int64
	inFlight, maxInFlight                     atomic.Int64 // detail requests
}

// NewCADAPI serves cad's incidents and notes as a vendor API.
func NewCADAPI(cad *CAD, o CADAPIOptions) *CADAPI {
	if o.Paging == "" {
		o.Paging = PageNext
	}
	if o.PageSize <= 0 {
		o.PageSize = 100
	}
	a := &CADAPI{cad: cad, o: o, tokens: map[string]time.Time{}, failDetail: map[string]int{}, details: map[string]int{}}
	a.mux = http.NewServeMux()
	a.mux.HandleFunc("POST /oauth/token", a.token)
	a.mux.HandleFunc("POST /api/v2/login", a.login)
	a.mux.HandleFunc("GET /api/v2/incidents", a.authed(a.list))
	a.mux.HandleFunc("GET /api/v2/incidents/{id}", a.authed(a.detail))
	a.mux.HandleFunc("POST /api/v2/incidents/{id}/notes", a.authed(a.cad.postNote))
	return a
}

// CAD is the CAD whose incidents and notes the API serves.
func (a *CADAPI) CAD() *CAD { return a.cad }

// ServeHTTP serves the API (503 with Retry-After: 1 while the CAD is down).
func (a *CADAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.cad.down.Load() {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "CAD is down for maintenance", http.StatusServiceUnavailable)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// BeforePage makes the list call f(n) before it serves page n ≥ 2 of a read: the test
// changes the CAD between two pages. A status f returns other than 0 is the page's answer
// (a page that fails).
func (a *CADAPI) BeforePage(f func(page int) (status int)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.beforePage = f
}

// FailDetail makes GET /api/v2/incidents/{id} answer status (0 = serve it again).
func (a *CADAPI) FailDetail(id string, status int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if status == 0 {
		delete(a.failDetail, id)
		return
	}
	a.failDetail[id] = status
}

// Throttle makes the next n list requests answer 429 with this Retry-After.
func (a *CADAPI) Throttle(n int, retryAfter string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.throttle, a.retryAfter = n, retryAfter
}

// SetPageDelay makes each list page wait d before it is answered.
func (a *CADAPI) SetPageDelay(d time.Duration) { a.pageDelay.Store(int64(d)) }

// SetDetailDelay makes each detail request wait d before it is answered.
func (a *CADAPI) SetDetailDelay(d time.Duration) { a.detailDelay.Store(int64(d)) }

// AllDetailRequests is the number of detail requests served, for every incident.
func (a *CADAPI) AllDetailRequests() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.details {
		n += c
	}
	return n
}

// MaxDetailsInFlight is the most detail requests that were served at once.
func (a *CADAPI) MaxDetailsInFlight() int { return int(a.maxInFlight.Load()) }

// RevokeTokens revokes every token issued so far (the next request with one is 401).
func (a *CADAPI) RevokeTokens() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.tokens)
}

// TokenRequests is the number of tokens issued (OAuth2) plus logins accepted.
func (a *CADAPI) TokenRequests() int { return int(a.tokenReqs.Load() + a.logins.Load()) }

// Unauthorized is the number of /api/v2 requests answered 401.
func (a *CADAPI) Unauthorized() int { return int(a.unauthorized.Load()) }

// ListRequests is the number of list pages served (429s included).
func (a *CADAPI) ListRequests() int { return int(a.listReqs.Load()) }

// IssuedTokens are all the tokens issued, revoked and expired ones too.
func (a *CADAPI) IssuedTokens() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.issued)
}

// Scopes are the scopes of the last token request.
func (a *CADAPI) Scopes() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.scopes)
}

// DetailRequests is the number of detail requests for incident id.
func (a *CADAPI) DetailRequests(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.details[id]
}

func (a *CADAPI) newToken(ttl time.Duration) string {
	var b [18]byte
	a.cad.mu.Lock()
	for i := range b {
		b[i] = byte(a.cad.rng.UintN(256))
	}
	a.cad.mu.Unlock()
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	a.mu.Lock()
	a.tokens[tok] = time.Now().Add(ttl)
	a.issued = append(a.issued, tok)
	a.mu.Unlock()
	return tok
}

func (a *CADAPI) token(w http.ResponseWriter, r *http.Request) {
	oc := a.o.OAuth2
	if oc == nil {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(oc.ID)) != 1 || subtle.ConstantTimeCompare([]byte(secret), []byte(oc.Secret)) != 1 {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	ttl := cmp.Or(oc.TTL, time.Hour)
	a.mu.Lock()
	a.scopes = strings.Fields(r.PostForm.Get("scope"))
	a.mu.Unlock()
	a.tokenReqs.Add(1)
	writeJSON(w, http.StatusOK, map[string]any{"access_token": a.newToken(ttl), "token_type": "Bearer", "expires_in": int(ttl / time.Second)})
}

func (a *CADAPI) login(w http.ResponseWriter, r *http.Request) {
	lu := a.o.Login
	if lu == nil {
		http.NotFound(w, r)
		return
	}
	var in struct{ Username, Password string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&in); err != nil {
		http.Error(w, "body must be {\"username\",\"password\"}", http.StatusBadRequest)
		return
	}
	if in.Username != lu.Username || subtle.ConstantTimeCompare([]byte(in.Password), []byte(lu.Password)) != 1 {
		http.Error(w, "wrong username or password", http.StatusUnauthorized)
		return
	}
	a.logins.Add(1)
	writeJSON(w, http.StatusOK, map[string]any{"session": map[string]string{"token": a.newToken(time.Hour)}})
}

// authed checks the request's token when the API wants one.
func (a *CADAPI) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var tok string
		switch {
		case a.o.OAuth2 != nil:
			tok, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		case a.o.Login != nil:
			tok = r.Header.Get("X-Session")
		default:
			h(w, r)
			return
		}
		a.mu.Lock()
		exp, ok := a.tokens[tok]
		a.mu.Unlock()
		if tok == "" || !ok || time.Now().After(exp) {
			a.unauthorized.Add(1)
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "invalid or expired token", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

// changed is the incidents with updated > since, oldest change first, as served now.
func (a *CADAPI) changed(since int64) []CADIncident {
	a.cad.mu.Lock()
	var data []CADIncident
	for _, id := range a.cad.order {
		if inc := a.cad.incidents[id]; inc.Updated > since {
			data = append(data, *inc)
		}
	}
	a.cad.mu.Unlock()
	slices.SortFunc(data, func(x, y CADIncident) int { return cmp.Compare(x.Updated, y.Updated) })
	return data
}

func (a *CADAPI) list(w http.ResponseWriter, r *http.Request) {
	a.listReqs.Add(1)
	a.mu.Lock()
	if a.throttle > 0 {
		a.throttle--
		ra := a.retryAfter
		a.mu.Unlock()
		if ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		http.Error(w, "too many requests", http.StatusTooManyRequests)
		return
	}
	before := a.beforePage
	a.mu.Unlock()
	q := r.URL.Query()
	var since int64
	if s := q.Get("since"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			http.Error(w, fmt.Sprintf("since: %q is not a number", s), http.StatusBadRequest)
			return
		}
		since = n
	}
	// Where the page starts (an offset into the list) and how long it is.
	size, offset, pageNo := a.o.PageSize, 0, 1
	num := func(name string, def int) (int, bool) {
		v := q.Get(name)
		if v == "" {
			return def, true
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, fmt.Sprintf("%s: %q is not a number ≥ 0", name, v), http.StatusBadRequest)
			return 0, false
		}
		return n, true
	}
	var ok bool
	switch a.o.Paging {
	case PageNumber:
		if size, ok = num("size", 100); !ok {
			return
		}
		if pageNo, ok = num("page", 1); !ok {
			return
		}
		if pageNo < 1 || size < 1 {
			http.Error(w, "page and size start at 1", http.StatusBadRequest)
			return
		}
		offset = (pageNo - 1) * size
	case PageOffset:
		if size, ok = num("limit", 100); !ok {
			return
		}
		if offset, ok = num("offset", 0); !ok {
			return
		}
	case PageToken:
		if t := q.Get("pageToken"); t != "" {
			b, err := base64.RawURLEncoding.DecodeString(t)
			if err != nil {
				http.Error(w, "pageToken: not a token of ours", http.StatusBadRequest)
				return
			}
			if offset, err = strconv.Atoi(strings.TrimPrefix(string(b), "o:")); err != nil {
				http.Error(w, "pageToken: not a token of ours", http.StatusBadRequest)
				return
			}
		}
	default:
		if offset, ok = num("offset", 0); !ok {
			return
		}
	}
	if size > 0 {
		pageNo = offset/size + 1
	}
	if pageNo >= 2 && before != nil {
		if st := before(pageNo); st != 0 {
			http.Error(w, "page failed", st)
			return
		}
	}
	if d := time.Duration(a.pageDelay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	all := a.changed(since)
	end := min(offset+size, len(all))
	var items []any
	for _, inc := range all[min(offset, len(all)):end] {
		if a.o.Summary {
			items = append(items, map[string]any{"Id": strconv.FormatInt(inc.IncidentNumber, 10), "updated": inc.Updated})
		} else {
			items = append(items, inc)
		}
	}
	if items == nil {
		items = []any{}
	}
	more := end < len(all) || (a.o.EmptyLastPage && end-offset == size && offset < len(all))
	nextQuery := func() string {
		v := url.Values{}
		v.Set("since", strconv.FormatInt(since, 10))
		v.Set("offset", strconv.Itoa(end))
		return v.Encode()
	}
	body := map[string]any{"data": items}
	switch a.o.Paging {
	case PageNext:
		links := map[string]any{"self": r.URL.RequestURI()}
		if more {
			links["next"] = "/api/v2/incidents?" + nextQuery()
		}
		body["links"] = links
	case PageOData:
		body = map[string]any{"value": items}
		if more {
			body["@odata.nextLink"] = "http://" + r.Host + "/api/v2/incidents?" + nextQuery()
		}
	case PageLink:
		if more {
			w.Header().Add("Link", `</api/v2/incidents?`+nextQuery()+`>; rel="next"; title="next, page"`)
		}
		w.Header().Add("Link", `</api/v2/incidents?since=0>; rel="first"`)
	case PageToken:
		if more {
			body["nextPageToken"] = base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(end)))
		}
	}
	writeJSON(w, http.StatusOK, body)
}

func (a *CADAPI) detail(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a.mu.Lock()
	a.details[id]++
	status := a.failDetail[id]
	a.mu.Unlock()
	n := a.inFlight.Add(1)
	defer a.inFlight.Add(-1)
	for m := a.maxInFlight.Load(); n > m && !a.maxInFlight.CompareAndSwap(m, n); m = a.maxInFlight.Load() {
	}
	if d := time.Duration(a.detailDelay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		http.Error(w, "detail unavailable", status)
		return
	}
	a.cad.get(w, r)
}
