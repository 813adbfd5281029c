package mesh

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// PolicyAnnotation is set on every Kubernetes object an export writes: the
// name of the breakerbox policy it was made from.
const PolicyAnnotation = "breakerbox.dev/policy"

// objectMeta is the metadata of a Kubernetes object.
type objectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func newMeta(p resolved, opts Options) objectMeta {
	return objectMeta{
		Name:        objectName(p.Name),
		Namespace:   opts.Namespace,
		Labels:      map[string]string{"app.kubernetes.io/managed-by": "breakerctl"},
		Annotations: map[string]string{PolicyAnnotation: p.Name},
	}
}

// kubeObject is a Kubernetes object with a spec.
type kubeObject struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       any        `json:"spec,omitempty"`
}

func objectOf(p resolved, o kubeObject) (Object, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return Object{}, err
	}
	return Object{Policy: p.Name, Kind: o.Kind, Name: o.Metadata.Name, JSON: b}, nil
}

// protoDuration formats d as a protobuf Duration in JSON ("30s",
// "0.250s"), the form Istio's and Envoy's APIs read. Linkerd's annotations
// take the same form.
func protoDuration(d time.Duration) string {
	secs, frac := d/time.Second, d%time.Second
	if frac == 0 {
		return fmt.Sprintf("%ds", secs)
	}
	return strings.TrimRight(fmt.Sprintf("%d.%09d", secs, frac), "0") + "s"
}

// atLeastMillisecond raises a duration under 1ms (the least Istio and
// Linkerd accept) to 1ms, recording the change.
func atLeastMillisecond(p resolved, field string, d time.Duration, loss *[]Loss) time.Duration {
	if d > 0 && d < time.Millisecond {
		*loss = append(*loss, Loss{Policy: p.Name, Field: field, Kind: Approximated, Message: fmt.Sprintf("%s is under the 1ms the mesh accepts: written as 1ms", d)})
		return time.Millisecond
	}
	return d
}

// routeTimeout is the bound of a whole call: totalTimeout, or retry.maxTotal,
// the smaller when both are set; with one attempt, the attempt's timeout
// bounds the call too.
func routeTimeout(p resolved) time.Duration {
	t := time.Duration(p.TotalTimeout)
	if p.Retry != nil && p.Retry.MaxTotal > 0 && (t == 0 || time.Duration(p.Retry.MaxTotal) < t) {
		t = time.Duration(p.Retry.MaxTotal)
	}
	if t == 0 && p.Attempts == 1 {
		t = time.Duration(p.Timeout)
	}
	return t
}

// retryOnHTTP is what a mesh retries, the nearest to what breakerbox's
// default classifiers count as failures: connection failures, resets and
// 5xx responses (gRPC: UNAVAILABLE).
const retryOnHTTP = "connect-failure,refused-stream,reset,5xx,unavailable"
