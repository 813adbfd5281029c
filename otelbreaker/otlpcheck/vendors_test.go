package otlpcheck_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/otelbreaker"
)

// Issue 18: the docs offered only Docker or an 11-CPU-minute Jaeger build
// to see breakerbox's traces in an APM, and the vendors' OTLP settings in
// the otelbreaker documentation had never been tried. This test runs each
// vendor's block of docs/apm.md as written.

// guide is the page whose blocks are checked.
const guide = "../../docs/apm.md"

// secrets are the made-up keys the blocks are run with.
var secrets = map[string]string{
	"NEW_RELIC_LICENSE_KEY": "nr-license-key-0123456789",
	"HONEYCOMB_API_KEY":     "hcaik_0123456789abcdef",
	"GRAFANA_INSTANCE_ID":   "123456",
	"GRAFANA_CLOUD_TOKEN":   "glc_0123456789abcdef",
	"DD_API_KEY":            "dd0123456789abcdef0123456789abcd",
}

// expectation is what a vendor's block must make the exporter send: the
// URL path (OTLP/HTTP) and headers (gRPC metadata, lower-cased, over gRPC).
type expectation struct {
	path    string
	headers map[string]string
}

// want has one entry per block of the guide, by the heading above it.
var want = map[string]expectation{
	"New Relic":           {path: "/v1/traces", headers: map[string]string{"api-key": secrets["NEW_RELIC_LICENSE_KEY"]}},
	"Honeycomb":           {path: "/v1/traces", headers: map[string]string{"x-honeycomb-team": secrets["HONEYCOMB_API_KEY"]}},
	"Honeycomb over gRPC": {headers: map[string]string{"x-honeycomb-team": secrets["HONEYCOMB_API_KEY"]}},
	"Grafana Cloud (Tempo)": {path: "/otlp/v1/traces", headers: map[string]string{
		"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(secrets["GRAFANA_INSTANCE_ID"]+":"+secrets["GRAFANA_CLOUD_TOKEN"])),
	}},
	"Datadog, through the Agent": {path: "/v1/traces"},
	"Datadog, agentless":         {path: "/v1/traces", headers: map[string]string{"dd-protocol": "otlp", "dd-api-key": secrets["DD_API_KEY"]}},
	"Jaeger on this machine":     {path: "/v1/traces"},
}

// block is a fenced sh block of the guide that sets OTLP variables.
type block struct {
	heading string
	text    string
}

// guideBlocks returns the guide's sh blocks that set OTEL_EXPORTER_OTLP_
// variables, named by the nearest heading above each.
func guideBlocks(t *testing.T) []block {
	t.Helper()
	data, err := os.ReadFile(guide)
	if err != nil {
		t.Fatal(err)
	}
	var out []block
	heading, in := "", false
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.HasPrefix(line, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(line, "#"))
		case !in && line == "```sh":
			in = true
			cur.Reset()
		case in && line == "```":
			in = false
			if strings.Contains(cur.String(), "OTEL_EXPORTER_OTLP_") {
				out = append(out, block{heading: heading, text: cur.String()})
			}
		case in:
			cur.WriteString(line + "\n")
		}
	}
	return out
}

// runBlock runs b with sh, as a reader pasting it would, and returns the
// OTEL_ variables it leaves set.
func runBlock(t *testing.T, b block) map[string]string {
	t.Helper()
	cmd := exec.Command("sh", "-c", "set -eu\n"+b.text+"env\n")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range secrets {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the block under %q fails in sh: %v\n%s\nblock:\n%s", b.heading, err, stderr.String(), b.text)
	}
	env := map[string]string{}
	for line := range strings.Lines(string(out)) {
		k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
		if ok && strings.HasPrefix(k, "OTEL_") {
			env[k] = v
		}
	}
	return env
}

// received is one export as the receiver saw it.
type received struct {
	path        string
	contentType string
	encoding    string
	headers     map[string]string // canonical HTTP keys, or lower-case gRPC keys
	req         *coltracepb.ExportTraceServiceRequest
	err         error
}

// httpReceiver is an OTLP/HTTP trace receiver.
func httpReceiver(got chan<- received) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := received{path: r.URL.Path, contentType: r.Header.Get("Content-Type"), encoding: r.Header.Get("Content-Encoding"), headers: map[string]string{}}
		for k := range r.Header {
			rec.headers[k] = r.Header.Get(k)
		}
		var body io.Reader = r.Body
		if rec.encoding == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				rec.err = err
				got <- rec
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		data, err := io.ReadAll(io.LimitReader(body, 16<<20))
		if err == nil {
			rec.req = &coltracepb.ExportTraceServiceRequest{}
			err = proto.Unmarshal(data, rec.req)
		}
		rec.err = err
		got <- rec
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(resp)
	})
}

// grpcReceiver is an OTLP/gRPC trace receiver.
type grpcReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	got chan<- received
}

func (g *grpcReceiver) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	rec := received{headers: map[string]string{}, req: req}
	md, _ := metadata.FromIncomingContext(ctx)
	for k, v := range md {
		rec.headers[k] = strings.Join(v, ",")
	}
	g.got <- rec
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// startReceiver starts a receiver for the documented endpoint u (grpc or
// OTLP/HTTP; TLS when u is https) and returns its host:port and, for TLS,
// the file holding its certificate.
func startReceiver(t *testing.T, u *url.URL, grpcProto bool, got chan<- received) (host, certFile string) {
	t.Helper()
	tlsSrv := httptest.NewUnstartedServer(httpReceiver(got))
	if u.Scheme == "https" {
		tlsSrv.StartTLS()
		certFile = filepath.Join(t.TempDir(), "receiver.pem")
		pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
		if err := os.WriteFile(certFile, pemData, 0o600); err != nil {
			t.Fatal(err)
		}
	} else {
		tlsSrv.Start()
	}
	t.Cleanup(tlsSrv.Close)
	if !grpcProto {
		return tlsSrv.Listener.Addr().String(), certFile
	}
	var opts []grpc.ServerOption
	if u.Scheme == "https" {
		opts = append(opts, grpc.Creds(credentials.NewServerTLSFromCert(&tlsSrv.TLS.Certificates[0])))
	}
	gs := grpc.NewServer(opts...)
	coltracepb.RegisterTraceServiceServer(gs, &grpcReceiver{got: got})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return lis.Addr().String(), certFile
}

// exportRejection exports, through exp, the span of a call that a guard
// named "payments" rejected, as otelbreaker records it.
func exportRejection(t *testing.T, exp sdktrace.SpanExporter) {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "payments", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1, OpenDuration: core.Duration(time.Hour)}}))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := otelbreaker.Instrument(reg, otelbreaker.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Shutdown(context.Background())
	g := reg.MustGuard("payments", core.UsePolicy("payments"))
	p, err := g.Allow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p.Done(errors.New("card network down")) // trips the breaker
	ctx, span := tp.Tracer("checkout").Start(context.Background(), "charge card")
	if _, err := g.Allow(ctx); err == nil {
		t.Fatal("the open breaker admitted the call")
	}
	span.End() // exported at once (WithSyncer)
}

// attr returns the string value of key in attrs.
func attr(attrs []*commonpb.KeyValue, key string) string {
	for _, kv := range attrs {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

func TestAPMGuideSettingsReachTheReceiverAsDocumented(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatalf("sh runs the guide's blocks: %v", err)
	}
	blocks := guideBlocks(t)
	var headings []string
	for _, b := range blocks {
		headings = append(headings, b.heading)
	}
	for h := range want {
		if !slices.Contains(headings, h) {
			t.Errorf("%s has no block of OTLP settings under a heading %q", guide, h)
		}
	}
	for _, b := range blocks {
		t.Run(b.heading, func(t *testing.T) {
			w, ok := want[b.heading]
			if !ok {
				t.Fatalf("%s has a block of OTLP settings under %q, which this test does not check; add it to want", guide, b.heading)
			}
			env := runBlock(t, b)
			checkBlock(t, env, w)
		})
	}
}

// checkBlock configures an exporter from env alone, with the endpoint's
// host moved to a local receiver, exports a rejection and checks what the
// receiver got against w.
func checkBlock(t *testing.T, env map[string]string, w expectation) {
	endpointVar := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	if env[endpointVar] == "" {
		endpointVar = "OTEL_EXPORTER_OTLP_ENDPOINT"
	}
	u, err := url.Parse(env[endpointVar])
	if err != nil || u.Host == "" {
		t.Fatalf("%s=%q is not a URL", endpointVar, env[endpointVar])
	}
	protocol := env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"]
	if protocol == "" {
		protocol = env["OTEL_EXPORTER_OTLP_PROTOCOL"]
	}
	if protocol != "grpc" && protocol != "http/protobuf" {
		t.Fatalf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: the guide names the protocol, grpc or http/protobuf, in every block", protocol)
	}
	got := make(chan received, 4)
	host, certFile := startReceiver(t, u, protocol == "grpc", got)

	// The process's own OTEL_ variables must not leak in.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OTEL_") {
			t.Setenv(k, "")
		}
	}
	u.Host = host
	for k, v := range env {
		t.Setenv(k, v)
	}
	t.Setenv(endpointVar, u.String())
	if certFile != "" {
		t.Setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", certFile)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var exp sdktrace.SpanExporter
	if protocol == "grpc" {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	exportRejection(t, exp)

	var rec received
	select {
	case rec = <-got:
	case <-ctx.Done():
		t.Fatal("the receiver got nothing before the deadline")
	}
	if rec.err != nil {
		t.Fatalf("decoding the export: %v", rec.err)
	}
	if protocol == "http/protobuf" {
		if rec.path != w.path {
			t.Errorf("path %q, want %q", rec.path, w.path)
		}
		if rec.contentType != "application/x-protobuf" {
			t.Errorf("Content-Type %q, want application/x-protobuf", rec.contentType)
		}
		if c := env["OTEL_EXPORTER_OTLP_COMPRESSION"]; c != "" && rec.encoding != c {
			t.Errorf("Content-Encoding %q, want %q", rec.encoding, c)
		}
	}
	for k, v := range w.headers {
		key := http.CanonicalHeaderKey(k)
		if protocol == "grpc" {
			key = strings.ToLower(k)
		}
		if rec.headers[key] != v {
			t.Errorf("header %s: %q, want %q", k, rec.headers[key], v)
		}
	}

	found := false
	for _, rs := range rec.req.GetResourceSpans() {
		if sn := attr(rs.GetResource().GetAttributes(), "service.name"); sn != env["OTEL_SERVICE_NAME"] {
			t.Errorf("service.name %q, want OTEL_SERVICE_NAME %q", sn, env["OTEL_SERVICE_NAME"])
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				if sp.GetName() != "charge card" {
					continue
				}
				found = true
				for k, v := range map[string]string{"breakerbox.guard.name": "payments", "breakerbox.policy.name": "payments", "breakerbox.outcome": "rejected", "error.type": "circuit_open", "breakerbox.circuit_breaker.state": "open"} {
					if got := attr(sp.GetAttributes(), k); got != v {
						t.Errorf("span attribute %s = %q, want %q", k, got, v)
					}
				}
			}
		}
	}
	if !found {
		t.Errorf("no span \"charge card\" in the export: %v", rec.req)
	}
}
