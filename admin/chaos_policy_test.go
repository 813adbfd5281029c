package admin

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/chaos"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/policy"
)

// An experiment of the policy document is audited like one started through
// POST /v1/chaos/experiments, with the document's author as the actor,
// after the apply's own record; a document removing it audits its stop.
func TestPolicyChaosExperimentsAudited(t *testing.T) {
	inj, err := chaos.New(chaos.Config{MaxGuards: 2})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := core.NewRegistry(core.WithChaos(inj))
	if err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("search")
	store, err := policy.OpenFileStore(filepath.Join(t.TempDir(), "policies.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	m, err := policy.NewManager(context.Background(), reg, store)
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAPIFor(t, reg, WithPolicyManager(m))
	ends := time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)
	doc := `{"policies":[{"name":"search"}],"chaos":[{"id":"slow-search","fault":"latency","rate":0.5,"latency":"20ms","guards":["search"],"ends":"` + ends + `","reason":"game day"}]}`
	a.do(http.MethodPut, "/v1/policies", aliceSecret, applyReq(doc, "rehearse", false)).ok(t, nil)
	// Applied outside the admin API (a watched file, say): audited too.
	if _, err := m.Apply(context.Background(), core.Document{Policies: []core.Policy{{Name: "search"}}}, policy.Meta{Actor: "ci", Reason: "end it"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		got = got[:0]
		for _, r := range a.audit("").Records {
			got = append(got, string(r.Op)+"/"+r.Actor+"/"+r.Params["id"]+"/"+r.Params["source"]+"/"+r.Params["policyVersion"])
		}
		if len(got) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond) // the records are written by a goroutine; no timing is asserted
	}
	want := "policy-apply/alice/// chaos-start/alice/slow-search/policy/1 chaos-stop/ci/slow-search/policy/2"
	if s := strings.Join(got, " "); s != want {
		t.Fatalf("audit:\n%s\nwant\n%s", s, want)
	}
}

// Applying a chaos section through the admin API on a registry without
// chaos is refused, naming the section, and nothing is stored.
func TestPolicyChaosSectionWithoutChaosRefused(t *testing.T) {
	a, m := newPolicyAPI(t)
	doc := `{"policies":[],"chaos":[{"id":"x","fault":"reject","rate":1,"duration":"5m"}]}`
	p := a.do(http.MethodPut, "/v1/policies", aliceSecret, applyReq(doc, "try", false)).problem(t, http.StatusUnprocessableEntity, codeInvalidPolicy)
	if len(p.Problems) != 1 || p.Problems[0].Path != "chaos" || !strings.Contains(p.Problems[0].Message, "core.WithChaos") {
		t.Fatalf("problems: %+v", p.Problems)
	}
	if _, ok := m.Current(); ok {
		t.Fatal("a version is live")
	}
}
