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
// = secret) lets a browser open the debug page.
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
// or the problem to answer with.
func (a *authenticator) authorize(r *http.Request, need Access) (principal, *Problem) {
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
