package notify

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/core/breaker"
)

// Secret parts of the delivery URLs below: user info, Slack-style path,
// token in the query.
var urlSecrets = []string{"hookuser", "hookpass", "T0SECRET", "B0SECRET", "XSECRET", "QSECRET", "/services"}

const secretPathQuery = "/services/T0SECRET/B0SECRET/XSECRET?token=QSECRET"

// withSecrets returns srvURL with user info, a secret path and a token.
func withSecrets(srvURL string) string {
	return strings.Replace(srvURL, "http://", "http://hookuser:hookpass@", 1) + secretPathQuery
}

func assertNoURLSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, x := range urlSecrets {
		if strings.Contains(s, x) {
			t.Errorf("%s shows %q of a delivery URL:\n%s", what, x, s)
		}
	}
}

// TestDeadLetterLogHidesDeliveryURLSecrets pins issue 16 (5): the
// dead-letter log and the channels' errors printed full delivery URLs
// (net/http's *url.Error names the whole URL), and with them Slack's secret
// path, tokens in queries and user info. Now they show scheme://host only:
// in New's errors, in Send's errors, and in both built-in dead-letter sinks.
func TestDeadLetterLogHidesDeliveryURLSecrets(t *testing.T) {
	for _, bad := range []Channel{
		&Webhook{URL: "hooks.example.com" + secretPathQuery, Secret: secret},
		&Webhook{URL: "ftp://hookuser:hookpass@hooks.example.com" + secretPathQuery, Secret: secret},
		&Slack{URL: "http://hookuser:hookpass@hooks.example.com/services/%zzT0SECRET?token=QSECRET"},
	} {
		_, err := New(newTestRegistry(t), WithChannel("bad", bad))
		if err == nil {
			t.Fatalf("New accepted %+v", bad)
		}
		assertNoURLSecrets(t, "New's error", err.Error())
	}

	// A server that drops the connection (a transport error, *url.Error)
	// and one that answers 400 echoing the URL it was called with.
	abort := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	defer abort.Close()
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no hook at http://"+r.Host+r.URL.RequestURI()+" (path "+r.URL.Path+", query "+r.URL.RawQuery+")", http.StatusBadRequest)
	}))
	defer echo.Close()
	channels := map[string]Channel{
		"hook-abort":  &Webhook{URL: withSecrets(abort.URL), Secret: secret},
		"slack-abort": &Slack{URL: withSecrets(abort.URL)},
		"hook-echo":   &Webhook{URL: withSecrets(echo.URL), Secret: secret},
		"slack-echo":  &Slack{URL: withSecrets(echo.URL)},
	}
	for name, ch := range channels {
		err := ch.Send(context.Background(), sampleEvent())
		if err == nil {
			t.Fatalf("%s: Send succeeded", name)
		}
		assertNoURLSecrets(t, name+": Send's error", err.Error())
	}

	var logged, lines bytes.Buffer
	logSink := logDeadLetters(slog.New(slog.NewTextHandler(&logged, nil)))
	jsonSink := JSONLines(&lines)
	dl := &deadLetters{}
	opts := []Option{WithDeadLetters(DeadLetterFunc(func(d DeadLetter) {
		logSink.DeadLetter(d)
		jsonSink.DeadLetter(d)
		dl.DeadLetter(d)
	}))}
	for name, ch := range channels {
		opts = append(opts, WithChannel(name, ch, noLimit, fastRetries))
	}
	reg := newTestRegistry(t)
	n, err := New(reg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("payments").ForceOpen(breaker.Manual{})
	drain(t, n)

	ds := dl.all()
	if len(ds) != len(channels) {
		t.Fatalf("%d dead letters, want %d", len(ds), len(channels))
	}
	for _, d := range ds {
		assertNoURLSecrets(t, d.Channel+": dead letter's error", d.Err.Error())
	}
	assertNoURLSecrets(t, "the dead-letter log", logged.String())
	assertNoURLSecrets(t, "the JSON-lines dead letters", lines.String())
	// Scheme and host remain, to tell the destinations apart.
	for _, srv := range []string{abort.URL, echo.URL} {
		if !strings.Contains(logged.String(), srv) {
			t.Errorf("the dead-letter log does not name %s:\n%s", srv, logged.String())
		}
	}
}
