package sim

import (
	"time"

	"github.com/breakerbox/breakerbox/core/adaptive"
	"github.com/breakerbox/breakerbox/shed"
)

// Overload is the first scenario: a service of capacity C = 1000 requests
// per second (10 workers, 10ms mean service time: 7ms plus an exponential
// 3ms) whose offered load holds at C/2, ramps to 3×C, holds there for 20s
// and ramps back to C/2. Clients give up after 1s.
func Overload(seed uint64) Scenario {
	return Scenario{
		Name:        "overload",
		Seed:        seed,
		Workers:     10,
		ServiceMin:  7 * time.Millisecond,
		ServiceExp:  3 * time.Millisecond,
		Thrash:      0.5,
		ThrashQueue: 200,
		Timeout:     time.Second,
		Phases: []Phase{
			{Duration: 10 * time.Second, From: 0.5, To: 0.5},
			{Duration: 10 * time.Second, From: 0.5, To: 3},
			{Duration: 20 * time.Second, From: 3, To: 3},
			{Duration: 10 * time.Second, From: 3, To: 0.5},
			{Duration: 20 * time.Second, From: 0.5, To: 0.5},
		},
		Bucket: 500 * time.Millisecond,
	}
}

// Mix is the second scenario: Overload's service and load, where 25% of
// the requests are critical and 75% sheddable. At 3×C the critical ones
// alone are 0.75×C: the service can serve all of them if it sheds nine in
// ten sheddable ones.
func Mix(seed uint64) Scenario {
	sc := Overload(seed)
	sc.Name = "mix"
	sc.CriticalShare = 0.25
	return sc
}

// StaticLimit is the static bulkhead of the comparison: 40 slots, four
// times the workers, as one would size it from a load test with headroom.
const StaticLimit = 40

// bounds are the adaptive algorithms' bounds, failsafe-go's defaults.
var bounds = adaptive.Bounds{Min: 1, Max: 200, Initial: 20}

// window is how the adaptive limiters batch samples.
var window = adaptive.Window{Samples: 10, Interval: 100 * time.Millisecond}

// Contender is one limiter of a comparison: a name and how to build it
// fresh for a run.
type Contender struct {
	Name string
	New  func() (Limiter, error)
}

// Contenders returns the limiters of the first scenario, in the order of
// the report: no limit, the static bulkhead, the three adaptive algorithms
// and the shedder. failsafe-go's limiter is added by the caller, inside a
// synctest bubble (see Failsafe).
func Contenders() []Contender {
	algo := func(name string, mk func() (adaptive.Algorithm, error)) Contender {
		return Contender{Name: name, New: func() (Limiter, error) {
			alg, err := mk()
			if err != nil {
				return nil, err
			}
			return NewAdaptive(alg, window)
		}}
	}
	return []Contender{
		{Name: "no limit", New: func() (Limiter, error) { return NoLimit{}, nil }},
		{Name: "static bulkhead (40)", New: func() (Limiter, error) { return NewStatic(StaticLimit) }},
		algo("gradient2", func() (adaptive.Algorithm, error) {
			return adaptive.NewGradient2(adaptive.Gradient2Config{Bounds: bounds})
		}),
		algo("vegas", func() (adaptive.Algorithm, error) {
			return adaptive.NewVegas(adaptive.VegasConfig{Bounds: bounds})
		}),
		algo("aimd", func() (adaptive.Algorithm, error) {
			return adaptive.NewAIMD(adaptive.AIMDConfig{Bounds: bounds, Timeout: 30 * time.Millisecond})
		}),
		{Name: "shed (CoDel)", New: func() (Limiter, error) { return newShed() }},
	}
}

// newShed returns the shedder of the simulations: the package defaults
// (target 5ms, interval 100ms, gain 0.02).
func newShed() (Limiter, error) {
	s, err := shed.New(shed.Config{})
	if err != nil {
		return nil, err
	}
	return Shed{S: s}, nil
}

// MixContenders returns the limiters of the second scenario: no limit,
// and the shedder that reads the requests' criticality.
func MixContenders() []Contender {
	return []Contender{
		{Name: "no limit", New: func() (Limiter, error) { return NoLimit{}, nil }},
		{Name: "shed (CoDel)", New: func() (Limiter, error) { return newShed() }},
	}
}
