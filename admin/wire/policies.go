package wire

import (
	"encoding/json"
	"time"
)

// PolicyRecord is one version of the policy document: the answer to
// GET /v1/policies (the live version) and GET /v1/policies/versions/{v},
// and an entry of PolicyHistory (without Document).
type PolicyRecord struct {
	Version    uint64    `json:"version"`
	Hash       string    `json:"hash"`
	Source     string    `json:"source,omitempty"`
	Actor      string    `json:"actor,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	RollbackOf uint64    `json:"rollbackOf,omitempty"`
	At         time.Time `json:"at"`
	// Live is true for the version the registry runs.
	Live bool `json:"live,omitempty"`
	// Document is the policy document (core.Document as JSON).
	Document json.RawMessage `json:"document,omitempty"`
}

// PolicyHistory is the answer to GET /v1/policies/history: versions,
// newest first.
type PolicyHistory struct {
	Live     uint64         `json:"live"`
	Versions []PolicyRecord `json:"versions"`
}

// PolicyApplyRequest is the body of PUT /v1/policies.
type PolicyApplyRequest struct {
	// Document is the policy document (core.Document as JSON).
	Document json.RawMessage `json:"document"`
	Reason   string          `json:"reason,omitempty"`
	// DryRun checks the document and reports what it would change,
	// without applying or storing it.
	DryRun bool `json:"dryRun,omitempty"`
}

// PolicyRollbackRequest is the body of POST /v1/policies/rollback: apply
// version Version again, as a new version.
type PolicyRollbackRequest struct {
	Version uint64 `json:"version"`
	Reason  string `json:"reason,omitempty"`
}

// PolicyApplyResult answers PUT /v1/policies and POST
// /v1/policies/rollback: the new version and what it changed, by policy
// name. A refused document is a Problem with code
// "invalid_policy_document" listing every problem.
type PolicyApplyResult struct {
	Record    PolicyRecord `json:"record"`
	DryRun    bool         `json:"dryRun,omitempty"`
	Added     []string     `json:"added,omitempty"`
	Changed   []string     `json:"changed,omitempty"`
	Removed   []string     `json:"removed,omitempty"`
	Unchanged []string     `json:"unchanged,omitempty"`
}

// The audit operations of the policy endpoints: an AuditRecord of PUT
// /v1/policies has Op OpPolicyApply, one of POST /v1/policies/rollback
// OpPolicyRollback; both name the version in Params["version"] (and the
// version rolled back to in Params["rollbackOf"]).
const (
	OpPolicyApply    Op = "policy-apply"
	OpPolicyRollback Op = "policy-rollback"
)
