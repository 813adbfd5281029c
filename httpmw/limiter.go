package httpmw

import (
	"math"
	"net/http"
	"time"

	"github.com/breakerbox/breakerbox/ratelimit"
)

// KeyedLimiter is a rate limiter with a limit per key, as [WithLimiter]
// uses it; *ratelimit.Keyed implements it. It must be safe for concurrent
// use and bound its own memory, since keys such as client addresses come
// from an unbounded set.
type KeyedLimiter interface {
	// Allow reports whether one request with key may proceed now, and
	// counts it if so.
	Allow(key string) bool
	// RetryAfter returns how long until a request with key would be
	// allowed; 0 if now.
	RetryAfter(key string) time.Duration
}

// limiterGuardName names the per-key limiter in rejections.
const limiterGuardName = "ratelimit"

// allowLimit checks r against the per-key limiter; when the limiter refuses
// r, it answers r and returns false.
func (h *handler) allowLimit(w http.ResponseWriter, r *http.Request) bool {
	key := h.cfg.limitKey(r)
	if h.cfg.limiter.Allow(key) {
		return true
	}
	if h.mux != nil && r.Pattern == "" {
		h.key(r) // sets r.Pattern to the route, for the middleware outside
	}
	h.cfg.rejectWith(w, r, Rejection{
		Guard:      limiterGuardName,
		Err:        ratelimit.ErrLimited,
		Reason:     reasonRateLimited,
		Status:     http.StatusTooManyRequests,
		RetryAfter: h.cfg.limiter.RetryAfter(key),
		RateLimit:  h.limitPolicy,
	})
	return false
}

// limitPolicy describes l's limit for the RateLimit-Policy field, when l
// tells it (as *ratelimit.Keyed does): Limit requests per Per, as a whole
// quota per whole-second window.
func limitPolicy(l KeyedLimiter) RateLimit {
	c, ok := l.(interface{ Config() ratelimit.KeyedConfig })
	if !ok {
		return RateLimit{}
	}
	cfg := c.Config().Config
	per := cfg.Per
	if per <= 0 {
		per = time.Second
	}
	w := time.Duration(retryAfterSeconds(per)) * time.Second
	q := math.Floor(cfg.Limit * float64(w) / float64(per))
	if !(q >= 1) || q > math.MaxInt32 {
		return RateLimit{}
	}
	return RateLimit{Policy: limiterGuardName, Quota: int64(q), Window: w}
}
