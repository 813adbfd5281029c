// Package httpmw is a stub of breakerbox's httpmw for the analyzer's tests.
package httpmw

import (
	"net/http"

	"github.com/breakerbox/breakerbox/core"
)

type Transport struct{ base http.RoundTripper }

func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) { return t.base.RoundTrip(r) }

type Option interface{ apply() }

func WithRegistry(reg *core.Registry) Option { return nil }

func NewTransport(base http.RoundTripper, opts ...Option) *Transport { return &Transport{base} }
