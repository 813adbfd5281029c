package admin

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/policy"
	"github.com/breakerbox/breakerbox/record"
)

// Access is what a token may do.
type Access uint8

const (
	// Read allows the read-only endpoints: guards, snapshot, audit, debug.
	Read Access = iota + 1
	// Write allows everything Read does, and the operations.
	Write
)

// String returns "read" or "write".
func (a Access) String() string {
	switch a {
	case Read:
		return "read"
	case Write:
		return "write"
	}
	return fmt.Sprintf("Access(%d)", uint8(a))
}

// ParseAccess parses "read" or "write".
func ParseAccess(s string) (Access, error) {
	switch s {
	case "read":
		return Read, nil
	case "write":
		return Write, nil
	}
	return 0, fmt.Errorf("admin: access: %q is not \"read\" or \"write\"", s)
}

// MinSecretLength is the shortest token secret accepted.
const MinSecretLength = 16

// TokensEnv is the environment variable WithTokensFromEnv reads.
const TokensEnv = "BREAKERBOX_ADMIN_TOKENS"

// Token is a named bearer token. The name is the actor recorded in the
// audit log for the operations the token authorises.
type Token struct {
	Name   string
	Secret string
	Access Access
}

// ParseTokens parses tokens in the format of BREAKERBOX_ADMIN_TOKENS:
// entries separated by commas or white space (newlines included), each
// "name:access:secret" where access is "read" or "write", for example
//
//	alice:write:3f9c1d0e6b7a4c2d9e8f,grafana:read:9a8b7c6d5e4f3a2b1c0d
//
// The secret is everything after the second colon (it may contain colons,
// but no comma or white space). Empty entries are ignored.
//
// Errors name the entry by its position and the field at fault, never by
// its text: in a misordered entry ("name:secret:write") any field may hold
// the secret.
func ParseTokens(s string) ([]Token, error) {
	var out []Token
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	for i, f := range fields {
		name, rest, ok1 := strings.Cut(f, ":")
		acc, secret, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("admin: tokens: entry %d: want name:access:secret (%d fields separated by colons; the entry is not shown, as it may hold a secret)", i+1, strings.Count(f, ":")+1)
		}
		a, err := ParseAccess(acc)
		if err != nil {
			return nil, fmt.Errorf("admin: tokens: entry %d: access: the second field is not \"read\" or \"write\"; entries are name:access:secret (the field is not shown, as it may be a secret out of place)", i+1)
		}
		out = append(out, Token{Name: name, Secret: secret, Access: a})
	}
	return out, nil
}

// Option configures a Server.
type Option interface{ apply(*config) error }

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	tokens      []Token
	tokenLabels []string // how errors name tokens[i] (see tokenLabel)
	openRead    bool
	origins     *http.CrossOriginProtection // nil: no trusted origin
	maxCreates  int                         // guards one restore may create
	maxBody     int64
	sinks       []AuditSink
	recent      int
	logger      *slog.Logger
	serviceID   string
	description string
	version     string
	push        time.Duration
	// Set by options of health.go, live.go and history.go; zero values
	// mean the defaults.
	healthSummary bool
	streams       StreamLimits
	historyLimit  int64
	traceLinks    traceLinks       // WithTraceLinks, in tracelink.go
	policies      *policy.Manager  // WithPolicyManager, in policies.go
	recorder      *record.Recorder // WithRecorder, in record.go
	maintenance   Maintenance      // WithMaintenance, in maintenance.go (issue #23)
	fleet         Fleet            // WithFleet, in fleet.go (issue #20)
	regions       Regions          // WithRegions, in regions.go (issue #26)
	quotas        Quotas           // WithQuotas, in quotas.go (issue #26)

	// persist: WithHistoryStore, in historystore.go.
	historyStore *historyStoreConfig
}

// Defaults.
const (
	// DefaultMaxBodyBytes is the largest request body accepted unless
	// WithMaxBodyBytes says otherwise.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultRecent is how many transitions and operations the debug page
	// keeps unless WithRecent says otherwise.
	DefaultRecent = 200
	// DefaultPushInterval is how often the event stream sends rates
	// unless WithPushInterval says otherwise.
	DefaultPushInterval = 2 * time.Second
	// DefaultMaxRestoreCreates is how many guards one snapshot restore may
	// create unless WithMaxRestoreCreates says otherwise.
	DefaultMaxRestoreCreates = 1000
)

func newConfig(opts []Option) (*config, error) {
	c := &config{maxBody: DefaultMaxBodyBytes, recent: DefaultRecent, push: DefaultPushInterval, maxCreates: DefaultMaxRestoreCreates}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(c); err != nil {
			return nil, err
		}
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	names := map[string]int{}
	secrets := map[string]int{}
	for i, t := range c.tokens {
		if j, ok := names[t.Name]; ok {
			return nil, fmt.Errorf("%s: name: the same as %s's", c.tokenLabels[i], c.tokenLabels[j])
		}
		names[t.Name] = i
		if j, ok := secrets[t.Secret]; ok {
			return nil, fmt.Errorf("%s: secret: the same as %s's, so the actor would be ambiguous", c.tokenLabels[i], c.tokenLabels[j])
		}
		secrets[t.Secret] = i
	}
	return c, nil
}

// tokenLabel names a token in configuration errors: by where it was
// configured and, when the name is too short to be a secret
// (MinSecretLength), by its name. A longer name is not shown, for it may
// be a secret given in the name's place.
func tokenLabel(where, name string) string {
	if name != "" && len(name) < MinSecretLength && checkText(name) == "" {
		return where + " " + quote(name)
	}
	return where
}

func (c *config) addToken(where string, t Token) error {
	label := tokenLabel(where, t.Name)
	if err := validToken(label, t); err != nil {
		return err
	}
	c.tokens = append(c.tokens, t)
	c.tokenLabels = append(c.tokenLabels, label)
	return nil
}

// validToken checks t; errors name it by label and never show its secret.
func validToken(label string, t Token) error {
	switch {
	case t.Name == "":
		return fmt.Errorf("%s: name: must not be empty", label)
	case strings.ContainsAny(t.Name, ": ,") || checkText(t.Name) != "":
		return fmt.Errorf("%s: name: must be valid UTF-8 without colons, commas, white space or control characters", label)
	case t.Access != Read && t.Access != Write:
		return fmt.Errorf("%s: access: %d is not Read or Write", label, t.Access)
	case len(t.Secret) < MinSecretLength:
		return fmt.Errorf("%s: secret: %d characters is shorter than the minimum %d", label, len(t.Secret), MinSecretLength)
	case strings.ContainsAny(t.Secret, ", \t\r\n"):
		return fmt.Errorf("%s: secret: must not contain commas or white space", label)
	}
	return nil
}

// WithToken adds a bearer token called name (the actor recorded in the
// audit log) with the given access. The secret must be at least
// MinSecretLength characters. Without any token the API is read-only and
// open to anyone; with tokens, every API request needs one (see
// WithOpenRead).
func WithToken(name, secret string, access Access) Option {
	return optionFunc(func(c *config) error {
		return c.addToken(fmt.Sprintf("admin: token %d (WithToken)", len(c.tokens)+1), Token{Name: name, Secret: secret, Access: access})
	})
}

// WithTokens adds tokens, as WithToken does for each.
func WithTokens(ts ...Token) Option {
	return optionFunc(func(c *config) error {
		for i, t := range ts {
			if err := c.addToken(fmt.Sprintf("admin: token %d (WithTokens[%d])", len(c.tokens)+1, i), t); err != nil {
				return err
			}
		}
		return nil
	})
}

// WithTokensFromEnv adds the tokens listed in the environment variable
// BREAKERBOX_ADMIN_TOKENS (format: see ParseTokens). An unset or empty
// variable adds none; a malformed one is an error, which names the entry
// by its position and never shows a secret.
func WithTokensFromEnv() Option {
	return optionFunc(func(c *config) error {
		ts, err := ParseTokens(os.Getenv(TokensEnv))
		if err != nil {
			return fmt.Errorf("%s: %w", TokensEnv, err)
		}
		for i, t := range ts {
			if err := c.addToken(fmt.Sprintf("%s: entry %d", TokensEnv, i+1), t); err != nil {
				return err
			}
		}
		return nil
	})
}

// WithOpenRead lets requests without a token use the read-only endpoints
// even when tokens are configured. Writes always need a write token.
func WithOpenRead() Option {
	return optionFunc(func(c *config) error { c.openRead = true; return nil })
}

// WithTrustedOrigins lets browser pages served from these origins (such
// as "https://ops.example.com": scheme, host and port, no path) write
// through the API. Without it, writes (every request but GET, HEAD and
// OPTIONS) whose Sec-Fetch-Site or Origin header says they come from
// another origin are refused with a 403; see the package documentation.
func WithTrustedOrigins(origins ...string) Option {
	return optionFunc(func(c *config) error {
		for i, o := range origins {
			if c.origins == nil {
				c.origins = http.NewCrossOriginProtection()
			}
			if err := c.origins.AddTrustedOrigin(o); err != nil {
				return fmt.Errorf("admin: trustedOrigins[%d]: %q is not an origin such as https://ops.example.com (scheme and host, no path)", i, o)
			}
		}
		return nil
	})
}

// WithMaxRestoreCreates sets how many guards one snapshot restore may
// create (default DefaultMaxRestoreCreates; 0 lets a restore create none).
// A restore that would create more is refused before anything changes.
func WithMaxRestoreCreates(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 0 {
			return fmt.Errorf("admin: maxRestoreCreates: %d must not be negative", n)
		}
		c.maxCreates = n
		return nil
	})
}

// WithMaxBodyBytes limits request bodies to n bytes (default
// DefaultMaxBodyBytes); larger ones are refused with 413.
func WithMaxBodyBytes(n int64) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("admin: maxBodyBytes: %d must be at least 1", n)
		}
		c.maxBody = n
		return nil
	})
}

// WithAuditSink adds sinks that receive every audit record, in order. An
// operation whose record a sink fails to take is reported as failed (and
// rolled back where it can be). The first sink that is also an
// AuditReader serves GET /v1/audit; without one, the API serves the
// records kept in memory (see WithRecent).
func WithAuditSink(sinks ...AuditSink) Option {
	return optionFunc(func(c *config) error {
		for i, s := range sinks {
			if s == nil {
				return fmt.Errorf("admin: auditSink[%d]: must not be nil", i)
			}
		}
		c.sinks = append(c.sinks, sinks...)
		return nil
	})
}

// WithRecent sets how many recent transitions and audit records are kept
// in memory for the debug page (and for GET /v1/audit when no sink can be
// read back). Default DefaultRecent.
func WithRecent(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("admin: recent: %d must be at least 1", n)
		}
		c.recent = n
		return nil
	})
}

// WithLogger sets the logger for failures the API cannot report to its
// caller (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error {
		if l == nil {
			return errors.New("admin: logger: must not be nil")
		}
		c.logger = l
		return nil
	})
}

// WithService names the service in health documents (serviceId,
// description and version fields).
func WithService(id, description, version string) Option {
	return optionFunc(func(c *config) error {
		c.serviceID, c.description, c.version = id, description, version
		return nil
	})
}

// WithPushInterval sets how often the event stream (and so the dashboard)
// gets every guard's rates, from 100ms to ShortRollup (10s; default
// DefaultPushInterval). State changes are sent at once, whatever the
// interval.
func WithPushInterval(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 100*time.Millisecond || d > ShortRollup {
			return fmt.Errorf("admin: pushInterval: %v must be from 100ms to %v", d, ShortRollup)
		}
		c.push = d
		return nil
	})
}
