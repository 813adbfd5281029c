package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// jaegerBinaryName is the name .ci/run installs Jaeger (v2, the
// cmd/jaeger program of the version e2e/apmtool pins) under, in
// $(go env GOPATH)/bin.
const jaegerBinaryName = "jaeger"

// jaegerBinary finds Jaeger: $BREAKERBOX_JAEGER, then PATH, then
// GOPATH/bin. Without it the test skips, except in CI, where it fails.
func jaegerBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BREAKERBOX_JAEGER"); p != "" {
		return p
	}
	if p, err := exec.LookPath(jaegerBinaryName); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		gopath = build.Default.GOPATH
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", jaegerBinaryName)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := jaegerBinaryName + " not found (in $BREAKERBOX_JAEGER, PATH or GOPATH/bin); build it with: " +
		"cd e2e/apmtool && go build -o \"$(go env GOPATH)/bin/" + jaegerBinaryName + "\" github.com/jaegertracing/jaeger/cmd/jaeger"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (.ci/run does this; CI=true makes a missing APM a failure)")
	}
	t.Skip(msg)
	return ""
}

// jaeger is a running Jaeger with in-memory storage, every port on
// loopback.
type jaeger struct {
	otlpHTTP string // host:port of the OTLP/HTTP receiver
	query    string // base URL of the query service (UI and /api)
}

// jaegerConfig is a Jaeger v2 configuration (an OpenTelemetry Collector
// configuration with Jaeger's extensions): an OTLP receiver, in-memory
// trace storage, the query service and a health check, on the given
// addresses, and no other listener (the collector's own metrics are off).
const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: {{health}}
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: {{queryHTTP}}
    grpc:
      endpoint: {{queryGRPC}}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {{otlpGRPC}}
      http:
        endpoint: {{otlpHTTP}}
processors:
  batch: {}
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`

// startJaeger starts Jaeger on free loopback ports and waits until its
// health check answers. It is stopped when the test ends.
func startJaeger(t *testing.T) *jaeger {
	t.Helper()
	bin := jaegerBinary(t)
	var lastErr error
	for try := 0; try < 3; try++ { // a free port can be taken between probe and bind
		j, err := tryStartJaeger(t, bin, try)
		if err == nil {
			return j
		}
		lastErr = err
		t.Logf("starting Jaeger: %v", err)
	}
	t.Fatalf("Jaeger did not start: %v", lastErr)
	return nil
}

func tryStartJaeger(t *testing.T, bin string, try int) (*jaeger, error) {
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	dir := t.TempDir()
	config := strings.NewReplacer("{{otlpHTTP}}", addr(0), "{{otlpGRPC}}", addr(1),
		"{{queryHTTP}}", addr(2), "{{queryGRPC}}", addr(3), "{{health}}", addr(4)).Replace(jaegerConfig)
	configPath := filepath.Join(dir, "jaeger.yaml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "jaeger-"+strconv.Itoa(try)+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--config", configPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = logFile.Close()
	}
	logTail := func() string {
		b, _ := os.ReadFile(logPath)
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		return string(b)
	}

	health := "http://" + addr(4) + "/status"
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			stop()
			return nil, fmt.Errorf("jaeger exited: %v; log:\n%s", err, logTail())
		default:
		}
		if resp, err := http.Get(health); err == nil {
			var h struct {
				Healthy bool   `json:"healthy"`
				Status  string `json:"status"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&h)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK && h.Healthy && h.Status == "StatusOK" {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("jaeger not healthy after 90s; log:\n%s", logTail())
		}
		time.Sleep(100 * time.Millisecond) // polling a real process, bounded by the deadline
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("jaeger log:\n%s", logTail())
		}
	})
	return &jaeger{otlpHTTP: addr(0), query: "http://" + addr(2)}, nil
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// The subset of Jaeger's query API JSON (/api/traces) the test reads.
type jTraces struct {
	Data []jTrace `json:"data"`
}

type jTrace struct {
	TraceID string  `json:"traceID"`
	Spans   []jSpan `json:"spans"`
}

type jSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []jKV `json:"tags"`
	Logs []struct {
		Fields []jKV `json:"fields"`
	} `json:"logs"`
}

type jKV struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

func (s jSpan) tag(k string) string {
	for _, kv := range s.Tags {
		if kv.Key == k {
			return fmt.Sprint(kv.Value)
		}
	}
	return ""
}

// events returns the span's events (Jaeger "logs") as attribute maps, the
// event name under "event".
func (s jSpan) events() []map[string]string {
	var out []map[string]string
	for _, l := range s.Logs {
		m := map[string]string{}
		for _, kv := range l.Fields {
			m[kv.Key] = fmt.Sprint(kv.Value)
		}
		out = append(out, m)
	}
	return out
}

// traces reads the traces of service back from Jaeger's query API.
func (j *jaeger) traces(ctx context.Context, service string) ([]jTrace, error) {
	u := j.query + "/api/traces?" + url.Values{"service": {service}, "limit": {"1000"}, "lookback": {"1h"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil // the service is not known yet
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New("query API: " + resp.Status)
	}
	var out jTraces
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	return out.Data, nil
}
