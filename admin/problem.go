package admin

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Problem codes (Problem.Code; Problem.Type is ProblemTypePrefix + code).
const (
	codeInvalid       = "invalid_request"
	codeUnknownField  = "unknown_field"
	codeTooLarge      = "body_too_large"
	codeMediaType     = "unsupported_media_type"
	codeUnauthorized  = "unauthorized"
	codeForbidden     = "forbidden"
	codeReadOnly      = "read_only"
	codeUnknownGuard  = "unknown_guard"
	codeNoGuards      = "no_guards"
	codeNotFound      = "not_found"
	codeMethod        = "method_not_allowed"
	codeAuditFailed   = "audit_failed"
	codeInternal      = "internal"
	codeMisconfigured = "misconfigured"
	codeBusy          = "too_many_streams"
	codeClosed        = "closed"
)

// problem builds a Problem with the standard title for status.
func problem(status int, code, detail string) *Problem {
	return &Problem{
		Type:   ProblemTypePrefix + code,
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

// writeProblem sends p as application/problem+json.
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	cp := *p
	if cp.Instance == "" && r != nil {
		cp.Instance = r.URL.EscapedPath()
	}
	if cp.Status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="breakerbox"`)
	}
	b, err := json.Marshal(&cp)
	if err != nil { // cannot happen: Problem holds only strings and an int
		b = []byte(`{"type":"` + ProblemTypePrefix + codeInternal + `","title":"Internal Server Error","status":500,"code":"internal"}`)
		cp.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(cp.Status)
	_, _ = w.Write(append(b, '\n'))
}

// writeJSON sends v as application/json with status.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, r, problem(http.StatusInternalServerError, codeInternal, "encoding the answer: "+err.Error()))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
