package mesh

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"gopkg.in/yaml.v3"
)

// crdSchemas maps apiVersion/kind to the CRD schema kept in testdata/crds
// (see testdata/crds/README.md for where each comes from).
var crdSchemas = map[string]string{
	"networking.istio.io/v1/DestinationRule": "istio-destinationrule-v1.json",
	"networking.istio.io/v1/VirtualService":  "istio-virtualservice-v1.json",
	"gateway.networking.k8s.io/v1/HTTPRoute": "gateway-httproute-v1.json",
}

// compileCRD compiles a CRD's openAPIV3Schema as the API server applies
// it: apiVersion and kind fixed, metadata an object, and unknown fields
// refused wherever the schema does not preserve them (the API server
// prunes or, with strict field validation, refuses them; a JSON Schema
// allows them unless told).
func compileCRD(t *testing.T, file, apiVersion, kind string) *jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "crds", file))
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	strictify(root)
	props := root["properties"].(map[string]any)
	props["apiVersion"] = map[string]any{"const": apiVersion}
	props["kind"] = map[string]any{"const": kind}
	if _, ok := props["metadata"]; !ok {
		props["metadata"] = map[string]any{"type": "object"}
	}
	root["required"] = append([]any{"apiVersion", "kind", "metadata"}, anySlice(root["required"])...)
	c := jsonschema.NewCompiler()
	url := "file:///" + file
	if err := c.AddResource(url, root); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return s
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// strictify sets additionalProperties: false on every object schema that
// lists its properties and neither sets additionalProperties nor preserves
// unknown fields.
func strictify(v any) {
	switch t := v.(type) {
	case map[string]any:
		_, hasProps := t["properties"]
		_, hasAdditional := t["additionalProperties"]
		preserve, _ := t["x-kubernetes-preserve-unknown-fields"].(bool)
		if hasProps && !hasAdditional && !preserve {
			t["additionalProperties"] = false
		}
		for k, e := range t {
			if k == "properties" {
				for _, p := range e.(map[string]any) {
					strictify(p)
				}
				continue
			}
			strictify(e)
		}
	case []any:
		for _, e := range t {
			strictify(e)
		}
	}
}

// exportAll exports every example document to f, with and without a port.
func exportAll(t *testing.T, f Format) []*Result {
	t.Helper()
	var out []*Result
	for _, path := range exampleDocuments(t) {
		doc := loadDocument(t, path)
		for _, opts := range []Options{{}, {Port: 8443, Namespace: "shop"}} {
			res, err := Export(doc, f, opts)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			out = append(out, res)
		}
	}
	return out
}

// yamlDocuments splits a YAML stream into its documents, as JSON values.
func yamlDocuments(t *testing.T, data []byte) []any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []any
	for {
		var v any
		err := dec.Decode(&v)
		if err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatal(err)
		}
		if v != nil {
			out = append(out, v)
		}
	}
}

// TestKubernetesObjectsMatchTheirCRDSchemas validates every Istio and
// Linkerd object written for the examples, read back from the YAML the
// export prints, against the published CRD schema of its kind.
func TestKubernetesObjectsMatchTheirCRDSchemas(t *testing.T) {
	schemas := map[string]*jsonschema.Schema{}
	for key, file := range crdSchemas {
		i := strings.LastIndex(key, "/")
		schemas[key] = compileCRD(t, file, key[:i], key[i+1:])
	}
	validated := map[string]int{}
	for _, f := range []Format{Istio, Linkerd} {
		for _, res := range exportAll(t, f) {
			y, err := res.YAML()
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range yamlDocuments(t, y) {
				obj := v.(map[string]any)
				key := fmt.Sprint(obj["apiVersion"], "/", obj["kind"])
				checkMetadata(t, obj)
				if key == "v1/Service" {
					checkLinkerdServiceAnnotations(t, obj)
					validated[key]++
					continue
				}
				s, ok := schemas[key]
				if !ok {
					t.Fatalf("no schema for %s", key)
				}
				if err := s.Validate(obj); err != nil {
					t.Errorf("%s %v does not match its CRD schema: %v", key, obj["metadata"], err)
				}
				checkDurations(t, key, obj)
				validated[key]++
			}
		}
	}
	for key := range crdSchemas {
		if validated[key] == 0 {
			t.Errorf("no %s was validated", key)
		}
	}
	t.Logf("objects validated: %v", validated)
}

// TestCRDSchemaRefusesAMisspelledField checks the validation has teeth: the
// schema refuses a field Istio does not have and a value of the wrong type.
func TestCRDSchemaRefusesAMisspelledField(t *testing.T) {
	s := compileCRD(t, crdSchemas["networking.istio.io/v1/DestinationRule"], "networking.istio.io/v1", "DestinationRule")
	for name, spec := range map[string]string{
		"unknown field": `{"host":"a","trafficPolicy":{"outlierDetection":{"consecutive5xxErrorz":3}}}`,
		"wrong type":    `{"host":"a","trafficPolicy":{"connectionPool":{"http":{"http2MaxRequests":"ten"}}}}`,
		"out of range":  `{"host":"a","trafficPolicy":{"outlierDetection":{"failurePercentageThreshold":150}}}`,
	} {
		var obj map[string]any
		if err := json.Unmarshal([]byte(`{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"x"},"spec":`+spec+`}`), &obj); err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(obj); err == nil {
			t.Errorf("%s: %s validated", name, spec)
		}
	}
}

// checkMetadata checks what the API server checks of metadata: a DNS-1123
// name of at most 63 characters (253 for a Service is not needed: 63 is
// the stricter), and the policy annotation.
func checkMetadata(t *testing.T, obj map[string]any) {
	t.Helper()
	md := obj["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	if !labelRE.MatchString(name) {
		t.Errorf("%v: metadata.name %q is not a DNS-1123 label", obj["kind"], name)
	}
	if ns, ok := md["namespace"].(string); ok && !labelRE.MatchString(ns) {
		t.Errorf("%v %s: metadata.namespace %q is not a DNS-1123 label", obj["kind"], name, ns)
	}
	ann, _ := md["annotations"].(map[string]any)
	if _, ok := ann[PolicyAnnotation]; !ok {
		t.Errorf("%v %s: no %s annotation", obj["kind"], name, PolicyAnnotation)
	}
	for k, v := range ann {
		if _, ok := v.(string); !ok {
			t.Errorf("%v %s: annotation %s is %T, not a string", obj["kind"], name, k, v)
		}
	}
}

// checkDurations applies the rule Istio's CRDs check with CEL, which a JSON
// Schema validator does not run: every duration is valid and at least 1ms.
func checkDurations(t *testing.T, key string, v any) {
	t.Helper()
	durationFields := map[string]bool{"interval": true, "baseEjectionTime": true, "timeout": true, "perTryTimeout": true, "backoff": true}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && durationFields[k] {
					d, err := time.ParseDuration(s)
					if err != nil || d < time.Millisecond {
						t.Errorf("%s: %s %q is not a duration of 1ms or more", key, k, s)
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
}

// checkLinkerdServiceAnnotations checks the values of Linkerd's failure
// accrual annotations as its policy controller parses them.
func checkLinkerdServiceAnnotations(t *testing.T, obj map[string]any) {
	t.Helper()
	ann := obj["metadata"].(map[string]any)["annotations"].(map[string]any)
	if ann[linkerdFailureAccrual] != "consecutive" {
		t.Errorf("Service: %s = %v, want consecutive", linkerdFailureAccrual, ann[linkerdFailureAccrual])
	}
	if n, err := strconv.Atoi(fmt.Sprint(ann[linkerdMaxFailures])); err != nil || n < 1 {
		t.Errorf("Service: %s = %v, want a count", linkerdMaxFailures, ann[linkerdMaxFailures])
	}
	for _, k := range []string{linkerdMinPenalty, linkerdMaxPenalty} {
		if d, err := time.ParseDuration(fmt.Sprint(ann[k])); err != nil || d <= 0 {
			t.Errorf("Service: %s = %v, want a duration", k, ann[k])
		}
	}
	if s, ok := ann[linkerdJitterRatio]; ok {
		if r, err := strconv.ParseFloat(fmt.Sprint(s), 64); err != nil || r < 0 || r > 100 {
			t.Errorf("Service: %s = %v, want a ratio", linkerdJitterRatio, s)
		}
	}
}

// TestEnvoyClustersRoundTripAndValidate reads every Envoy cluster written
// for the examples back from the printed YAML into go-control-plane's
// generated type (protojson, unknown fields refused), runs its generated
// ValidateAll, and compares it with the cluster the export built.
func TestEnvoyClustersRoundTripAndValidate(t *testing.T) {
	n := 0
	for _, res := range exportAll(t, Envoy) {
		y, err := res.YAML()
		if err != nil {
			t.Fatal(err)
		}
		docs := yamlDocuments(t, y)
		if len(docs) != len(res.Objects) {
			t.Fatalf("%d YAML documents for %d objects", len(docs), len(res.Objects))
		}
		for i, v := range docs {
			j, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			c, err := EnvoyCluster(Object{Kind: "Cluster", Name: res.Objects[i].Name, JSON: j})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.ValidateAll(); err != nil {
				t.Errorf("cluster %s: %v", c.Name, err)
			}
			orig, err := EnvoyCluster(res.Objects[i])
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(c, orig) {
				t.Errorf("cluster %s changed through YAML:\n%s\n%s", c.Name, protojson.Format(c), protojson.Format(orig))
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no cluster validated")
	}
}
