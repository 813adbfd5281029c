package smtptest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/notify"
)

// mailpit is a running mailpit server.
type mailpit struct {
	smtp string // host:port
	api  string // http://host:port
	cert *x509.Certificate
}

// findMailpit returns the mailpit binary: on PATH or in GOPATH/bin, where
// `go install` puts it. Without it the test is skipped, except on CI.
func findMailpit(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "mailpit")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := "mailpit not installed (go install github.com/axllent/mailpit@v1.33.1; .ci/run does it)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (*x509.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mailpit test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}

// startMailpit runs mailpit on loopback ports with STARTTLS required and
// one account, alerts/hunter2, and waits until its API answers.
func startMailpit(t *testing.T) *mailpit {
	t.Helper()
	bin := findMailpit(t)
	dir := t.TempDir()
	cert, certFile, keyFile := selfSigned(t, dir)
	auth := filepath.Join(dir, "auth")
	if err := os.WriteFile(auth, []byte("alerts:hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &mailpit{smtp: freePort(t), cert: cert}
	httpAddr := freePort(t)
	m.api = "http://" + httpAddr
	cmd := exec.Command(bin,
		"--database", filepath.Join(dir, "mailpit.db"),
		"--smtp", m.smtp, "--listen", httpAddr,
		"--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile, "--smtp-require-starttls",
		"--smtp-auth-file", auth, "--smtp-disable-rdns", "--quiet")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	// Wait (bounded) for the API; this polls readiness, it measures nothing.
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("mailpit exited: %v\n%s", err, out.String())
		default:
		}
		resp, err := http.Get(m.api + "/api/v1/messages")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if c, err := net.Dial("tcp", m.smtp); err == nil {
					c.Close()
					return m
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit did not start:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *mailpit) tlsConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(m.cert)
	return &tls.Config{RootCAs: pool}
}

type summary struct {
	ID      string
	Subject string
	From    struct{ Address string }
	To      []struct{ Address string }
}

// messages lists the messages mailpit holds, newest first.
func (m *mailpit) messages(t *testing.T, query string) []summary {
	t.Helper()
	path := "/api/v1/messages"
	if query != "" {
		path = "/api/v1/search?query=" + url.QueryEscape(query)
	}
	resp, err := http.Get(m.api + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct{ Messages []summary }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	return list.Messages
}

// message reads one message's text and headers.
func (m *mailpit) message(t *testing.T, id string) (text string, headers map[string][]string) {
	t.Helper()
	resp, err := http.Get(m.api + "/api/v1/message/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var msg struct{ Text string }
	if err := json.NewDecoder(resp.Body).Decode(&msg); err != nil {
		t.Fatal(err)
	}
	hr, err := http.Get(m.api + "/api/v1/message/" + id + "/headers")
	if err != nil {
		t.Fatal(err)
	}
	defer hr.Body.Close()
	if err := json.NewDecoder(hr.Body).Decode(&headers); err != nil {
		t.Fatal(err)
	}
	return msg.Text, headers
}

type deadLetters struct {
	mu sync.Mutex
	ds []notify.DeadLetter
}

func (d *deadLetters) DeadLetter(x notify.DeadLetter) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ds = append(d.ds, x)
}

// TestEmailThroughMailpit sends a forced-open and its resolution through
// a notifier's Email channel (STARTTLS, PLAIN auth) and reads both back.
func TestEmailThroughMailpit(t *testing.T) {
	m := startMailpit(t)
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "p", Match: []string{"*"}, Tags: []string{"stripe"}}))
	if err != nil {
		t.Fatal(err)
	}
	dl := &deadLetters{}
	n, err := notify.New(reg,
		notify.WithChannel("mail", &notify.Email{
			Addr:      m.smtp,
			From:      "breakerbox <alerts@example.com>",
			To:        []string{"oncall@example.com", "Team Lead <lead@example.com>"},
			Username:  "alerts",
			Password:  "hunter2",
			TLSConfig: m.tlsConfig(),
		}),
		notify.WithDeadLetters(dl),
		notify.WithDashboardURL("https://ops.example.com/bbx/?guard={guard}"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("payments.charge")
	g.ForceOpen(breaker.Manual{Actor: "alice", Reason: "provider maintenance"})
	g.Release(breaker.Manual{Actor: "alice", Reason: "maintenance over"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(dl.ds) > 0 {
		t.Fatalf("dead letters: %+v", dl.ds)
	}
	if s := n.Stats().Channels[0]; s.Delivered != 2 {
		t.Fatalf("stats %+v", s)
	}

	msgs := m.messages(t, "")
	if len(msgs) != 2 {
		t.Fatalf("mailpit holds %d messages, want 2", len(msgs))
	}
	subjects := map[string]summary{}
	for _, s := range msgs {
		subjects[s.Subject] = s
	}
	opened, ok := subjects["[breakerbox] payments.charge forced-open"]
	if !ok {
		t.Fatalf("subjects %v", subjects)
	}
	resolved := false
	for subject := range subjects {
		// "resolved after <duration>" when the incident lasted >= 1ms.
		resolved = resolved || strings.HasPrefix(subject, "[breakerbox] payments.charge resolved")
	}
	if !resolved {
		t.Fatalf("no resolved message among %v", subjects)
	}
	if opened.From.Address != "alerts@example.com" || len(opened.To) != 2 || opened.To[1].Address != "lead@example.com" {
		t.Errorf("addresses %+v", opened)
	}
	text, headers := m.message(t, opened.ID)
	for _, want := range []string{"State: forced-open", "Reason: provider maintenance", "By: alice", "Tags: stripe",
		"Dashboard: https://ops.example.com/bbx/?guard=payments.charge"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if id := headers["X-Breakerbox-Event-Id"]; len(id) != 1 || len(id[0]) != 32 {
		t.Errorf("event id header %v", id)
	}
}

// TestEmailRefusals: a wrong password and an untrusted certificate fail,
// the first permanently (535), and nothing arrives.
func TestEmailRefusals(t *testing.T) {
	m := startMailpit(t)
	e := &notify.Event{Version: 1, ID: "x", Type: notify.Opened, Guard: "g", To: breaker.Open, At: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	wrong := &notify.Email{Addr: m.smtp, From: "a@example.com", To: []string{"b@example.com"}, Username: "alerts", Password: "nope", TLSConfig: m.tlsConfig()}
	if err := wrong.Send(ctx, e); err == nil || !notify.IsPermanent(err) {
		t.Errorf("wrong password: %v, want a permanent error", err)
	}
	untrusted := &notify.Email{Addr: m.smtp, From: "a@example.com", To: []string{"b@example.com"}, Username: "alerts", Password: "hunter2"}
	if err := untrusted.Send(ctx, e); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v", err)
	}
	if n := len(m.messages(t, "")); n != 0 {
		t.Errorf("%d messages arrived", n)
	}
}
