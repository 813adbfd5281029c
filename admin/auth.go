package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
)

// anonymous is the actor of requests made without a token where that is
// allowed (reads only).
const anonymous = "anonymous"

type principal struct {
	name   string
	access Access
}

// authenticator checks bearer tokens. Secrets are kept as SHA-256 digests
// and every presented token is compared with every digest in constant time,
// so neither the comparison nor the number of comparisons depends on how
// much of a secret matched.
type authenticator struct {
	tokens   []Token
	digests  [][sha256.Size]byte
	openRead bool
}

func newAuthenticator(ts []Token, openRead bool) *authenticator {
	a := &authenticator{tokens: ts, openRead: openRead}
	for _, t := range ts {
		a.digests = append(a.digests, sha256.Sum256([]byte(t.Secret)))
	}
	return a
}

// match returns the index of the token whose secret is secret, or -1.
func (a *authenticator) match(secret string) int {
	d := sha256.Sum256([]byte(secret))
	found := -1
	for i := range a.digests {
		eq := subtle.ConstantTimeCompare(d[:], a.digests[i][:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	return found
}

// credentials extracts the secret (and, for Basic, the user name) from the
// Authorization header. Basic authentication (user = token name, password
// = secret) lets a browser open the debug page; it is accepted there only
// (see authorize).
func credentials(r *http.Request) (user, secret string, basic, present bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", "", false, false
	}
	scheme, rest, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return "", strings.TrimSpace(rest), false, true
	case strings.EqualFold(scheme, "Basic"):
		u, p, ok := r.BasicAuth()
		if ok {
			return u, p, true, true
		}
	}
	return "", "", false, true
}

// authorize returns the principal allowed to make r with the access need,
// or the problem to answer with. Basic credentials count only where
// allowBasic is set (the debug page): a browser that logged in there keeps
// sending them to the whole origin by itself, so elsewhere they would let
// another site's page act with the operator's token.
func (a *authenticator) authorize(r *http.Request, need Access, allowBasic bool) (principal, *Problem) {
	user, secret, basic, present := credentials(r)
	if len(a.tokens) == 0 {
		if need == Write {
			return principal{}, problem(http.StatusForbidden, codeReadOnly, "no write token is configured, so the admin API is read-only")
		}
		return principal{name: anonymous, access: Read}, nil
	}
	if !present {
		if need == Read && a.openRead {
			return principal{name: anonymous, access: Read}, nil
		}
		return principal{}, problem(http.StatusUnauthorized, codeUnauthorized, "missing bearer token")
	}
	if basic && !allowBasic {
		return principal{}, problem(http.StatusUnauthorized, codeUnauthorized, "Basic credentials are accepted by /debug only (for browsers); send the token as Authorization: Bearer <secret>")
	}
	i := -1
	if secret != "" {
		i = a.match(secret)
	}
	if i < 0 || basic && user != a.tokens[i].Name {
		return principal{}, problem(http.StatusUnauthorized, codeUnauthorized, "invalid token")
	}
	t := a.tokens[i]
	if need == Write && t.Access != Write {
		return principal{}, problem(http.StatusForbidden, codeForbidden, "token "+quote(t.Name)+" is read-only; this operation needs a write token")
	}
	return principal{name: t.Name, access: t.Access}, nil
}

func quote(s string) string { return strconv.Quote(s) }

// codeCrossOrigin is the problem code of a write refused because a
// browser sent it from another origin.
const codeCrossOrigin = "cross_origin"

// sameOrigin is the cross-origin check without trusted origins.
var sameOrigin = http.NewCrossOriginProtection()

// crossOrigin returns the 403 for a write (any method but GET, HEAD and
// OPTIONS) that a browser sent from another origin, or nil. Browsers say
// where a request comes from in Sec-Fetch-Site (all current ones) or
// Origin; a request with neither header (curl, breakerctl, a service) is
// not a browser's and passes, as do same-origin requests and requests
// from the trusted origins (WithTrustedOrigins). The decision is
// net/http's CrossOriginProtection.
func crossOrigin(r *http.Request, trusted *http.CrossOriginProtection) *Problem {
	if trusted == nil {
		trusted = sameOrigin
	}
	if trusted.Check(r) == nil {
		return nil
	}
	var why string
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		why = "Sec-Fetch-Site: " + quote(clip(site)) + " says the request comes from another site or origin"
	} else {
		why = "Origin: " + quote(clip(r.Header.Get("Origin"))) + " is not the origin of this API (host " + quote(clip(r.Host)) + ")"
	}
	return problem(http.StatusForbidden, codeCrossOrigin, "cross-origin write refused: "+why+"; writes are accepted from the API's own origin, from clients that send neither header, and from origins trusted with WithTrustedOrigins")
}

// clip shortens a header value quoted in a problem.
func clip(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
