package notify

import (
	"errors"
	"net/url"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T0/B0/XSECRET":     "https://hooks.slack.com",
		"http://user:pass@example.com:8080/p?token=abc#frag": "http://example.com:8080",
		"https://[::1]:443/x":                                "https://[::1]:443",
		"hooks.example.com/services/T0?token=abc":            "[relative URL]",
		"/relative": "[relative URL]",
		"http://user:pass@example.com/%zz?token=abc": "http://example.com",
		"\x7f": "[invalid URL]",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		`Post "https://u:p@h.example/s/T0?x=1": EOF`: `Post "https://h.example": EOF`,
		"see smtp://a:b@mail:25/x and HTTP://H/p ok": "see smtp://mail:25 and HTTP://H ok",
		"no url here": "no url here",
	} {
		if got := scrubURLs(in); got != want {
			t.Errorf("scrubURLs(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRedactErrKeepsIdentity: the error a dead letter carries has its URLs
// reduced but still matches what the channel returned.
func TestRedactErrKeepsIdentity(t *testing.T) {
	inner := &url.Error{Op: "Post", URL: "https://h.example/services/T0SECRET", Err: errors.New("boom")}
	err := redactErr(Permanent(inner))
	if err.Error() != `Post "https://h.example": boom` {
		t.Errorf("message %q", err)
	}
	var ue *url.Error
	if !IsPermanent(err) || !errors.As(err, &ue) {
		t.Errorf("identity lost: %#v", err)
	}
	if redactErr(ErrQueueFull) != ErrQueueFull || redactErr(nil) != nil {
		t.Error("an error without URLs is not returned as is")
	}
}
