package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/admin/wire"
)

// client talks to the admin API.
type client struct {
	base  string // scheme://host[:port][/prefix], no trailing slash
	token string
	hc    *http.Client
}

// baseURL normalises an --addr value: "host:port" gets "http://", a
// trailing slash goes.
func baseURL(addr string) (string, error) {
	if addr == "" {
		return "", usageErrorf("no server address: set --addr or %s (such as http://127.0.0.1:9090/admin)", envAddr)
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" {
		return "", usageErrorf("--addr %q is not an http(s) address such as http://127.0.0.1:9090/admin", addr)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// call sends a request and decodes a 2xx JSON answer into out (when not
// nil); it returns the raw answer too. Errors carry the exit code: a
// problem from the server is a refusal, a transport failure means the
// server cannot be reached.
func (c *client) call(ctx context.Context, method, path string, query url.Values, in, out any) ([]byte, error) {
	data, err := c.send(ctx, method, path, query, in, "application/json, application/problem+json")
	if err != nil {
		return data, err
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return data, refused(fmt.Errorf("%s %s%s: unexpected answer (not a breakerbox admin API? check --addr): %v", method, c.base, path, err))
		}
	}
	return data, nil
}

// callText GETs a document of another type than JSON, such as Markdown
// (accept is its media type), and returns it as received.
func (c *client) callText(ctx context.Context, path, accept string) ([]byte, error) {
	return c.send(ctx, http.MethodGet, path, nil, nil, accept+", application/problem+json")
}

// send sends a request and returns a 2xx answer's body; errors as call's.
func (c *client) send(ctx context.Context, method, path string, query url.Values, in any, accept string) ([]byte, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	contentType := "application/json"
	if rb, ok := in.(rawBody); ok { // a body sent as is (record.go)
		body, contentType = bytes.NewReader(rb.data), rb.contentType
	} else if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, refused(fmt.Errorf("encoding the request: %w", err))
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, usageErrorf("bad request URL %q: %v", u, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "breakerctl")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, refused(errors.New("interrupted"))
		}
		return nil, unreachable(fmt.Errorf("cannot reach %s: %w", c.base, unwrapURLError(err)))
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return nil, unreachable(fmt.Errorf("reading the answer from %s: %w", c.base, err))
	}
	if res.StatusCode >= 300 {
		mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
		var p wire.Problem
		if mt == "application/problem+json" && json.Unmarshal(data, &p) == nil && p.Status != 0 {
			return data, refused(&p)
		}
		return data, refused(fmt.Errorf("%s %s: %s (not a breakerbox admin API? check --addr)", method, u, res.Status))
	}
	return data, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// guardPath is the path of one guard, its name escaped as one segment (see
// wire.GuardPath), so that no router in front of the API cleans it.
func guardPath(name string) string { return wire.GuardPath(name) }

// newClient builds the client from the flags and the environment.
func (a *app) newClient() (*client, error) {
	addr := a.addr
	if addr == "" {
		addr = a.getenv(envAddr)
	}
	base, err := baseURL(addr)
	if err != nil {
		return nil, err
	}
	token, err := a.resolveToken()
	if err != nil {
		return nil, err
	}
	if a.timeout <= 0 {
		return nil, usageErrorf("--timeout %v must be positive", a.timeout)
	}
	return &client{base: base, token: token, hc: &http.Client{Timeout: a.timeout}}, nil
}

// resolveToken picks the token: --token, --token-file, $BREAKERBOX_TOKEN,
// then the file $BREAKERBOX_TOKEN_FILE names (see the root command's help).
// "" means none.
func (a *app) resolveToken() (string, error) {
	switch {
	case a.token != "" && a.tokenFile != "":
		return "", usageErrorf("--token and --token-file are exclusive: give one")
	case a.token != "":
		return a.token, nil
	case a.tokenFile != "":
		return readTokenFile("--token-file", a.tokenFile)
	}
	if t := a.getenv(envToken); t != "" {
		return t, nil
	}
	if f := a.getenv(envTokenFile); f != "" {
		return readTokenFile("$"+envTokenFile, f)
	}
	return "", nil
}

// maxTokenFile bounds what readTokenFile reads.
const maxTokenFile = 64 << 10

// readTokenFile reads a token from the file name (given by source): its
// content without surrounding white space, on one line.
func readTokenFile(source, name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", usageErrorf("%s: %v", source, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", usageErrorf("%s: reading %s: %v", source, name, err)
	}
	token := strings.TrimSpace(string(data))
	switch {
	case len(data) > maxTokenFile:
		return "", usageErrorf("%s: %s is larger than %d bytes; it should hold one token", source, name, maxTokenFile)
	case token == "":
		return "", usageErrorf("%s: %s is empty; it should hold the token", source, name)
	case strings.ContainsFunc(token, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return "", usageErrorf("%s: %s holds more than one line or a control character; it should hold the token alone", source, name)
	}
	return token, nil
}

// defaultTimeout bounds each request.
const defaultTimeout = 10 * time.Second
