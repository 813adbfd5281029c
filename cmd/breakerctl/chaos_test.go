package main

import (
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/admin/wire"
)

func TestChaosCommands(t *testing.T) {
	addr := startServer(t, "-chaos")
	env := envFor(addr, aliceToken)
	readEnv := envFor(addr, readToken)

	// A read token cannot start one; a missing --for is a usage error; a
	// rate above 1 is refused by the server, naming the field.
	ctl(t, readEnv, "chaos", "start", "--fault", "reject", "--guard", "search", "--for", "5m", "-r", "x").want(t, exitRefused)
	ctl(t, env, "chaos", "start", "--fault", "reject", "--guard", "search", "-r", "x").want(t, exitUsage)
	if r := ctl(t, env, "chaos", "start", "--fault", "error", "--rate", "1.5", "--guard", "search", "--for", "5m", "-r", "x").want(t, exitRefused); !strings.Contains(r.stderr, "rate: 1.5 is above 1") {
		t.Errorf("rate 1.5: %s", r.stderr)
	}
	// The critical guard is left alone.
	if r := ctl(t, env, "chaos", "start", "--fault", "reject", "--guard", "payments.charge", "--for", "5m", "-r", "x").want(t, exitRefused); !strings.Contains(r.stderr, "critical") {
		t.Errorf("critical guard: %s", r.stderr)
	}

	var res wire.ChaosResult
	ctl(t, env, "chaos", "start", "--fault", "latency", "--latency", "1ms", "--rate", "0.5", "--guard", "search", "--for", "5m", "-r", "drill", "--json").want(t, 0).json(t, &res)
	if len(res.Experiments) != 1 || res.Experiments[0].ID != "exp-1" || res.Experiments[0].Actor != "alice" {
		t.Fatalf("start: %+v", res)
	}
	r := ctl(t, env, "chaos", "start", "--fault", "trip", "--tag", "search", "--for", "5m", "-r", "trip").want(t, 0)
	if !strings.Contains(r.stdout, "exp-2") || !strings.Contains(r.stdout, "running") {
		t.Errorf("start output:\n%s", r.stdout)
	}
	r = ctl(t, readEnv, "chaos", "list").want(t, 0)
	if !strings.Contains(r.stdout, "exp-1") || !strings.Contains(r.stdout, "latency 50% +1ms") {
		t.Errorf("list:\n%s", r.stdout)
	}
	ctl(t, env, "chaos", "stop", "exp-1", "-r", "done").want(t, 0)
	ctl(t, env, "chaos", "stop", "exp-1", "-r", "again").want(t, exitRefused)
	r = ctl(t, env, "chaos", "kill", "-r", "pager").want(t, 0)
	if !strings.Contains(r.stdout, "stopped 1 experiment") {
		t.Errorf("kill:\n%s", r.stdout)
	}
	var rep wire.ChaosReport
	ctl(t, readEnv, "chaos", "list", "--json").want(t, 0).json(t, &rep)
	for _, e := range rep.Experiments {
		if e.Active {
			t.Errorf("active after the kill switch: %+v", e)
		}
	}
	if states(t, env)["search"] != "closed" {
		t.Errorf("search not closed after the kill switch: %v", states(t, env))
	}
}

func TestChaosCommandsOnAServerWithoutChaos(t *testing.T) {
	env := envFor(startServer(t), aliceToken)
	if r := ctl(t, env, "chaos", "list").want(t, 0); !strings.Contains(r.stdout, "chaos is off") {
		t.Errorf("list:\n%s", r.stdout)
	}
	ctl(t, env, "chaos", "kill", "-r", "x").want(t, exitRefused)
}
