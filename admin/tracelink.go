package admin

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/breakerbox/breakerbox/core"
)

// TraceIDPlaceholder is what WithTraceLinks replaces with a trace id in its
// URL template.
const TraceIDPlaceholder = "{traceId}"

// maxTraceID bounds the trace ids the API passes on (a W3C trace id has 32
// hex digits).
const maxTraceID = 64

// WithTraceLinks lets the event stream, the history and the dashboard name
// the traces of the calls behind state changes and rejections, and link to
// them in the APM that holds them. traceID reads the trace id from a
// call's context ("" for none); the admin package reads no tracing system
// itself, so it is given one, such as otelbreaker.TraceID for
// OpenTelemetry. urlTemplate is an http(s) URL containing "{traceId}"
// (TraceIDPlaceholder), such as "http://localhost:16686/trace/{traceId}"
// for Jaeger; docs/apm.md in the repository has templates for Jaeger,
// Grafana Tempo, Datadog and Honeycomb. An empty template shows the ids
// without links.
//
// With it, a transition caused by a call carries that call's trace id
// (Transition.TraceID, in state events and the history; timers and
// operators make changes without a call, hence without a trace), and each
// guard's live figures carry, in the rates event after a rejection, the
// trace id of a call it rejected (GuardLive.RejectedTrace). Rejections are
// read through a registry hook that does nothing while no event stream is
// open; while one is, it reads at most one trace id per guard per push
// interval, so a guard rejecting thousands of calls a second pays a map
// lookup and an atomic load for each, and calls traceID once per interval.
// A trace id longer than 64 characters, or with a character other than
// letters, digits, '-' and '_', is dropped.
func WithTraceLinks(urlTemplate string, traceID func(ctx context.Context) string) Option {
	return optionFunc(func(c *config) error {
		if traceID == nil {
			return errors.New("admin: traceLinks: traceID: must not be nil")
		}
		if urlTemplate != "" {
			if !strings.Contains(urlTemplate, TraceIDPlaceholder) {
				return fmt.Errorf("admin: traceLinks: urlTemplate: %q does not contain %s, where the trace id goes", urlTemplate, TraceIDPlaceholder)
			}
			u, err := url.Parse(strings.ReplaceAll(urlTemplate, TraceIDPlaceholder, "0af7651916cd43dd8448eb211c80319c"))
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("admin: traceLinks: urlTemplate: %q is not an http(s) URL such as http://localhost:16686/trace/{traceId}", urlTemplate)
			}
		}
		c.traceLinks = traceLinks{url: urlTemplate, id: traceID}
		return nil
	})
}

// traceLinks is WithTraceLinks's configuration.
type traceLinks struct {
	url string
	id  func(context.Context) string // nil: no trace ids
}

// hooks returns the server's registry hooks: state changes, and rejections
// when trace links are on.
func (s *Server) hooks() core.Hooks {
	h := core.Hooks{OnStateChange: s.onStateChange, OnMachineChange: s.onMachineChange}
	if s.cfg.traceLinks.id != nil {
		s.traces = newRejectTraces(s.cfg.traceLinks.id)
		h.OnReject = s.onReject
	}
	return h
}

// traceOf returns the trace id fn reads from ctx, or "" when there is none
// or it is not a plain token fit for a URL.
func traceOf(fn func(context.Context) string, ctx context.Context) string {
	if fn == nil || ctx == nil {
		return ""
	}
	id := fn(ctx)
	if id == "" || len(id) > maxTraceID {
		return ""
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return ""
		}
	}
	return id
}

// rejectTraces keeps, for each guard, the trace id of one call it
// rejected since the sampler last took it.
type rejectTraces struct {
	fn    func(context.Context) string
	slots atomic.Pointer[map[string]*traceSlot] // copy on write under mu
	mu    sync.Mutex
}

type traceSlot struct {
	taken atomic.Bool // a trace id was read since the last take
	id    atomic.Pointer[string]
}

func newRejectTraces(fn func(context.Context) string) *rejectTraces {
	rt := &rejectTraces{fn: fn}
	empty := map[string]*traceSlot{}
	rt.slots.Store(&empty)
	return rt
}

// onReject is the server's rejection hook, installed with WithTraceLinks.
func (s *Server) onReject(ctx context.Context, r core.Rejection) {
	if s.sampler.nsubs.Load() == 0 {
		return
	}
	rt := s.traces
	sl := rt.slot(r.Guard)
	if sl.taken.Load() || !sl.taken.CompareAndSwap(false, true) {
		return
	}
	id := traceOf(rt.fn, ctx)
	if id == "" {
		sl.taken.Store(false) // a later rejection may have a trace
		return
	}
	sl.id.Store(&id)
}

// slot returns the guard's slot, creating it on the guard's first
// rejection.
func (rt *rejectTraces) slot(guard string) *traceSlot {
	if sl, ok := (*rt.slots.Load())[guard]; ok {
		return sl
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	cur := *rt.slots.Load()
	if sl, ok := cur[guard]; ok {
		return sl
	}
	next := make(map[string]*traceSlot, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	sl := &traceSlot{}
	next[guard] = sl
	rt.slots.Store(&next)
	return sl
}

// fill sets each guard's RejectedTrace from its slot, freeing the slot for
// the next interval, and forgets the slots of guards that are gone.
func (rt *rejectTraces) fill(lives []GuardLive) {
	if rt == nil {
		return
	}
	cur := *rt.slots.Load()
	if len(cur) == 0 {
		return
	}
	seen := 0
	for i := range lives {
		sl, ok := cur[lives[i].Name]
		if !ok {
			continue
		}
		seen++
		if p := sl.id.Swap(nil); p != nil {
			lives[i].RejectedTrace = *p
		}
		sl.taken.Store(false)
	}
	if seen == len(cur) {
		return
	}
	live := make(map[string]bool, len(lives))
	for i := range lives {
		live[lives[i].Name] = true
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	cur = *rt.slots.Load()
	next := make(map[string]*traceSlot, len(cur))
	for k, v := range cur {
		if live[k] {
			next[k] = v
		}
	}
	rt.slots.Store(&next)
}
