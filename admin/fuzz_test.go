package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	`{"name":"search","reason":"x"}`,
	`{"tag":"stripe","reason":"maintenance","duration":"30m"}`,
	`{"all":true,"reason":"x","until":"2030-01-02T15:04:05Z"}`,
	`{"Name":"search","reason":"x"}`,
	`{"name":"search","name":"x","reason":"x"}`,
	`{"name":"search","reason":"x","extra":{"a":[1,2,{"b":null}]}}`,
	`{"reason":"x","snapshot":{"version":1,"takenAt":"2030-01-02T15:04:05Z","guards":[{"name":"a","state":"forced-open","since":"2030-01-02T15:04:05Z","override":{"state":"forced-open","at":"2030-01-02T15:04:05Z"}}]}}`,
	`{"reason":"x","snapshot":{"version":1,"guards":[{"name":"a","state":"open","override":{"state":"open","until":"2030-01-02T15:04:05Z","at":"2030-01-02T15:04:05Z"}}]}}`,
	`{"idle":"24h","dryRun":true}`,
	`{"idle":"1ns","reason":"x"}`,
	`{"name":"search","reason":"x"} trailing`,
	`[{"name":"search"}]`,
	`"just a string"`,
	`{"name":"\u00e9\ud800","reason":"\u0000"}`,
	`{"name":1e400,"reason":"x"}`,
	`{`,
	``,
}

// checkStrict holds decodeStrict against encoding/json, the naive model:
// whatever decodeStrict accepts, encoding/json (with unknown fields
// disallowed) accepts too and decodes to the same value, and the value
// survives a round trip through encoding and decodeStrict. Whatever it
// refuses carries a message.
func checkStrict[T any](t *testing.T, data []byte) {
	var got T
	err := decodeStrict(data, &got)
	if err != nil {
		if err.Error() == "" {
			t.Fatal("empty error message")
		}
		return
	}
	var model T
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&model); err != nil {
		t.Fatalf("decodeStrict accepted %q, encoding/json refuses it: %v", data, err)
	}
	if !reflect.DeepEqual(got, model) {
		t.Fatalf("decodeStrict gave %+v, encoding/json %+v", got, model)
	}
	enc, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("re-encoding %+v: %v", got, err)
	}
	var again T
	if err := decodeStrict(enc, &again); err != nil {
		t.Fatalf("the re-encoded %s is refused: %v", enc, err)
	}
	enc2, _ := json.Marshal(again)
	if !bytes.Equal(enc, enc2) {
		t.Fatalf("round trip changed %s into %s", enc, enc2)
	}
}

func FuzzDecodeOperationRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkStrict[OperationRequest](t, data) })
}

func FuzzDecodeRestoreRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkStrict[RestoreRequest](t, data) })
}

// FuzzAPIBodies sends arbitrary bodies to every write endpoint: the answer
// is never a server error, and every refusal is a problem document.
func FuzzAPIBodies(f *testing.F) {
	for _, s := range fuzzSeeds {
		for _, p := range []string{"/v1/operations/open", "/v1/operations/release", "/v1/prune", "/v1/snapshot/restore"} {
			f.Add(p, []byte(s))
		}
	}
	reg := testRegistry(f)
	s, err := New(reg, WithToken("alice", aliceSecret, Write), WithMaxBodyBytes(4096))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req := httptest.NewRequest(http.MethodPost, "http://admin"+"/", bytes.NewReader(body))
		req.URL.Path = path
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+aliceSecret)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var p Problem
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%s: %d with Content-Type %q", path, rec.Code, ct)
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code || p.Code == "" {
				t.Fatalf("%s: problem %s: %v", path, rec.Body, err)
			}
		}
	})
}
