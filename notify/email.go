package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// Email sends each event as a plain-text mail over SMTP (net/smtp).
//
// It connects to Addr, says EHLO, upgrades the connection with STARTTLS
// (required unless AllowPlaintext is set: a server that does not offer it
// is refused, permanently), authenticates with PLAIN when Username is set,
// and sends one message to every address in To. With ImplicitTLS it
// speaks TLS from the first byte instead (port 465, "SMTPS").
//
// A 5xx reply from the server is permanent; anything else (a refused
// connection, a 4xx reply, a timeout) is retried.
type Email struct {
	// Addr is the server's host:port, such as "smtp.example.com:587".
	Addr string
	// From is the sender, such as "breakerbox <alerts@example.com>".
	From string
	// To lists the recipients; at least one.
	To []string
	// Username and Password authenticate with PLAIN; empty Username
	// skips authentication.
	Username, Password string
	// TLSConfig configures STARTTLS or implicit TLS; nil means the system
	// roots and Addr's host as the server name.
	TLSConfig *tls.Config
	// ImplicitTLS connects with TLS at once instead of STARTTLS.
	ImplicitTLS bool
	// AllowPlaintext sends without TLS when the server offers no
	// STARTTLS. net/smtp still refuses to send a password in clear except
	// to localhost. For tests and trusted local relays only.
	AllowPlaintext bool
	// HelloName is the name given in EHLO; default "localhost".
	HelloName string
	// SubjectPrefix starts every subject; default "[breakerbox] ".
	SubjectPrefix string
}

func (m *Email) validate() error {
	if _, _, err := net.SplitHostPort(m.Addr); err != nil {
		return fmt.Errorf("addr: %q must be host:port", m.Addr)
	}
	if _, err := mail.ParseAddress(m.From); err != nil {
		return fmt.Errorf("from: %q is not an address: %w", m.From, err)
	}
	if len(m.To) == 0 {
		return errors.New("to: at least one recipient is needed")
	}
	for _, t := range m.To {
		if _, err := mail.ParseAddress(t); err != nil {
			return fmt.Errorf("to: %q is not an address: %w", t, err)
		}
	}
	return nil
}

// Send mails e.
func (m *Email) Send(ctx context.Context, e *Event) error {
	if err := m.validate(); err != nil {
		return Permanent(fmt.Errorf("notify: email: %w", err))
	}
	from, _ := mail.ParseAddress(m.From)
	msg := m.Message(e, time.Now())

	host, _, _ := net.SplitHostPort(m.Addr)
	tc := m.TLSConfig
	if tc == nil {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" {
		tc = tc.Clone()
		tc.ServerName = host
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if m.ImplicitTLS {
		tconn := tls.Client(conn, tc)
		if err := tconn.HandshakeContext(ctx); err != nil {
			conn.Close()
			return err
		}
		conn = tconn
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return smtpErr(err)
	}
	defer c.Close()
	hello := m.HelloName
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return smtpErr(err)
	}
	if !m.ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tc); err != nil {
				return smtpErr(err)
			}
		} else if !m.AllowPlaintext {
			return Permanent(errors.New("notify: email: server offers no STARTTLS (set AllowPlaintext to send anyway)"))
		}
	}
	if m.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, host)); err != nil {
			return smtpErr(err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return smtpErr(err)
	}
	for _, t := range m.To {
		to, _ := mail.ParseAddress(t)
		if err := c.Rcpt(to.Address); err != nil {
			return smtpErr(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpErr(err)
	}
	if _, err := w.Write(msg); err != nil {
		return smtpErr(err)
	}
	if err := w.Close(); err != nil {
		return smtpErr(err)
	}
	return smtpErr(c.Quit())
}

// smtpErr marks 5xx replies permanent.
func smtpErr(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return Permanent(err)
	}
	return err
}

// Message returns the RFC 5322 message Send transmits for e at time now:
// headers (From, To, Subject, Date, Message-ID, MIME) and a quoted-printable
// UTF-8 text body with the event's details and the dashboard link.
func (m *Email) Message(e *Event, now time.Time) []byte {
	prefix := m.SubjectPrefix
	if prefix == "" {
		prefix = "[breakerbox] "
	}
	var b bytes.Buffer
	header := func(k, v string) {
		b.WriteString(k + ": " + v + "\r\n")
	}
	header("From", oneLine(m.From))
	header("To", oneLine(strings.Join(m.To, ", ")))
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(prefix+e.Title())))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+e.ID+"."+strings.ReplaceAll(string(e.Type), "-", "")+"@breakerbox>")
	header("X-Breakerbox-Event-Id", oneLine(e.ID))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")

	var text strings.Builder
	text.WriteString(e.Title() + "\n\n")
	for _, f := range e.fields() {
		text.WriteString(f[0] + ": " + f[1] + "\n")
	}
	if e.DashboardURL != "" {
		text.WriteString("\nDashboard: " + e.DashboardURL + "\n")
	}
	text.WriteString("\nRule " + e.Rule + ", event " + e.ID + ".\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(text.String(), "\n", "\r\n")))
	_ = qp.Close()
	return b.Bytes()
}

// oneLine removes line breaks, so that no value can add a header.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
