package httpmw

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/internal/reject"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// FuzzAppendJSONString holds the JSON string writer against encoding/json:
// both decode to the same string.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uo\te`, "ctl\x00\x1f\n\r\t", "<&>", "\u2028\u2029", "bad\xff\xfeutf8", "日本語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want string
		b := appendJSONString(nil, s)
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("appendJSONString(%q) = %s: invalid JSON: %v", s, b, err)
		}
		ref, _ := json.Marshal(s)
		_ = json.Unmarshal(ref, &want)
		if got != want {
			t.Fatalf("appendJSONString(%q) decodes to %q, encoding/json to %q", s, got, want)
		}
	})
}

func TestAppendSFString(t *testing.T) {
	for in, want := range map[string]string{
		"default":    `"default"`,
		`a"b\c`:      `"a\"b\\c"`,
		"tab\there":  `"tab?here"`,
		"caf\u00e9":  `"caf??"`,
		"GET /x/{y}": `"GET /x/{y}"`,
	} {
		if got := string(appendSFString(nil, in)); got != want {
			t.Errorf("appendSFString(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestRejectionStatusByErrorType: any rejection whose error type is
// "rate_limited" (a guard's rate limit, once policies have one) is a 429;
// every other rejection a 503.
func TestRejectionStatusByErrorType(t *testing.T) {
	limited := &core.RejectedError{Guard: "g", Reason: ratelimit.ErrLimited}
	shed := &core.RejectedError{Guard: "g", Reason: reject.New("shed", "load_shed")}
	for _, tc := range []struct {
		err    error
		status int
		reason string
	}{
		{limited, 429, "rate_limited"},
		{shed, 503, "load_shed"},
		{reject.New("custom", "rate_limited"), 429, "rate_limited"},
	} {
		rej := newRejection("g", tc.err)
		if rej.Status != tc.status || rej.Reason != tc.reason {
			t.Errorf("%v: status %d, reason %q; want %d, %q", tc.err, rej.Status, rej.Reason, tc.status, tc.reason)
		}
	}
}

// TestWriteRejectionDocument checks the exact document and fields.
func TestWriteRejectionDocument(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteRejection(rec, httptest.NewRequest("GET", "/", nil), Rejection{
		Guard: `GET /a/{b}<"x">`, Err: ratelimit.ErrLimited, Reason: "rate_limited", Status: 429,
		RetryAfter: 2500 * time.Millisecond, RateLimit: RateLimit{Policy: "per-ip", Quota: 100, Window: time.Minute},
	})
	want := `{"type":"about:blank","title":"Too Many Requests","status":429,` +
		`"detail":"The rate limit \"GET /a/{b}\u003c\"x\"\u003e\" is exceeded.",` +
		`"guard":"GET /a/{b}\u003c\"x\"\u003e","reason":"rate_limited","retryAfter":3}` + "\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("body\n%s\nwant\n%s", got, want)
	}
	for k, v := range map[string]string{
		"Retry-After":      "3",
		"RateLimit":        `"per-ip";r=0;t=3`,
		"RateLimit-Policy": `"per-ip";q=100;w=60`,
		"Cache-Control":    "no-store",
		"Content-Length":   strconv.Itoa(len(want)),
	} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if rec.Code != 429 {
		t.Errorf("status %d", rec.Code)
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}

	// A 503 has no RateLimit fields; a zero status means 503.
	rec = httptest.NewRecorder()
	WriteRejection(rec, nil, Rejection{Guard: "g", Err: errors.New("x"), Reason: "circuit_open"})
	if rec.Code != 503 || rec.Header().Get("RateLimit") != "" || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("status %d, header %v", rec.Code, rec.Header())
	}
}

func TestLimitPolicy(t *testing.T) {
	for _, tc := range []struct {
		cfg  ratelimit.Config
		want RateLimit
	}{
		{ratelimit.Config{Limit: 10}, RateLimit{limiterGuardName, 10, time.Second}},
		{ratelimit.Config{Limit: 2.5}, RateLimit{limiterGuardName, 2, time.Second}},
		{ratelimit.Config{Limit: 100, Per: time.Minute}, RateLimit{limiterGuardName, 100, time.Minute}},
		{ratelimit.Config{Limit: 5, Per: 500 * time.Millisecond}, RateLimit{limiterGuardName, 10, time.Second}},
		{ratelimit.Config{Limit: 0.5}, RateLimit{}},
	} {
		k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Config: tc.cfg})
		if err != nil {
			t.Fatal(err)
		}
		if got := limitPolicy(k); got != tc.want {
			t.Errorf("%+v: %+v, want %+v", tc.cfg, got, tc.want)
		}
	}
	if got := limitPolicy(nil); got != (RateLimit{}) {
		t.Errorf("nil limiter: %+v", got)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int64{
		0: 1, -time.Second: 1, time.Millisecond: 1, time.Second: 1,
		time.Second + 1: 2, 59*time.Second + 999*time.Millisecond: 60, time.Hour: 3600,
	} {
		if got := retryAfterSeconds(d); got != want {
			t.Errorf("retryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestResponseHints(t *testing.T) {
	h := responseHints(http.Header{"Retry-After": {"2"}, "Grpc-Retry-Pushback-Ms": {"3500"}})
	if h.after != 3500*time.Millisecond || h.noRetry {
		t.Errorf("%+v: want the longer hint", h)
	}
	h = responseHints(http.Header{"Grpc-Retry-Pushback-Ms": {}})
	if !h.noRetry {
		t.Errorf("%+v: an empty pushback means no retry", h)
	}
	h = responseHints(http.Header{"Grpc-Retry-Pushback-Ms": {"999999999999999999"}})
	if h.after != MaxRetryAfter {
		t.Errorf("%+v: want the cap", h)
	}
}

// TestWriterUsedAfterReturn: a handler (or a framework such as echo, through
// echo.WrapMiddleware) that keeps the writer and uses it after ServeHTTP
// returned gets an error, not a crash, while the writer waits in the pool.
func TestWriterUsedAfterReturn(t *testing.T) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	var leaked http.ResponseWriter
	h := Middleware(reg, WithKey(func(*http.Request) string { return "leak" }))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = w
		w.WriteHeader(http.StatusTeapot)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusTeapot {
		t.Fatalf("status %d", rec.Code)
	}
	leaked.Header().Set("X-Late", "1")
	leaked.WriteHeader(http.StatusInternalServerError)
	if n, err := leaked.Write([]byte("late")); n != 0 || !errors.Is(err, errWriterReleased) {
		t.Fatalf("late Write = %d, %v; want 0, errWriterReleased", n, err)
	}
	if err := http.NewResponseController(leaked).Flush(); err == nil {
		t.Fatal("late Flush succeeded")
	}
	if rec.Header().Get("X-Late") != "" || rec.Body.Len() != 0 {
		t.Fatalf("a late write reached the finished response: %v %q", rec.Header(), rec.Body)
	}
}

// TestPooledWriterPoisonedByLateUse: a handler that used its writer after
// returning (a late WriteHeader(500), SetError) left the status and error on
// the pooled writer, and the next request that got it was classified by
// them: a 200 counted as a failure (TestMiddlewareStatusClassification and
// TestMiddlewareOpensRejectsAndRecovers failed now and then after
// TestWriterUsedAfterReturn). getWriter starts every request clean.
func TestPooledWriterPoisonedByLateUse(t *testing.T) {
	for range 3 {
		writerPool.Put(&responseWriter{rw: released, status: http.StatusInternalServerError, err: errors.New("late"), hijacked: true})
		rw := getWriter(httptest.NewRecorder(), nil)
		if rw.status != 0 || rw.err != nil || rw.hijacked {
			t.Fatalf("getWriter returned status %d, err %v, hijacked %v; want a clean writer", rw.status, rw.err, rw.hijacked)
		}
		putWriter(rw)
	}
}

// ParseRetryAfter is a deprecated forwarder to retry.ParseRetryAfter, whose
// own tests and fuzz test cover the parser.
func TestParseRetryAfterForwards(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"120", "Sat, 01 Mar 2025 12:00:30 GMT", "soon"} {
		d, ok := ParseRetryAfter(v, now)
		wd, wok := retry.ParseRetryAfter(v, now)
		if d != wd || ok != wok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; retry.ParseRetryAfter = %v, %v", v, d, ok, wd, wok)
		}
	}
}
