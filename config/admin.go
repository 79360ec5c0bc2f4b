package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// AdminLoopback reports whether admin.listen binds loopback only: an IP literal that is a
// loopback address, or "localhost". An empty host (":9090"), a wildcard or any other name
// is reachable from the network.
func (c *Config) AdminLoopback() bool {
	host, _, err := net.SplitHostPort(c.Admin.Listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// AdminTokenProblem is the reason the sidecar refuses to start with this config's admin
// listener ("" when it may): admin.listen is reachable from the network and admin.token is
// not set, so the admin API (replay, drop, cursor changes, note text) would be open to it.
// `run` refuses (exit 1) and `validate` reports it (exit 2).
func (c *Config) AdminTokenProblem() string {
	if c.Admin.Token != "" || c.AdminLoopback() {
		return ""
	}
	return fmt.Sprintf("admin.listen %q is not a loopback address and admin.token is not set: set admin.token "+
		"(or admin.token_file, or CAD_SIDECAR_ADMIN__TOKEN) to protect the admin API, or listen on 127.0.0.1", c.Admin.Listen)
}
