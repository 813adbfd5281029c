package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestDialGuardRefusesLoopback pins issue 16 (4): nothing stopped a
// delivery URL from reaching internal addresses. With PublicClient the
// httptest server on 127.0.0.1 is refused, by address or by a name that
// resolves to it, permanently, with an error naming the address and why,
// and the server never hears of it.
func TestDialGuardRefusesLoopback(t *testing.T) {
	srv := newRecordingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	client := PublicClient()
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	channels := map[string]Channel{
		"webhook by address": &Webhook{URL: srv.URL + "/hook", Secret: secret, Client: client},
		"webhook by name":    &Webhook{URL: byName + "/hook", Secret: secret, Client: client},
		"slack":              &Slack{URL: srv.URL + "/services/T/B/X", Client: client},
	}
	for name, ch := range channels {
		err := ch.Send(context.Background(), sampleEvent())
		if !errors.Is(err, ErrRefusedAddress) || !IsPermanent(err) {
			t.Errorf("%s: Send = %v, want a permanent ErrRefusedAddress", name, err)
			continue
		}
		if !strings.Contains(err.Error(), "is a loopback address") || !strings.Contains(err.Error(), "dial guard") {
			t.Errorf("%s: error %q does not say which address was refused and why", name, err)
		}
		if strings.Contains(err.Error(), "/hook") || strings.Contains(err.Error(), "/services") {
			t.Errorf("%s: error %q shows the URL's path", name, err)
		}
	}
	if n := len(srv.requests()); n != 0 {
		t.Fatalf("the guarded server got %d requests", n)
	}
	if err := (&Webhook{URL: srv.URL, Secret: secret, Client: client}).Send(context.Background(), sampleEvent()); !strings.Contains(err.Error(), "127.0.0.1 is a loopback address") {
		t.Errorf("error %q does not name 127.0.0.1", err)
	}
}

// TestDialGuardClassifies holds RefuseNonPublic to the address ranges its
// doc names.
func TestDialGuardClassifies(t *testing.T) {
	refused := map[string]string{
		"127.0.0.1":        "loopback",
		"127.8.9.10":       "loopback",
		"::1":              "loopback",
		"::ffff:127.0.0.1": "loopback",
		"10.1.2.3":         "private",
		"172.16.0.1":       "private",
		"172.31.255.255":   "private",
		"192.168.1.1":      "private",
		"::ffff:10.0.0.1":  "private",
		"fd00::1":          "private",
		"fd00:ec2::254":    "private",
		"169.254.169.254":  "link-local",
		"fe80::1%eth0":     "link-local",
		"0.0.0.0":          "unspecified",
		"::":               "unspecified",
		"224.0.0.1":        "multicast",
		"239.1.1.1":        "multicast",
		"ff02::1":          "multicast",
		"0.1.2.3":          "this network",
		"100.64.0.1":       "carrier-grade NAT",
		"192.0.0.8":        "IETF",
		"198.18.0.1":       "benchmarking",
		"255.255.255.255":  "broadcast",
		"240.0.0.1":        "reserved",
		"fec0::1":          "site-local",
		"::7f00:1":         "IPv4-compatible",
		"64:ff9b::7f00:1":  "loopback address (in NAT64)",
		"2002:a00:1::1":    "private address (in 6to4)",
	}
	for addr, kind := range refused {
		err := RefuseNonPublic("tcp", net.JoinHostPort(addr, "443"), nil)
		if !errors.Is(err, ErrRefusedAddress) || !strings.Contains(err.Error(), kind) {
			t.Errorf("%s: %v, want refused as %s", addr, err, kind)
		}
	}
	for _, addr := range []string{"8.8.8.8", "1.1.1.1", "93.184.216.34", "11.0.0.1", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "2a00:1450:4001::1", "64:ff9b::808:808", "2002:808:808::1"} {
		if err := RefuseNonPublic("tcp", net.JoinHostPort(addr, "443"), nil); err != nil {
			t.Errorf("%s: public address refused: %v", addr, err)
		}
	}
	for _, c := range [][2]string{{"unix", "/run/app.sock"}, {"tcp", "example.com:443"}} {
		if err := RefuseNonPublic(c[0], c[1], nil); !errors.Is(err, ErrRefusedAddress) {
			t.Errorf("%s %s: %v, want refused (not an IP address)", c[0], c[1], err)
		}
	}
}
