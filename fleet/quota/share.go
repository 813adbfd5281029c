package quota

import (
	"math"
	"slices"
)

// FairShare splits capacity among children by max-min fairness on their
// demands (Doorman's FAIR_SHARE): every child gets what it asks for up to
// a common level, the level as high as capacity allows, so that a child
// asking little gets all of it and the rest is split evenly among those
// asking more. A child's share is never below its floor (the safe
// capacity reserved for it): floors are taken first, and scaled down
// together when they alone exceed capacity. Capacity no child asks for is
// left unassigned. The result has one share per demand; demands and
// floors below zero count as zero, and floors may be nil.
func FairShare(capacity float64, demands, floors []float64) []float64 {
	n := len(demands)
	out := make([]float64, n)
	if n == 0 || !(capacity > 0) {
		return out
	}
	w := make([]float64, n)
	f := make([]float64, n)
	sumF := 0.0
	for i := range n {
		w[i] = max(demands[i], 0)
		if i < len(floors) {
			f[i] = max(floors[i], 0)
		}
		if math.IsNaN(w[i]) {
			w[i] = 0
		}
		if math.IsNaN(f[i]) {
			f[i] = 0
		}
		sumF += f[i]
	}
	if sumF > capacity {
		for i := range n {
			out[i] = f[i] * capacity / sumF
		}
		return out
	}
	cost := func(level float64) float64 {
		s := 0.0
		for i := range n {
			s += max(min(w[i], level), f[i])
		}
		return s
	}
	// The cost of a level is piecewise linear and nondecreasing; its
	// breakpoints are the demands and floors.
	points := make([]float64, 0, 2*n)
	points = append(points, w...)
	points = append(points, f...)
	slices.Sort(points)
	level := points[len(points)-1] // every demand met
	prev := 0.0
	for _, p := range points {
		if cost(p) <= capacity {
			prev = p
			continue
		}
		// The level lies between prev and p: count the children whose
		// share grows with it there.
		mid := (prev + p) / 2
		slope := 0
		for i := range n {
			if mid < w[i] && mid > f[i] {
				slope++
			}
		}
		level = prev
		if slope > 0 {
			level = prev + (capacity-cost(prev))/float64(slope)
		}
		break
	}
	for i := range n {
		out[i] = max(min(w[i], level), f[i])
	}
	return out
}
