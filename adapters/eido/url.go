package eido

import "net/url"

// redactURL is u without its query and user info (either may hold a token), for errors and logs.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable url)"
	}
	p.User, p.RawQuery, p.Fragment = nil, "", ""
	return p.String()
}
