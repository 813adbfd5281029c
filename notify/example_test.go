package notify_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/notify"
)

// A notifier with a signed webhook for the payments team and a log of
// everything, holding back incidents shorter than 30 seconds.
func Example() {
	reg, _ := core.NewRegistry()
	n, err := notify.New(reg,
		notify.WithChannel("payments-hook", &notify.Webhook{
			URL:    "https://hooks.example.com/breakerbox",
			Secret: []byte(os.Getenv("WEBHOOK_SECRET") + "example"),
		}),
		notify.WithChannel("log", notify.Slog{}),
		notify.WithRules(
			notify.Rule{
				Name:     "payments-oncall",
				Guards:   []string{"payments.*"},
				MinOpen:  core.Duration(30 * time.Second),
				Channels: []string{"payments-hook"},
			},
			notify.Rule{Name: "audit", On: []notify.Kind{notify.Opened, notify.HalfOpen, notify.ForcedOpen, notify.Resolved}, Channels: []string{"log"}},
		),
		notify.WithDashboardURL("https://ops.example.com/breakerbox/?guard={guard}"),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { _ = n.Run(ctx) }() // delivers until ctx ends, then drains
	fmt.Println("notifying")
	// Output: notifying
}

// A receiving handler verifies the signature and decodes the event (then
// de-duplicates by its ID, which this one does not show).
func ExampleVerifyRequest() {
	secret := []byte("shared secret")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := notify.VerifyRequest(r, secret, 0)
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "got %s for %s\n", e.Type, e.Guard)
	})

	body := `{"version":1,"id":"e1","type":"opened","guard":"payments"}`
	for _, signedWith := range []string{"shared secret", "another secret"} {
		req := httptest.NewRequest("POST", "/hooks/breakerbox", strings.NewReader(body))
		req.Header.Set(notify.SignatureHeader, notify.Sign([]byte(signedWith), time.Now(), []byte(body)))
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body)
	}
	// Output:
	// 200 got opened for payments
	// 401 bad signature
}

// Sign and Verify are the two halves of the signature scheme.
func ExampleVerify() {
	secret := []byte("shared secret")
	body := []byte(`{"version":1,"type":"opened","guard":"payments"}`)
	header := notify.Sign(secret, time.Now(), body)

	fmt.Println(notify.Verify(secret, header, body, 0))
	fmt.Println(notify.Verify(secret, header, []byte(`{"tampered":true}`), 0))
	// Output:
	// <nil>
	// notify: signature does not match
}

// Any function can be a channel; here one that prints what it gets.
func ExampleChannelFunc() {
	reg, _ := core.NewRegistry()
	printer := notify.ChannelFunc(func(_ context.Context, e *notify.Event) error {
		fmt.Println(e.Guard, e.Type, "by", e.Actor)
		return nil
	})
	n, _ := notify.New(reg, notify.WithChannel("print", printer))
	_ = n.Start()
	g := reg.MustGuard("search")
	g.ForceOpen(breaker.Manual{Actor: "alice", Reason: "reindexing"})
	g.Release(breaker.Manual{Actor: "alice"})
	_ = n.Close(context.Background()) // delivers what is queued
	// Output:
	// search forced-open by alice
	// search resolved by alice
}

// Slog logs events; a JSON handler gives structured records.
func ExampleSlog() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "event.id" || a.Key == "incident.id" {
				return slog.Attr{}
			}
			return a
		},
	}))
	reg, _ := core.NewRegistry()
	n, _ := notify.New(reg, notify.WithChannel("log", notify.Slog{Logger: logger}))
	_ = n.Start()
	reg.MustGuard("db").ForceOpen(breaker.Manual{Actor: "bob", Reason: "failover"})
	_ = n.Close(context.Background())
	// Output:
	// level=WARN msg="db forced-open" event.type=forced-open rule=default guard=db from=closed to=forced-open reason=failover actor=bob
}

// Where tenants or a configuration API choose the URLs, a client from
// PublicClient refuses internal destinations after name resolution. The
// error names the URL by scheme and host only, never its path or query.
func ExamplePublicClient() {
	w := &notify.Webhook{
		URL:    "http://127.0.0.1:9/hooks/T0SECRET?token=abc",
		Secret: []byte("shared secret"),
		Client: notify.PublicClient(),
	}
	err := w.Send(context.Background(), &notify.Event{ID: "e1", Type: notify.Opened, Guard: "payments"})
	fmt.Println(errors.Is(err, notify.ErrRefusedAddress), notify.IsPermanent(err))
	fmt.Println(err)
	// Output:
	// true true
	// notify: POST http://127.0.0.1:9: dial tcp 127.0.0.1:9: notify: dial guard refused the address: 127.0.0.1 is a loopback address
}

// The dial guard on a transport of your own: every connection's address
// is checked after name resolution.
func ExampleRefuseNonPublic() {
	d := &net.Dialer{Control: notify.RefuseNonPublic}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}

	w := &notify.Webhook{URL: "http://169.254.169.254/latest", Secret: []byte("shared secret"), Client: client}
	err := w.Send(context.Background(), &notify.Event{ID: "e1", Type: notify.Opened, Guard: "payments"})
	fmt.Println(errors.Is(err, notify.ErrRefusedAddress))
	fmt.Println(err)
	// Output:
	// true
	// notify: POST http://169.254.169.254: dial tcp 169.254.169.254:80: notify: dial guard refused the address: 169.254.169.254 is a link-local address
}
