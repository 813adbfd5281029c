package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/chaos"
	"github.com/breakerbox/breakerbox/core"
)

// chaosAPI is an admin server over a registry built with chaos, with the
// guards of testRegistry (payments.charge is critical).
func chaosAPI(t *testing.T, opts ...Option) (*testAPI, *chaos.Injector) {
	t.Helper()
	inj, err := chaos.New(chaos.Config{MaxGuards: 2})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := core.NewRegistry(core.WithChaos(inj), core.WithPolicies(
		core.Policy{Name: "critical", Critical: true},
	))
	if err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("payments.charge", core.UsePolicy("critical"), core.WithTags("payments"))
	reg.MustGuard("payments.refund", core.WithTags("payments"))
	reg.MustGuard("search")
	return newTestAPIFor(t, reg, opts...), inj
}

func TestChaosEndpointsStartStopAndKillAudited(t *testing.T) {
	a, _ := chaosAPI(t)
	start := ChaosStartRequest{Experiment: chaos.Experiment{Fault: chaos.FaultReject, Rate: 1, Guards: []string{"search"}, Reason: "game day"}, For: core.Duration(10 * time.Minute)}
	var res ChaosResult
	a.do(http.MethodPost, "/v1/chaos/experiments", aliceSecret, start).ok(t, &res)
	if len(res.Experiments) != 1 || res.Experiments[0].Actor != "alice" || res.AuditSeq == 0 {
		t.Fatalf("start: %+v", res)
	}
	id := res.Experiments[0].ID
	err := a.reg.MustGuard("search").Do(context.Background(), func(context.Context) error { return nil })
	if !errors.Is(err, core.ErrChaos) {
		t.Fatalf("search under chaos: %v", err)
	}
	var rep ChaosReport
	a.do(http.MethodGet, "/v1/chaos", readSecret, nil).ok(t, &rep)
	if !rep.Enabled || rep.MaxGuards != 2 || len(rep.Experiments) != 1 || !rep.Experiments[0].Active || rep.Experiments[0].Calls != 1 {
		t.Fatalf("report: %+v", rep)
	}
	a.do(http.MethodPost, "/v1/chaos/stop", bobSecret, ChaosStopRequest{ID: id, Reason: "done"}).ok(t, &res)
	a.do(http.MethodPost, "/v1/chaos/stop", bobSecret, ChaosStopRequest{ID: id, Reason: "again"}).problem(t, 404, codeNotFound)
	start.Guards = []string{"payments.refund"}
	a.do(http.MethodPost, "/v1/chaos/experiments", aliceSecret, start).ok(t, nil)
	a.do(http.MethodPost, "/v1/chaos/kill", bobSecret, ChaosKillRequest{Reason: "pager went off"}).ok(t, &res)
	if len(res.Experiments) != 1 {
		t.Fatalf("kill stopped %+v", res.Experiments)
	}
	if err := a.reg.MustGuard("payments.refund").Do(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatalf("after the kill switch: %v", err)
	}
	var ops []string
	for _, r := range a.audit("").Records {
		ops = append(ops, string(r.Op)+"/"+r.Actor+"/"+r.Params["id"])
	}
	if got := strings.Join(ops, " "); got != "chaos-start/alice/exp-1 chaos-stop/bob/exp-1 chaos-start/alice/exp-2 chaos-kill/bob/" {
		t.Fatalf("audit: %s", got)
	}
}

func TestChaosEndpointsRefuseWithoutAWriteToken(t *testing.T) {
	a, inj := chaosAPI(t)
	start := ChaosStartRequest{Experiment: chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Guards: []string{"search"}, Reason: "x"}, For: core.Duration(time.Minute)}
	a.do(http.MethodPost, "/v1/chaos/experiments", "", start).problem(t, 401, codeUnauthorized)
	a.do(http.MethodPost, "/v1/chaos/experiments", readSecret, start).problem(t, 403, codeForbidden)
	a.do(http.MethodPost, "/v1/chaos/kill", readSecret, ChaosKillRequest{Reason: "x"}).problem(t, 403, codeForbidden)
	a.do(http.MethodPost, "/v1/chaos/stop", "", ChaosStopRequest{ID: "exp-1", Reason: "x"}).problem(t, 401, codeUnauthorized)
	if l := inj.List(); len(l) != 0 {
		t.Fatalf("experiments after refused starts: %+v", l)
	}
	if n := len(a.audit("").Records); n != 0 {
		t.Fatalf("%d audit records after refused writes", n)
	}
}

func TestChaosEndpointsRefuseBadExperimentsNamingTheField(t *testing.T) {
	a, inj := chaosAPI(t)
	for _, tc := range []struct {
		req  ChaosStartRequest
		want string
	}{
		{ChaosStartRequest{Experiment: chaos.Experiment{Fault: chaos.FaultError, Rate: 1.5, Guards: []string{"search"}, Reason: "x"}, For: core.Duration(time.Minute)}, "rate: 1.5 is above 1"},
		{ChaosStartRequest{Experiment: chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Guards: []string{"search"}, Reason: "x"}}, "ends: required"},
		{ChaosStartRequest{Experiment: chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Guards: []string{"payments.charge"}, Reason: "x"}, For: core.Duration(time.Minute)}, `guards[0]: "payments.charge" is critical`},
		{ChaosStartRequest{Experiment: chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Guards: []string{"search"}}, For: core.Duration(time.Minute)}, "reason: is required"},
	} {
		p := a.do(http.MethodPost, "/v1/chaos/experiments", aliceSecret, tc.req).problem(t, 400, codeInvalid)
		if !strings.Contains(p.Detail, tc.want) {
			t.Errorf("detail %q, want %q", p.Detail, tc.want)
		}
	}
	if len(inj.List()) != 0 || len(a.audit("").Records) != 0 {
		t.Fatal("a refused experiment started or was audited")
	}
}

func TestChaosEndpointsCannotTurnChaosOn(t *testing.T) {
	a := newTestAPI(t) // a registry built without chaos
	var rep ChaosReport
	a.do(http.MethodGet, "/v1/chaos", readSecret, nil).ok(t, &rep)
	if rep.Enabled || len(rep.Experiments) != 0 {
		t.Fatalf("report: %+v", rep)
	}
	start := ChaosStartRequest{Experiment: chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Reason: "x"}, For: core.Duration(time.Minute)}
	a.do(http.MethodPost, "/v1/chaos/experiments", aliceSecret, start).problem(t, 409, codeChaosOff)
	a.do(http.MethodPost, "/v1/chaos/kill", aliceSecret, ChaosKillRequest{Reason: "x"}).problem(t, 409, codeChaosOff)
}

func TestChaosStartWhoseAuditFailsIsStopped(t *testing.T) {
	a, inj := chaosAPI(t, WithAuditSink(&failingSink{fail: true}))
	start := ChaosStartRequest{Experiment: chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Guards: []string{"search"}, Reason: "x"}, For: core.Duration(time.Minute)}
	a.do(http.MethodPost, "/v1/chaos/experiments", aliceSecret, start).problem(t, 503, codeAuditFailed)
	if act := inj.Active(); len(act) != 0 {
		t.Fatalf("an unaudited experiment runs: %+v", act)
	}
}
