package a

import (
	"net/http"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/httpmw"
)

func packageFuncs() {
	http.Get("http://x")                                    // want `http.Get sends through http.DefaultClient`
	http.Head("http://x")                                   // want `http.Head sends through`
	http.Post("http://x", "text/plain", nil)                // want `http.Post sends through`
	http.PostForm("http://x", nil)                          // want `http.PostForm sends through`
	http.DefaultClient.Do(nil)                              // want `http.DefaultClient sends through`
	_ = http.NewRequest                                     // not a request
	http.DefaultClient.Transport = httpmw.NewTransport(nil) // guarding the default client is not a use
}

func literals(rt http.RoundTripper) {
	_ = &http.Client{}                     // want `http.Client has no Transport`
	_ = &http.Client{Timeout: time.Second} // want `http.Client has no Transport`
	_ = http.Client{                       // want `http.Client has no Transport`
		Timeout: time.Second,
	}
	_ = &http.Client{Transport: &http.Transport{}}     // want `Transport is not wrapped`
	_ = &http.Client{Transport: http.DefaultTransport} // want `Transport is not wrapped`
	_ = &http.Client{Transport: nil}                   // want `Transport is not wrapped`
	_ = &http.Client{Transport: httpmw.NewTransport(nil)}
	_ = &http.Client{Transport: httpmw.NewTransport(&http.Transport{})}
	_ = &http.Client{Transport: rt} // unknown: not reported
	_ = http.Client{httpmw.NewTransport(nil), nil, nil, 0}
}

func withRegistry(reg *core.Registry) *http.Client {
	return &http.Client{Timeout: time.Second} // want `http.Client has no Transport`
}

func setLater() *http.Client {
	c := &http.Client{Timeout: time.Second}
	c.Transport = httpmw.NewTransport(nil)
	return c
}

func setLaterUnwrapped() *http.Client {
	c := &http.Client{}
	c.Transport = &http.Transport{} // want `Transport is not wrapped`
	return c
}

func assignFromVar(t *http.Transport, c *http.Client) {
	c.Transport = t // want `Transport is not wrapped`
	c.Transport = httpmw.NewTransport(t)
}

func elided() []*http.Client {
	return []*http.Client{{}} // want `http.Client has no Transport`
}

// A registry declared after the client is not in scope for the fix.
func registryAfter() {
	_ = &http.Client{} // want `http.Client has no Transport`
	reg := &core.Registry{}
	_ = reg
}
