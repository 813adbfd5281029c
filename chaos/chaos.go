// Package chaos injects faults into the calls of a registry's guards, to
// rehearse failures: errors, added latency and rejections at a rate, and
// random trips (breakers opened at random), each scoped by guard name, tag,
// tenant key or a share of the guards, and each with an end time.
//
// Chaos is off unless the registry is built with it:
//
//	inj, _ := chaos.New(chaos.Config{MaxGuards: 3})
//	reg, _ := core.NewRegistry(core.WithChaos(inj))
//
// A registry built without core.WithChaos has no injector, and nothing can
// give it one: its guards pay one nil check per call. An Injector serves
// the one registry it was attached to.
//
// Safety limits hold for every experiment: it must end (Experiment.Ends,
// at most Config.MaxDuration ahead), it never touches a guard the Config
// excludes, it never touches a critical guard unless it says
// AllowCritical, and the guards under chaos at once never exceed
// Config.MaxGuards. Stop ends one experiment; Kill ends them all at once.
// An experiment that reached its end time injects nothing more, whether
// or not anything removed it: each call checks the time.
//
// The admin API (admin/chaos.go) and breakerctl chaos drive an Injector
// with a write token, and audit every change.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// Fault is the kind of fault an experiment injects.
type Fault string

// The faults.
const (
	// FaultError fails calls with an error (a *InjectedError) once the gates
	// admit them, without running them; the breaker counts a failure.
	FaultError Fault = "error"
	// FaultLatency delays calls by Experiment.Latency before the gates.
	FaultLatency Fault = "latency"
	// FaultReject rejects calls with a *core.RejectedError whose Reason is
	// core.ErrChaos.
	FaultReject Fault = "reject"
	// FaultTrip opens the breakers of Experiment.Trips guards picked at
	// random from the scope until the experiment ends.
	FaultTrip Fault = "trip"
)

// Faults lists every fault.
var Faults = []Fault{FaultError, FaultLatency, FaultReject, FaultTrip}

// Experiment is one fault injection: what, where, how often and until when.
type Experiment struct {
	// ID names the experiment; Start assigns one ("exp-1", ...) when empty.
	ID string `json:"id"`
	// Fault is the fault injected.
	Fault Fault `json:"fault"`
	// Rate is the share of the calls in scope that get the fault, in
	// (0, 1]. FaultTrip ignores it.
	Rate float64 `json:"rate,omitempty"`
	// Latency is the delay FaultLatency adds.
	Latency core.Duration `json:"latency,omitempty"`
	// Message is the error message of FaultError (default "chaos: injected
	// error").
	Message string `json:"message,omitempty"`

	// Guards and Tags scope the experiment to the named guards and the
	// guards carrying any of the tags; with neither, every guard of the
	// registry is in scope. Both are resolved when the experiment starts:
	// guards created later are not in it.
	Guards []string `json:"guards,omitempty"`
	Tags   []string `json:"tags,omitempty"`
	// Tenants, when set, limits the faults to calls whose context carries
	// one of these tenant keys (core.WithTenant).
	Tenants []string `json:"tenants,omitempty"`
	// Percent, when in (0, 100), keeps that share of the guards in scope,
	// picked at random (rounded up).
	Percent float64 `json:"percent,omitempty"`
	// Trips is how many guards FaultTrip opens (default 1).
	Trips int `json:"trips,omitempty"`
	// AllowCritical lets the experiment touch critical guards; without
	// it they are left out of the scope (and naming one is an error).
	AllowCritical bool `json:"allowCritical,omitempty"`

	// Ends is when the experiment stops injecting. Required.
	Ends time.Time `json:"ends"`

	// Actor and Reason say who started it and why.
	Actor  string `json:"actor,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Source is "policy" for an experiment of the policy document (see
	// the package documentation); empty for one started through Start
	// (the admin API, breakerctl chaos). Start ignores it.
	Source string `json:"source,omitempty"`
}

// Status is an experiment as the Injector runs it.
type Status struct {
	Experiment
	// Started is when it started; Stopped when Stop or Kill ended it (zero
	// while it runs or when it ran to its end time).
	Started time.Time  `json:"started"`
	Stopped *time.Time `json:"stopped,omitempty"`
	// Active reports whether it still injects faults.
	Active bool `json:"active"`
	// Targets are the guards it acts on, sorted.
	Targets []string `json:"targets"`
	// Calls counts the calls in scope it saw; Injected the faults it
	// injected (for FaultTrip, the breakers it opened).
	Calls    uint64 `json:"calls"`
	Injected uint64 `json:"injected"`
}

// InjectedError is the error FaultError injects.
type InjectedError struct {
	// Experiment is the ID of the experiment that injected it.
	Experiment string
	// Guard is the guard whose call it failed.
	Guard string
	msg   string
}

// Error returns the experiment's message.
func (e *InjectedError) Error() string { return e.msg }

// ErrorType returns "chaos_injected", for telemetry.
func (e *InjectedError) ErrorType() string { return "chaos_injected" }

// Config holds an Injector's safety limits.
type Config struct {
	// MaxGuards caps the guards under chaos at once, over every running
	// experiment (default 1).
	MaxGuards int
	// MaxDuration caps how far ahead an experiment may end (default 1h).
	MaxDuration time.Duration
	// Exclude and ExcludeTags name guards no experiment ever touches.
	Exclude     []string
	ExcludeTags []string
	// Seed seeds the random choices (which calls, which guards); zero
	// seeds from the runtime. Set it for reproducible experiments.
	Seed uint64
	// Now reads the clock; nil is time.Now.
	Now func() time.Time
}

// Injector runs chaos experiments on the registry it is attached to (see
// core.WithChaos). It is safe for concurrent use.
type Injector struct {
	cfg Config
	now func() time.Time

	mu   sync.Mutex // serialises Start, Stop, Kill; guards the fields below
	reg  *core.Registry
	seq  uint64
	rng  *rand.Rand
	past []*running // ended experiments, newest last (bounded)

	live atomic.Pointer[liveSet] // running experiments; nil when none

	pol policyState // the policy document's experiments (policy.go); guarded by mu
}

// liveSet is the experiments running, immutable once published.
type liveSet struct {
	exps    []*running
	byGuard map[string][]*running // fault experiments by target guard
}

// running is an experiment the Injector runs.
type running struct {
	Experiment
	started  time.Time
	stopped  time.Time
	targets  []string
	tenants  map[string]bool
	err      map[string]*InjectedError // per target, for FaultError
	opened   map[string]time.Time      // per target of a trip: the open-until it set
	delay    time.Duration
	calls    atomic.Uint64
	injected atomic.Uint64

	mu  sync.Mutex // guards rng
	rng *rand.Rand
}

// maxPast bounds the ended experiments kept for List.
const maxPast = 50

// New returns an Injector with the safety limits cfg, or an error naming a
// bad limit.
func New(cfg Config) (*Injector, error) {
	if cfg.MaxGuards < 0 {
		return nil, fmt.Errorf("chaos: maxGuards: %d must not be negative", cfg.MaxGuards)
	}
	if cfg.MaxDuration < 0 {
		return nil, fmt.Errorf("chaos: maxDuration: %s must not be negative", cfg.MaxDuration)
	}
	if cfg.MaxGuards == 0 {
		cfg.MaxGuards = 1
	}
	if cfg.MaxDuration == 0 {
		cfg.MaxDuration = time.Hour
	}
	in := &Injector{cfg: cfg, now: cfg.Now}
	if in.now == nil {
		in.now = time.Now
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	in.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return in, nil
}

// ErrNotAttached is returned by an Injector that serves no registry yet.
var ErrNotAttached = errors.New("chaos: the injector is not attached to a registry (build the registry with core.WithChaos)")

// ErrOff is returned by From for a registry built without chaos.
var ErrOff = errors.New("chaos: the registry was built without chaos (core.WithChaos)")

// From returns the Injector reg was built with, or ErrOff.
func From(reg *core.Registry) (*Injector, error) {
	if reg != nil {
		if in, ok := reg.Chaos().(*Injector); ok && in != nil {
			return in, nil
		}
	}
	return nil, ErrOff
}

// AttachRegistry is called by core.NewRegistry (core.WithChaos): the
// Injector serves r from then on. It fails for a second registry.
func (in *Injector) AttachRegistry(r *core.Registry) error {
	in.mu.Lock()
	if in.reg != nil && in.reg != r {
		in.mu.Unlock()
		return errors.New("chaos: the injector serves another registry already")
	}
	again := in.reg == r
	in.reg = r
	in.mu.Unlock()
	if again {
		return nil
	}
	_, err := r.Follow(policyFollower{in}) // policy.go
	return err
}

// Config returns the Injector's safety limits, defaults filled in.
func (in *Injector) Config() Config { return in.cfg }

// Inject returns the fault for a call to g; see core.ChaosInjector. With
// no experiment running it is one atomic load.
func (in *Injector) Inject(ctx context.Context, g *core.Guard) core.ChaosFault {
	ls := in.live.Load()
	if ls == nil {
		return core.ChaosFault{}
	}
	exps := ls.byGuard[g.Name()]
	if len(exps) == 0 {
		return core.ChaosFault{}
	}
	var f core.ChaosFault
	now := in.now()
	for _, e := range exps {
		if !now.Before(e.Ends) || (g.Critical() && !e.AllowCritical) {
			continue
		}
		if e.tenants != nil {
			t, _ := core.TenantFrom(ctx)
			if !e.tenants[t] {
				continue
			}
		}
		e.calls.Add(1)
		if !e.draw() {
			continue
		}
		e.injected.Add(1)
		switch e.Fault {
		case FaultLatency:
			f.Delay += e.delay
		case FaultReject:
			f.Reject = true
		case FaultError:
			if f.Err == nil {
				f.Err = e.err[g.Name()]
			}
		}
	}
	return f
}

// draw reports whether this call gets the fault, at the experiment's rate.
func (e *running) draw() bool {
	if e.Rate >= 1 {
		return true
	}
	e.mu.Lock()
	x := e.rng.Float64()
	e.mu.Unlock()
	return x < e.Rate
}

// Validate checks e as Start would before resolving its scope: the fault,
// the rate, the latency (at most the time left until the end), the share,
// the trips and the end time (against now and maxDuration; zero
// maxDuration checks only that it ends after now). The error names the
// field and the value.
func (e *Experiment) Validate(now time.Time, maxDuration time.Duration) error {
	if !slices.Contains(Faults, e.Fault) {
		return fmt.Errorf("chaos: fault: %q is not one of error, latency, reject, trip", e.Fault)
	}
	if e.Fault != FaultTrip {
		switch {
		case math.IsNaN(e.Rate) || e.Rate <= 0:
			return fmt.Errorf("chaos: rate: %v must be above 0 and at most 1", e.Rate)
		case e.Rate > 1:
			return fmt.Errorf("chaos: rate: %v is above 1 (a rate is a share of calls, from 0 to 1)", e.Rate)
		}
	}
	if e.Fault == FaultLatency && e.Latency <= 0 {
		return fmt.Errorf("chaos: latency: %q must be positive for a latency fault, such as \"200ms\"", time.Duration(e.Latency))
	}
	if e.Latency < 0 {
		return fmt.Errorf("chaos: latency: %q must not be negative", time.Duration(e.Latency))
	}
	if math.IsNaN(e.Percent) || e.Percent < 0 || e.Percent > 100 {
		return fmt.Errorf("chaos: percent: %v must be from 0 to 100", e.Percent)
	}
	if e.Trips < 0 {
		return fmt.Errorf("chaos: trips: %d must not be negative", e.Trips)
	}
	switch {
	case e.Ends.IsZero():
		return errors.New("chaos: ends: required: every experiment has an end time")
	case !e.Ends.After(now):
		return fmt.Errorf("chaos: ends: %s is not in the future", e.Ends.Format(time.RFC3339))
	case maxDuration > 0 && e.Ends.Sub(now) > maxDuration:
		return fmt.Errorf("chaos: ends: %s is more than the longest experiment allowed (%s) ahead", e.Ends.Format(time.RFC3339), maxDuration)
	}
	// A delay outlasting the experiment would hold calls after its end
	// (stopping an experiment does not wake the calls it delays).
	if left := e.Ends.Sub(now); time.Duration(e.Latency) > left {
		return fmt.Errorf("chaos: latency: %q is longer than the experiment (it ends in %s): a delay must end before the experiment does", time.Duration(e.Latency), left)
	}
	return nil
}

// Start validates e, resolves its scope and starts it. It refuses, with an
// error naming the field and value: a bad fault, rate, latency, share or
// end time; a named guard that does not exist, is excluded, or is critical
// without AllowCritical; a scope with no guard left; more guards under
// chaos at once than Config.MaxGuards. It returns the experiment as
// started (its ID and Ends set).
func (in *Injector) Start(e Experiment) (Status, error) {
	e.Source = ""
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.startLocked(e)
}

// startLocked is Start under in.mu, for an experiment of any source.
func (in *Injector) startLocked(e Experiment) (_ Status, err error) {
	if in.reg == nil {
		return Status{}, ErrNotAttached
	}
	now := in.now()
	if err := e.Validate(now, in.cfg.MaxDuration); err != nil {
		return Status{}, err
	}
	in.expireLocked(now)
	ls := in.live.Load()
	targets, err := in.scopeLocked(&e)
	if err != nil {
		return Status{}, err
	}
	if e.ID == "" { // numbered only once it is sure to start
		defer func() {
			if err != nil {
				in.seq--
			}
		}()
		in.seq++
		e.ID = "exp-" + strconv.FormatUint(in.seq, 10)
	}
	if ls != nil {
		for _, r := range ls.exps {
			if r.ID == e.ID {
				return Status{}, fmt.Errorf("chaos: id: %q is running already", e.ID)
			}
		}
	}
	busy := map[string]bool{}
	if ls != nil {
		for _, r := range ls.exps {
			for _, t := range r.targets {
				busy[t] = true
			}
		}
	}
	for _, t := range targets {
		busy[t] = true
	}
	if len(busy) > in.cfg.MaxGuards {
		return Status{}, fmt.Errorf("chaos: %d guards would be under chaos at once, more than the limit of %d (Config.MaxGuards)", len(busy), in.cfg.MaxGuards)
	}
	r := &running{Experiment: e, started: now, targets: targets, delay: time.Duration(e.Latency)}
	r.Guards, r.Tags, r.Tenants = slices.Clone(e.Guards), slices.Clone(e.Tags), slices.Clone(e.Tenants)
	r.rng = rand.New(rand.NewPCG(in.rng.Uint64(), in.rng.Uint64()))
	if len(e.Tenants) > 0 {
		r.tenants = map[string]bool{}
		for _, t := range e.Tenants {
			r.tenants[t] = true
		}
	}
	if e.Fault == FaultError {
		msg := e.Message
		if msg == "" {
			msg = "chaos: injected error"
		}
		r.err = map[string]*InjectedError{}
		for _, t := range targets {
			r.err[t] = &InjectedError{Experiment: e.ID, Guard: t, msg: msg + " (experiment " + strconv.Quote(e.ID) + ", guard " + strconv.Quote(t) + ")"}
		}
	}
	if e.Fault == FaultTrip {
		m := breaker.Manual{Actor: "chaos:" + e.ID, Reason: "chaos experiment " + strconv.Quote(e.ID) + ": random trip"}
		r.opened = map[string]time.Time{}
		for _, t := range targets {
			if g, ok := in.reg.Lookup(t); ok {
				g.OpenFor(e.Ends.Sub(now), m)
				r.opened[t] = g.Breaker().Snapshot().OpenUntil
				r.injected.Add(1)
			}
		}
	}
	in.publishLocked(append(exps(ls), r))
	return r.status(now), nil
}

func exps(ls *liveSet) []*running {
	if ls == nil {
		return nil
	}
	return slices.Clone(ls.exps)
}

// scopeLocked resolves e's scope to the guards it acts on, sorted.
func (in *Injector) scopeLocked(e *Experiment) ([]string, error) {
	excluded := func(g *core.Guard) bool {
		if slices.Contains(in.cfg.Exclude, g.Name()) {
			return true
		}
		for _, t := range in.cfg.ExcludeTags {
			if g.HasTag(t) {
				return true
			}
		}
		return false
	}
	set := map[string]bool{}
	for i, n := range e.Guards {
		g, ok := in.reg.Lookup(n)
		switch {
		case !ok:
			return nil, fmt.Errorf("chaos: guards[%d]: no guard is called %q", i, n)
		case excluded(g):
			return nil, fmt.Errorf("chaos: guards[%d]: %q is excluded from chaos (Config.Exclude, Config.ExcludeTags)", i, n)
		case g.Critical() && !e.AllowCritical:
			return nil, fmt.Errorf("chaos: guards[%d]: %q is critical; set allowCritical to include it", i, n)
		}
		set[n] = true
	}
	if len(e.Tags) > 0 || len(e.Guards) == 0 {
		all, _ := in.reg.Guards(core.All())
		for _, g := range all {
			if excluded(g) || g.Critical() && !e.AllowCritical {
				continue
			}
			if len(e.Tags) == 0 || slices.ContainsFunc(e.Tags, g.HasTag) {
				set[g.Name()] = true
			}
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	slices.Sort(names)
	keep := len(names)
	if e.Percent > 0 && e.Percent < 100 {
		keep = int(math.Ceil(float64(len(names)) * e.Percent / 100))
	}
	if e.Fault == FaultTrip {
		if e.Trips == 0 {
			e.Trips = 1
		}
		keep = min(keep, e.Trips)
	}
	if keep < len(names) {
		in.rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		names = names[:keep]
		slices.Sort(names)
	}
	if len(names) == 0 {
		return nil, errors.New("chaos: guards, tags: no guard is in scope (excluded and critical guards are left out)")
	}
	return names, nil
}

// Stop ends the running experiment id, releasing the breakers a trip
// opened. It returns the experiment as stopped, or an error when no
// experiment id runs.
func (in *Injector) Stop(id string) (Status, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	now := in.now()
	in.expireLocked(now)
	ls := in.live.Load()
	for i, r := range exps(ls) {
		if r.ID != id {
			continue
		}
		in.endLocked(r, now)
		rest := exps(ls)
		in.publishLocked(slices.Delete(rest, i, i+1))
		return r.status(now), nil
	}
	return Status{}, fmt.Errorf("chaos: id: no experiment %q is running", id)
}

// Kill is the kill switch: it ends every running experiment at once,
// releasing the breakers trips opened, and returns them as stopped.
func (in *Injector) Kill() []Status {
	in.mu.Lock()
	defer in.mu.Unlock()
	now := in.now()
	ls := in.live.Load()
	in.live.Store(nil)
	out := []Status{}
	for _, r := range exps(ls) {
		in.endLocked(r, now)
		out = append(out, r.status(now))
	}
	return out
}

// List returns the running experiments, then the ended ones (newest
// first, at most 50).
func (in *Injector) List() []Status {
	in.mu.Lock()
	defer in.mu.Unlock()
	now := in.now()
	in.expireLocked(now)
	out := []Status{}
	for _, r := range exps(in.live.Load()) {
		out = append(out, r.status(now))
	}
	for i := len(in.past) - 1; i >= 0; i-- {
		out = append(out, in.past[i].status(now))
	}
	return out
}

// Active returns the experiments that inject faults now.
func (in *Injector) Active() []Status {
	var out []Status
	now := in.now()
	for _, s := range in.List() {
		if s.Active && now.Before(s.Ends) {
			out = append(out, s)
		}
	}
	return out
}

// endLocked ends r now: a trip's breakers still open by it are released.
func (in *Injector) endLocked(r *running, now time.Time) {
	r.stopped = now
	if r.Fault == FaultTrip && now.Before(r.Ends) {
		m := breaker.Manual{Actor: "chaos:" + r.ID, Reason: "chaos experiment " + strconv.Quote(r.ID) + " stopped"}
		for _, t := range r.targets {
			g, ok := in.reg.Lookup(t)
			if !ok {
				continue
			}
			// Release only an open the trip made: an operator's later
			// override stays.
			s := g.Breaker().Snapshot()
			if s.Manual && s.State == breaker.Open && s.OpenUntil.Equal(r.opened[t]) {
				g.Release(m)
			}
		}
	}
	in.addPastLocked(r)
}

// expireLocked moves the experiments that reached their end time to the
// past.
func (in *Injector) expireLocked(now time.Time) {
	ls := in.live.Load()
	if ls == nil {
		return
	}
	var keep []*running
	for _, r := range ls.exps {
		if now.Before(r.Ends) {
			keep = append(keep, r)
		} else {
			in.addPastLocked(r)
		}
	}
	if len(keep) != len(ls.exps) {
		in.publishLocked(keep)
	}
}

func (in *Injector) addPastLocked(r *running) {
	in.past = append(in.past, r)
	if len(in.past) > maxPast {
		in.past = slices.Delete(in.past, 0, len(in.past)-maxPast)
	}
}

// publishLocked makes rs the running experiments.
func (in *Injector) publishLocked(rs []*running) {
	if len(rs) == 0 {
		in.live.Store(nil)
		return
	}
	ls := &liveSet{exps: rs, byGuard: map[string][]*running{}}
	for _, r := range rs {
		if r.Fault == FaultTrip {
			continue
		}
		for _, t := range r.targets {
			ls.byGuard[t] = append(ls.byGuard[t], r)
		}
	}
	in.live.Store(ls)
}

func (r *running) status(now time.Time) Status {
	s := Status{Experiment: r.Experiment, Started: r.started, Targets: slices.Clone(r.targets), Calls: r.calls.Load(), Injected: r.injected.Load()}
	if !r.stopped.IsZero() {
		t := r.stopped
		s.Stopped = &t
	}
	s.Active = r.stopped.IsZero() && now.Before(r.Ends)
	return s
}
