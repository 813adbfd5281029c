package notify

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrRefusedAddress matches the error of a connection that RefuseNonPublic
// (and so PublicClient) refused. A delivery that fails with it is not
// retried.
var ErrRefusedAddress = errors.New("notify: dial guard refused the address")

// RefuseNonPublic is a dial guard, for net.Dialer's Control field: it
// refuses every connection to an address that is not public, that is
// loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
// (169.254/16, which holds cloud metadata services, and fe80::/10),
// unspecified, multicast, or otherwise special (0/8, 100.64/10 shared by
// carrier-grade NAT, 192.0.0/24, 198.18/15, 240/4 and broadcast,
// deprecated site-local fec0::/10 and IPv4-compatible ::/96), including
// IPv4 addresses inside IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4
// (2002::/16) IPv6 addresses. The error matches ErrRefusedAddress and
// names the address and its kind.
//
// Control runs for every connection the dialer makes, with the address it
// is about to connect to, after name resolution: a host name that resolves
// to an internal address, first or on a later lookup (DNS rebinding), is
// refused all the same.
//
// Turn it on where the destination URLs come from people who should not
// reach the internal network (tenants, a configuration API): through
// PublicClient, or on your own transport:
//
//	d := &net.Dialer{Control: notify.RefuseNonPublic}
//	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
//
// A proxy defeats it (the guard sees the proxy's address), so a guarded
// transport should have no Proxy.
func RefuseNonPublic(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q (%s) is not an IP address and port", ErrRefusedAddress, address, network)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %q (%s) is not an IP address", ErrRefusedAddress, host, network)
	}
	if kind := nonPublic(ip); kind != "" {
		return fmt.Errorf("%w: %s is %s", ErrRefusedAddress, ip, kind)
	}
	return nil
}

// PublicClient returns a new HTTP client for Webhook and Slack channels
// whose connections go to public addresses only (RefuseNonPublic). Its
// transport uses no proxy (a proxy would hide the destination from the
// guard) and otherwise has the settings of http.DefaultTransport. Share one
// client among channels, so that they share its connections.
func PublicClient() *http.Client {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: RefuseNonPublic}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

// specialPrefixes are ranges that are neither loopback, private,
// link-local, unspecified nor multicast but are not public destinations
// either.
var specialPrefixes = []struct {
	p    netip.Prefix
	kind string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `a "this network" address`},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (carrier-grade NAT) address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved or broadcast address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("::/96"), "an IPv4-compatible address"},
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// nonPublic describes a non-public address ("a loopback address"), or
// returns "" for a public one.
func nonPublic(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			if k := nonPublic(netip.AddrFrom4([4]byte(b[12:16]))); k != "" {
				return k + " (in NAT64)"
			}
		case sixToFour.Contains(ip):
			if k := nonPublic(netip.AddrFrom4([4]byte(b[2:6]))); k != "" {
				return k + " (in 6to4)"
			}
		}
	}
	switch {
	case !ip.IsValid():
		return "an invalid address"
	case ip.IsUnspecified():
		return "an unspecified address"
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsPrivate():
		return "a private address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address"
	case ip.IsMulticast():
		return "a multicast address"
	}
	for _, s := range specialPrefixes {
		if s.p.Contains(ip) {
			return s.kind
		}
	}
	return ""
}
