package admin

import (
	"bytes"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// debugTemplate is the /debug page: plain HTML, no script, in the spirit of
// /debug/requests. html/template escapes every value.
var debugTemplate = template.Must(template.New("debug").Funcs(template.FuncMap{
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05.000Z")
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>breakerbox /debug</title>
<style>
body { font-family: monospace; margin: 1em 2em; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: left; vertical-align: top; }
th { background: #eee; }
.open, .forced-open { color: #b00; font-weight: bold; }
.half-open { color: #a60; }
.disabled, .metrics-only { color: #06a; }
</style>
</head>
<body>
<h1>breakerbox /debug</h1>
<p>At {{ts .Now}}. {{len .Guards}} guards; the last {{len .Transitions}} transitions and {{len .Ops}} operations kept in memory, newest first.</p>
<h2>Guards</h2>
<table>
<tr><th>guard</th><th>state</th><th>since</th><th>open until</th><th>failure rate</th><th>admitted</th><th>rejected</th><th>tags</th></tr>
{{range .Guards}}<tr><td>{{.Name}}{{if .Critical}} (critical){{end}}</td><td class="{{.State}}">{{.State}}</td><td>{{ts .Since}}</td><td>{{with .OpenUntil}}{{ts .}}{{end}}</td><td>{{printf "%.1f%%" .Window.FailureRate}} of {{.Window.Calls}}</td><td>{{.Counters.Admitted}}</td><td>{{.Counters.Rejected}}</td><td>{{range $i, $t := .Tags}}{{if $i}}, {{end}}{{$t}}{{end}}</td></tr>
{{else}}<tr><td colspan="8">no guards</td></tr>
{{end}}</table>
<h2>Recent transitions</h2>
<table>
<tr><th>at</th><th>guard</th><th>from</th><th>to</th><th>reason</th><th>actor</th></tr>
{{range .Transitions}}<tr><td>{{ts .At}}</td><td>{{.Guard}}</td><td class="{{.From}}">{{.From}}</td><td class="{{.To}}">{{.To}}</td><td>{{.Reason}}</td><td>{{.Actor}}</td></tr>
{{else}}<tr><td colspan="6">none</td></tr>
{{end}}</table>
<h2>Recent operations</h2>
<table>
<tr><th>#</th><th>at</th><th>actor</th><th>operation</th><th>target</th><th>reason</th><th>changes</th></tr>
{{range .Ops}}{{$op := .}}<tr><td>{{.Seq}}</td><td>{{ts .Time}}</td><td>{{.Actor}}</td><td>{{.Op}}{{range $k, $v := .Params}} {{$k}}={{$v}}{{end}}</td><td>{{.Target}}</td><td>{{.Reason}}</td><td>{{range $i, $a := .After}}{{if $i}}<br>{{end}}{{$a.Guard}}: {{(index $op.Before $i).State}} &rarr; {{if $a.Gone}}pruned{{else}}{{$a.State}}{{end}}{{end}}{{with .Created}}<br>created: {{range $i, $c := .}}{{if $i}}, {{end}}{{$c.Guard}} (policy {{$c.Policy}}){{end}}{{end}}</td></tr>
{{else}}<tr><td colspan="7">none</td></tr>
{{end}}</table>
</body>
</html>
`))

type debugData struct {
	Now         time.Time
	Guards      []GuardStatus
	Transitions []recentTransition
	Ops         []AuditRecord
}

func (s *Server) debugPage(w http.ResponseWriter, r *http.Request) {
	if _, p := s.auth.authorize(r, Read, true); p != nil {
		if p.Status == http.StatusUnauthorized {
			// A browser asks for credentials on a Basic challenge: the user
			// name is the token's name, the password its secret.
			w.Header().Set("WWW-Authenticate", `Basic realm="breakerbox", charset="UTF-8"`)
		}
		writeProblem(w, r, p)
		return
	}
	snaps, now := s.snapshot()
	d := debugData{Now: now, Guards: make([]GuardStatus, len(snaps))}
	for i := range snaps {
		d.Guards[i] = statusOf(&snaps[i], now)
	}
	d.Ops, d.Transitions = s.mem.recent()
	slices.Reverse(d.Ops)
	slices.Reverse(d.Transitions)
	var buf bytes.Buffer
	if err := debugTemplate.Execute(&buf, d); err != nil {
		writeProblem(w, r, problem(http.StatusInternalServerError, codeInternal, "rendering the debug page: "+err.Error()))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("X-Content-Type-Options", "nosniff")
	// No script, no framing: another site can neither run code here nor
	// show the page in a frame to trick a click.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}
