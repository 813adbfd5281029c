package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// The downstream fakes whose behaviour can be changed at run time.
const (
	fakePayments        = "payments"
	fakeInventory       = "inventory"
	fakeRecommendations = "recommendations"
)

var fakeNames = []string{fakePayments, fakeInventory, fakeRecommendations}

// Fault is how a downstream fake misbehaves: it waits Latency (±20%) before
// answering, then fails a FailureRate share of its calls, or every call
// during an Outage.
type Fault struct {
	// FailureRate is the share of calls that fail, from 0 to 1.
	FailureRate float64 `json:"failureRate"`
	// Latency is how long each call takes.
	Latency core.Duration `json:"latency"`
	// Outage makes every call fail at once.
	Outage bool `json:"outage"`
}

// FaultPatch changes some fields of a Fault; absent fields keep their value.
// It is the body of POST /control/faults/{name}.
type FaultPatch struct {
	FailureRate *float64       `json:"failureRate,omitempty"`
	Latency     *core.Duration `json:"latency,omitempty"`
	Outage      *bool          `json:"outage,omitempty"`
}

// maxLatency bounds injected latency, so that a typo cannot hang the demo.
const maxLatency = 30 * time.Second

// validate reports the first bad value of p, naming the field and the value.
func (p FaultPatch) validate() error {
	if p.FailureRate != nil {
		if r := *p.FailureRate; !(r >= 0 && r <= 1) {
			return fmt.Errorf("failureRate: %v must be between 0 and 1", r)
		}
	}
	if p.Latency != nil {
		if d := time.Duration(*p.Latency); d < 0 || d > maxLatency {
			return fmt.Errorf("latency: %v must be between 0s and %v", d, maxLatency)
		}
	}
	return nil
}

func (f Fault) apply(p FaultPatch) Fault {
	if p.FailureRate != nil {
		f.FailureRate = *p.FailureRate
	}
	if p.Latency != nil {
		f.Latency = *p.Latency
	}
	if p.Outage != nil {
		f.Outage = *p.Outage
	}
	return f
}

// errInjected is the failure a fake answers with.
var errInjected = errors.New("injected failure")

// errOutage is the failure a fake answers with during an outage.
var errOutage = errors.New("outage")

// Faults holds the fault of every fake. It is safe for concurrent use.
type Faults struct {
	mu      sync.Mutex
	faults  map[string]Fault
	initial map[string]Fault
	// onChange, if set, is called after every change made through the
	// control endpoint (the tour stops when the user takes over).
	onChange func(name string, f Fault)
}

func newFaults(initial map[string]Fault) *Faults {
	fs := &Faults{faults: make(map[string]Fault, len(fakeNames)), initial: make(map[string]Fault, len(fakeNames))}
	for _, n := range fakeNames {
		fs.faults[n], fs.initial[n] = initial[n], initial[n]
	}
	return fs
}

// Reset gives the named fake back the fault it started with.
func (fs *Faults) Reset(name string) (Fault, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.initial[name]
	if !ok {
		return Fault{}, fmt.Errorf("no fake called %q (there are %s)", name, strings.Join(fakeNames, ", "))
	}
	fs.faults[name] = f
	return f, nil
}

// Get returns the fault of the named fake.
func (fs *Faults) Get(name string) Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.faults[name]
}

// All returns every fake's fault.
func (fs *Faults) All() map[string]Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make(map[string]Fault, len(fs.faults))
	for n, f := range fs.faults {
		out[n] = f
	}
	return out
}

// Patch changes the named fake's fault and returns the new one.
func (fs *Faults) Patch(name string, p FaultPatch) (Fault, error) {
	if err := p.validate(); err != nil {
		return Fault{}, err
	}
	fs.mu.Lock()
	f, ok := fs.faults[name]
	if !ok {
		fs.mu.Unlock()
		return Fault{}, fmt.Errorf("no fake called %q (there are %s)", name, strings.Join(fakeNames, ", "))
	}
	f = f.apply(p)
	fs.faults[name] = f
	fs.mu.Unlock()
	return f, nil
}

// Inject makes the calling fake misbehave as its fault says: it sleeps the
// latency (or until ctx ends) and returns the failure to answer with, if any.
func (fs *Faults) Inject(ctx context.Context, name string) error {
	f := fs.Get(name)
	if f.Outage {
		return errOutage
	}
	if d := time.Duration(f.Latency); d > 0 {
		d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if f.FailureRate > 0 && rand.Float64() < f.FailureRate {
		return errInjected
	}
	return nil
}

// faultFlag is the -fault flag: "name:key=value,key=value", repeatable.
type faultFlag map[string]FaultPatch

func (ff faultFlag) String() string {
	var parts []string
	for _, n := range fakeNames {
		p, ok := ff[n]
		if !ok {
			continue
		}
		var kv []string
		if p.FailureRate != nil {
			kv = append(kv, "failure="+strconv.FormatFloat(*p.FailureRate, 'g', -1, 64))
		}
		if p.Latency != nil {
			kv = append(kv, "latency="+p.Latency.String())
		}
		if p.Outage != nil {
			kv = append(kv, "outage="+strconv.FormatBool(*p.Outage))
		}
		parts = append(parts, n+":"+strings.Join(kv, ","))
	}
	return strings.Join(parts, " ")
}

func (ff faultFlag) Set(s string) error {
	name, spec, ok := strings.Cut(s, ":")
	if !ok || !slices.Contains(fakeNames, name) {
		return fmt.Errorf("%q: want NAME:key=value,... with NAME one of %s", s, strings.Join(fakeNames, ", "))
	}
	p := ff[name]
	for kv := range strings.SplitSeq(spec, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch k {
		case "failure", "failureRate":
			r, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("%s: failureRate: %q is not a number", name, v)
			}
			p.FailureRate = &r
		case "latency":
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s: latency: %q is not a duration", name, v)
			}
			cd := core.Duration(d)
			p.Latency = &cd
		case "outage":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s: outage: %q is not true or false", name, v)
			}
			p.Outage = &b
		default:
			return fmt.Errorf("%s: unknown key %q (want failure, latency or outage)", name, k)
		}
	}
	if err := p.validate(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	ff[name] = p
	return nil
}

// controlHandler serves the fault endpoints:
//
//	GET  /control/faults               every fake's fault
//	POST /control/faults/{name}        change one (a FaultPatch), answer the new fault
//	POST /control/faults/{name}/reset  give it back the fault it started with
func (fs *Faults) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /control/faults/{name}/reset", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		f, err := fs.Reset(name)
		if err != nil {
			writeError(w, http.StatusNotFound, err.Error())
			return
		}
		if fs.onChange != nil {
			fs.onChange(name, f)
		}
		writeJSON(w, http.StatusOK, f)
	})
	mux.HandleFunc("GET /control/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, fs.All())
	})
	mux.HandleFunc("POST /control/faults/{name}", func(w http.ResponseWriter, r *http.Request) {
		var p FaultPatch
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			writeError(w, http.StatusBadRequest, "invalid fault: "+err.Error())
			return
		}
		name := r.PathValue("name")
		f, err := fs.Patch(name, p)
		if err != nil {
			status := http.StatusBadRequest
			if !slices.Contains(fakeNames, name) {
				status = http.StatusNotFound
			}
			writeError(w, status, err.Error())
			return
		}
		if fs.onChange != nil {
			fs.onChange(name, f)
		}
		writeJSON(w, http.StatusOK, f)
	})
	return mux
}

// describe says what a fault does, for logs: "healthy", "outage",
// "fails 50% of calls, 400ms latency".
func (f Fault) describe() string {
	if f.Outage {
		return "outage: every call fails"
	}
	var parts []string
	if f.FailureRate > 0 {
		parts = append(parts, fmt.Sprintf("fails %g%% of calls", f.FailureRate*100))
	}
	if f.Latency > 0 {
		parts = append(parts, fmt.Sprintf("%v latency", time.Duration(f.Latency)))
	}
	if len(parts) == 0 {
		return "healthy"
	}
	return strings.Join(parts, ", ")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
