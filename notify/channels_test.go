package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

func sampleEvent() *Event {
	rate := 62.5
	return &Event{
		Version: 1, ID: "0123abcd", Type: Opened, Sequence: 3, Rule: "oncall", Guard: "payments.charge",
		Tags: []string{"stripe"}, From: breaker.Closed, To: breaker.Open,
		Reason: "failure rate 62.5% >= 50% over 40 calls", At: t0, FailureRate: &rate,
		OpenUntil: t0.Add(30 * time.Second), IncidentID: "inc1", IncidentStart: t0,
		DashboardURL: "https://ops.example.com/bbx/?guard=payments.charge",
	}
}

func TestSlack(t *testing.T) {
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		got = append(got, m)
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	s := &Slack{URL: srv.URL, Channel: "#oncall", Username: "breakerbox", Client: srv.Client()}
	if err := s.Send(context.Background(), sampleEvent()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatal("no message")
	}
	m := got[0]
	if m["text"] != ":red_circle: *payments.charge opened* <https://ops.example.com/bbx/?guard=payments.charge|dashboard>" {
		t.Errorf("text %q", m["text"])
	}
	if m["channel"] != "#oncall" || m["username"] != "breakerbox" {
		t.Errorf("overrides %v %v", m["channel"], m["username"])
	}
	a := m["attachments"].([]any)[0].(map[string]any)
	if a["color"] != "#d40e0d" || a["title_link"] != "https://ops.example.com/bbx/?guard=payments.charge" {
		t.Errorf("attachment %v", a)
	}
	fields := map[string]string{}
	for _, f := range a["fields"].([]any) {
		f := f.(map[string]any)
		fields[f["title"].(string)] = f["value"].(string)
	}
	want := map[string]string{
		"State": "open", "Reason": "failure rate 62.5% &gt;= 50% over 40 calls", "Failure rate": "62.5%",
		"Probing at": "2026-01-02T03:04:35Z", "Tags": "stripe",
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("field %q = %q, want %q", k, fields[k], v)
		}
	}

	// A 4xx answer (a revoked webhook) is permanent.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no_service", http.StatusNotFound)
	}))
	defer bad.Close()
	err := (&Slack{URL: bad.URL}).Send(context.Background(), sampleEvent())
	if !IsPermanent(err) || !strings.Contains(err.Error(), "404: no_service") {
		t.Errorf("404: %v", err)
	}
}

func TestSlackResolvedTitle(t *testing.T) {
	e := sampleEvent()
	e.Type, e.From, e.To, e.IncidentDuration = Resolved, breaker.HalfOpen, breaker.Closed, core.Duration(250*time.Second+time.Millisecond)
	if got := e.Title(); got != "payments.charge resolved after 4m10s" {
		t.Errorf("title %q", got)
	}
	e.To = breaker.Disabled
	if got := e.Title(); got != "payments.charge resolved after 4m10s (disabled)" {
		t.Errorf("title %q", got)
	}
	e.Type, e.From, e.To = Opened, breaker.HalfOpen, breaker.Open
	if got := e.Title(); got != "payments.charge reopened" {
		t.Errorf("title %q", got)
	}
	m := slackPayload(&Event{Guard: "a<b>&c", Type: HalfOpen, To: breaker.HalfOpen})
	if !strings.Contains(m.Text, "a&lt;b&gt;&amp;c half-open") || m.Attachments[0].Color != "#e8a317" {
		t.Errorf("escaping: %+v", m)
	}
}

func TestEmailMessage(t *testing.T) {
	e := sampleEvent()
	e.Guard = "pay\r\nBcc: victim@example.com ñ"
	m := &Email{Addr: "smtp.example.com:587", From: "breakerbox <alerts@example.com>", To: []string{"oncall@example.com", "b@example.com"}}
	raw := m.Message(e, t0)
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Bcc") != "" {
		t.Fatal("header injection through the guard name")
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if subject != "[breakerbox] pay  Bcc: victim@example.com ñ opened" {
		t.Errorf("subject %q", subject)
	}
	if got := msg.Header.Get("To"); got != "oncall@example.com, b@example.com" {
		t.Errorf("to %q", got)
	}
	if msg.Header.Get("Content-Transfer-Encoding") != "quoted-printable" || msg.Header.Get("Message-ID") != "<0123abcd.opened@breakerbox>" {
		t.Errorf("headers %v", msg.Header)
	}
	if d, err := msg.Header.Date(); err != nil || !d.Equal(t0) {
		t.Errorf("date %v %v", d, err)
	}
	body, _ := io.ReadAll(msg.Body)
	if !bytes.Contains(body, []byte("Failure rate: 62.5%")) || !bytes.Contains(body, []byte("Dashboard: https://ops.example.com/bbx/?guard=3Dpayments.charge")) {
		t.Errorf("body %s", body)
	}
}

func TestEmailRefusesPlaintext(t *testing.T) {
	// A minimal SMTP server that offers no STARTTLS: the channel must not
	// send (permanently) unless AllowPlaintext is set.
	srv := newPlainSMTP(t)
	m := &Email{Addr: srv, From: "a@example.com", To: []string{"b@example.com"}}
	err := m.Send(context.Background(), sampleEvent())
	if !IsPermanent(err) || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("Send = %v, want a permanent STARTTLS error", err)
	}
}

func TestSlog(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, nil))
	e := sampleEvent()
	e.Suppressed = 2
	if err := (Slog{Logger: l}).Send(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{
		"level": "WARN", "msg": "payments.charge opened", "guard": "payments.charge", "event.type": "opened",
		"failure_rate": 62.5, "incident.id": "inc1", "suppressed": 2.0, "to": "open",
	} {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
}

func TestJSONLines(t *testing.T) {
	var buf bytes.Buffer
	s := JSONLines(&buf)
	s.DeadLetter(DeadLetter{Channel: "a", Event: *sampleEvent(), Attempts: 2, Err: ErrQueueFull, At: t0})
	s.DeadLetter(DeadLetter{Channel: "b", At: t0})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	var d struct {
		Channel, Error string
		Attempts       int
		Event          Event
	}
	if err := json.Unmarshal([]byte(lines[0]), &d); err != nil {
		t.Fatal(err)
	}
	if d.Channel != "a" || d.Error != ErrQueueFull.Error() || d.Attempts != 2 || d.Event.Guard != "payments.charge" {
		t.Errorf("record %+v", d)
	}
}
