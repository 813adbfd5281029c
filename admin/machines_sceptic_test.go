package admin

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestMachineStateSceptic: bad requests to POST /v1/machines/{guard}/state
// are refused naming the field, and leave the machine where it was: an
// empty, unknown, multi-line or 1 MiB state, no reason, an unknown guard,
// a guard without a machine, a body that is not JSON or has an unknown
// field. A guard whose name has dots is reached.
func TestMachineStateSceptic(t *testing.T) {
	a := machineAPI(t)
	a.reg.MustGuard("inventory..")
	path := "/v1/machines/" + url.PathEscape("inventory.read") + "/state"
	for _, tc := range []struct {
		path   string
		body   any
		status int
		field  string
	}{
		{path, MachineStateRequest{State: "", Reason: "x"}, http.StatusBadRequest, "state"},
		{path, MachineStateRequest{State: "sick", Reason: "x"}, http.StatusBadRequest, "state"},
		{path, MachineStateRequest{State: "degraded\nhealthy", Reason: "x"}, http.StatusBadRequest, "state"},
		{path, MachineStateRequest{State: strings.Repeat("s", 1<<20), Reason: "x"}, http.StatusRequestEntityTooLarge, ""},
		{path, MachineStateRequest{State: "degraded"}, http.StatusBadRequest, "reason"},
		{path, MachineStateRequest{State: "degraded", Reason: strings.Repeat("r", MaxReasonLength+1)}, http.StatusBadRequest, "reason"},
		{path, `{"state": "degraded", "reason": "x"`, http.StatusBadRequest, ""},
		{path, `{"state": "degraded", "reason": "x", "force": true}`, http.StatusBadRequest, "force"},
		{"/v1/machines/" + url.PathEscape("no/such") + "/state", MachineStateRequest{State: "degraded", Reason: "x"}, http.StatusNotFound, "no/such"},
		{"/v1/machines/search/state", MachineStateRequest{State: "degraded", Reason: "x"}, http.StatusNotFound, "search"},
	} {
		r := a.do(http.MethodPost, tc.path, aliceSecret, tc.body)
		if r.status != tc.status {
			t.Errorf("%s %.60v: status %d, want %d; body %.300s", tc.path, tc.body, r.status, tc.status, r.body)
			continue
		}
		if tc.field != "" && !strings.Contains(string(r.body), tc.field) {
			t.Errorf("%s %.60v: body %.300s does not name %s", tc.path, tc.body, r.body, tc.field)
		}
	}
	if s := a.reg.MustGuard("inventory.read").Machine().State(); s != "healthy" {
		t.Fatalf("refused requests moved the machine to %q", s)
	}
	var res MachineStateResult
	a.do(http.MethodPost, "/v1/machines/"+url.PathEscape("inventory..")+"/state", aliceSecret, MachineStateRequest{State: "maintenance", Reason: "x"}).ok(t, &res)
	if res.Guard != "inventory.." || res.To != "maintenance" {
		t.Fatalf("set inventory..: %+v", res)
	}
}
