package rest

import (
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters"
)

func TestValidate(t *testing.T) {
	valid := func() *Config {
		c := NewConfig()
		c.BaseURL = "http://cad.local/api"
		c.Poll.Path = "/incidents?since={{.Cursor}}"
		return c
	}
	if p := Validate(valid()); len(p) != 0 {
		t.Fatalf("valid config: %v", p)
	}
	for _, ok := range []func(c *Config){
		func(c *Config) {
			c.WriteNote.Body = `{"text": {{json .Text}}, "critical": {{.Critical}}, "id": {{json .Key}}}`
		},
		func(c *Config) {
			c.WriteNote.ContentType, c.WriteNote.Body = "application/xml", `<Note critical="{{.Critical}}"><Text>{{xml .Text}}</Text></Note>`
		},
		func(c *Config) { c.WriteNote.ContentType, c.WriteNote.Body = "text/plain", `{{.Text}}` }, // not checked
		func(c *Config) {
			c.WriteNote.ContentType, c.WriteNote.Body = "application/x-www-form-urlencoded", `text={{query .Text}}`
		},
	} {
		c := valid()
		ok(c)
		if p := Validate(c); len(p) != 0 {
			t.Errorf("valid body %q (%s): %v", c.WriteNote.Body, c.WriteNote.ContentType, p)
		}
	}
	for _, tc := range []struct {
		name      string
		edit      func(c *Config)
		key, want string
	}{
		{"no base_url", func(c *Config) { c.BaseURL = "" }, "base_url", "required"},
		{"relative base_url", func(c *Config) { c.BaseURL = "cad.local/api" }, "base_url", `"cad.local/api" is not an absolute http(s) URL`},
		{"ftp base_url", func(c *Config) { c.BaseURL = "ftp://cad.local" }, "base_url", `"ftp://cad.local"`},
		{"bad schedule", func(c *Config) { c.Poll.Schedule = "every 5s" }, "poll.schedule", `"every 5s" is not a valid cron schedule`},
		{"no poll path", func(c *Config) { c.Poll.Path = "" }, "poll.path", "required"},
		{"bad poll template", func(c *Config) { c.Poll.Path = "/i?since={{.Cursor" }, "poll.path", `"/i?since={{.Cursor"`},
		{"unknown field", func(c *Config) { c.WriteNote.Path = "/i/{{.Incident}}/notes" }, "write_note.path", `"/i/{{.Incident}}/notes"`},
		{"unknown func", func(c *Config) { c.WriteNote.Body = "{{html .Text}}x{{nope .Text}}" }, "write_note.body", `function "nope" not defined`},
		{"JSON body not escaped", func(c *Config) { c.WriteNote.Body = `{"text": "{{.Text}}"}` }, "write_note.body", `does not render valid JSON (content_type application/json) for a note whose text has quotes`},
		{"JSON body not quoted", func(c *Config) { c.WriteNote.Body = `{"text": {{.Text}}}` }, "write_note.body", `does not render valid JSON (content_type application/json) for a note:`},
		{"JSON body two values", func(c *Config) { c.WriteNote.Body = `{"text": {{json .Text}}} {}` }, "write_note.body", `more than one JSON value`},
		{"JSON+ content type", func(c *Config) {
			c.WriteNote.ContentType = "application/vnd.cad+json; charset=utf-8"
			c.WriteNote.Body = `{"text": "{{.Text}}"}`
		}, "write_note.body", `does not render valid JSON`},
		{"XML body not escaped", func(c *Config) {
			c.WriteNote.ContentType, c.WriteNote.Body = "application/xml", `<Note><Text>{{.Text}}</Text></Note>`
		}, "write_note.body", `does not render valid XML (content_type application/xml) for a note whose text has quotes`},
		{"XML body two roots", func(c *Config) {
			c.WriteNote.ContentType, c.WriteNote.Body = "text/xml", `<a>{{xml .Text}}</a><b/>`
		}, "write_note.body", `2 root elements`},
		{"bad method", func(c *Config) { c.WriteNote.Method = "GET" }, "write_note.method", `"GET" is not one of POST, PUT, PATCH`},
		{"bad format", func(c *Config) { c.Poll.Format = "yaml" }, "poll.format", `must be one of json | xml | csv, got "yaml"`},
		{"items with csv", func(c *Config) { c.Poll.Format, c.Poll.Items = "csv", "rows" }, "poll.items", `must be empty with poll.format csv (every row is a record), got "rows"`},
		{"timeout", func(c *Config) { c.Timeout = 0 }, "timeout", "must be > 0"},
		{"two auths", func(c *Config) { c.Auth.Bearer = "x"; c.Auth.Basic.Username = "u" }, "auth", "either bearer or basic"},
		{"two page styles", func(c *Config) { c.Poll.Pagination.Next, c.Poll.Pagination.LinkHeader = "links.next", true }, "poll.pagination", "at most one of"},
		{"max pages", func(c *Config) { c.Poll.Pagination.MaxPages = 0 }, "poll.pagination.max_pages", "must be ≥ 1"},
		{"page size", func(c *Config) { c.Poll.Pagination.PageSize = 0 }, "poll.pagination.page_size", "must be ≥ 1"},
		{"token without param", func(c *Config) { c.Poll.Pagination.Token = "next" }, "poll.pagination.token_param", "go together"},
		{"size without page", func(c *Config) { c.Poll.Pagination.SizeParam = "size" }, "poll.pagination.size_param", "only with page_param or offset_param"},
		{"next with csv", func(c *Config) { c.Poll.Format, c.Poll.Pagination.Next = "csv", "next" }, "poll.pagination", "CSV"},
		{"offset without id", func(c *Config) { c.Poll.Pagination.OffsetParam = "offset" }, "poll.id_field", "required with pagination.page_param or offset_param"},
		{"max backoff", func(c *Config) { c.Poll.MaxBackoff = 0 }, "poll.max_backoff", "must be > 0"},
		{"detail template", func(c *Config) { c.Poll.Detail.Path = "/i/{{.Id" }, "poll.detail.path", `"/i/{{.Id"`},
		{"detail concurrency", func(c *Config) { c.Poll.Detail.Path, c.Poll.Detail.Concurrency = "/i/{{.Id}}", 0 }, "poll.detail.concurrency", "must be ≥ 1"},
		{"detail into without path", func(c *Config) { c.Poll.Detail.Into = "d" }, "poll.detail.path", "required when"},
		{"oauth2 and bearer", func(c *Config) {
			c.Auth.Bearer = "x"
			c.Auth.OAuth2 = OAuth2Config{TokenURL: "https://idp/token", ClientID: "a", ClientSecret: "b"}
		}, "auth", "set one of bearer, basic, oauth2 and login"},
		{"oauth2 token url", func(c *Config) { c.Auth.OAuth2 = OAuth2Config{TokenURL: "idp/token", ClientID: "a", ClientSecret: "b"} }, "auth.oauth2.token_url", "not an absolute"},
		{"oauth2 no secret", func(c *Config) { c.Auth.OAuth2 = OAuth2Config{TokenURL: "https://idp/token", ClientID: "a"} }, "auth.oauth2.client_secret", "client_secret_file"},
		{"oauth2 no client id", func(c *Config) { c.Auth.OAuth2 = OAuth2Config{TokenURL: "https://idp/token", ClientSecret: "b"} }, "auth.oauth2.client_id", "required"},
		{"oauth2 no token url", func(c *Config) { c.Auth.OAuth2.ClientID = "a" }, "auth.oauth2.token_url", "required"},
		{"login no token path", func(c *Config) { c.Auth.Login.Path = "/login" }, "auth.login.token_path", "required"},
		{"login bad body", func(c *Config) {
			c.Auth.Login.Path, c.Auth.Login.TokenPath, c.Auth.Login.Body = "/login", "t", "{{.Password}}"
		}, "auth.login.body", "Password"},
		{"login bad format", func(c *Config) {
			c.Auth.Login.Path, c.Auth.Login.TokenPath, c.Auth.Login.Format = "/login", "t", "Bearer {{.Tok}}"
		}, "auth.login.format", "Tok"},
		{"login without path", func(c *Config) { c.Auth.Login.Username = "u" }, "auth.login.path", "required"},
		{"rate negative", func(c *Config) { c.RateLimit.PerSecond = -1 }, "rate_limit.per_second", "must be ≥ 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.edit(c)
			probs := Validate(c)
			if len(probs) != 1 || probs[0].Key != tc.key || !strings.Contains(probs[0].Msg, tc.want) {
				t.Fatalf("problems %+v; want one at %s containing %q", probs, tc.key, tc.want)
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	f, ok := adapters.Lookup(Name)
	if !ok {
		t.Fatal("rest is not registered")
	}
	cfg := f.NewConfig()
	if probs := f.Validate(cfg); len(probs) == 0 {
		t.Fatal("an empty config validated")
	}
	c := cfg.(*Config)
	c.BaseURL = "https://cad.local"
	c.Poll.Path = "/i"
	src, sink, err := f.New(c, adapters.Deps{})
	if err != nil || src == nil || sink == nil {
		t.Fatalf("New: %v", err)
	}
	if sc, ok := src.(interface{ Schedule() string }); !ok || sc.Schedule() != DefaultSchedule {
		t.Fatal("Source does not say its schedule")
	}
	c.BaseURL = ""
	if _, _, err := f.New(c, adapters.Deps{}); err == nil || !strings.Contains(err.Error(), "base_url") {
		t.Fatalf("New with a bad config: %v", err)
	}
}

func TestAuthRedacted(t *testing.T) {
	a := AuthConfig{Bearer: "s3cret"}
	if strings.Contains(a.String(), "s3cret") {
		t.Fatal(a.String())
	}
	a = AuthConfig{Basic: BasicAuth{Username: "u", Password: "s3cret"}}
	if strings.Contains(a.LogValue().String(), "s3cret") {
		t.Fatal(a.LogValue())
	}
}
