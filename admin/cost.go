package admin

import (
	"math"
	"math/bits"
	"net/http"
	"slices"
	"time"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
)

// Cost wire types, as in package wire.
type (
	// CostReport is wire.CostReport, the answer to GET /v1/cost.
	CostReport = wire.CostReport
	// GuardCost is wire.GuardCost.
	GuardCost = wire.GuardCost
	// CostTotal is wire.CostTotal.
	CostTotal = wire.CostTotal
	// OverheadStatus is wire.OverheadStatus, a guard's self-measured
	// overhead in GuardStatus.
	OverheadStatus = wire.OverheadStatus
)

// Notes of the cost report: what its figures mean.
const (
	costNoteCumulative = "since each guard was created (or last pruned), from its counters: calls admitted less retries at perCall, retry attempts at perRetry, calls rejected by the breaker or the rate limit at perCall"
	costNotePeriod     = "from the server's rollup history, which starts when the server did and keeps an hour of 10s rollups and a day of 1m rollups: the rollups overlapping the period up to the last complete one; the history does not count retries, so admitted calls, retries included, are all priced at perCall and retries show as 0; a guard whose history was dropped to bound memory shows less"
)

// cost serves GET /v1/cost[?since=24h]: spend and spend avoided by the
// guards whose policy has a cost. Without since, the figures are
// cumulative and exact; with since (at most 24h), they come from the
// rollup history (see costNotePeriod).
func (s *Server) cost(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, Read); !ok {
		return
	}
	var since time.Duration
	if v := r.URL.Query().Get("since"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > LongHistory {
			writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, "since: "+quote(v)+" must be a duration above 0 and at most 24h, such as \"24h\""))
			return
		}
		since = d
	}
	snaps, now := s.snapshot()
	writeJSON(w, r, http.StatusOK, costReport(snaps, now, since, s.hist))
}

// costReport is the cost report of snaps, taken at now: cumulative when
// since is 0, else over since from the history h.
func costReport(snaps []core.GuardSnapshot, now time.Time, since time.Duration, hist *history) CostReport {
	rep := CostReport{Cumulative: since == 0, Note: costNoteCumulative, Totals: []CostTotal{}, Guards: []GuardCost{}}
	var priced []*core.GuardSnapshot
	for i := range snaps {
		if snaps[i].Cost != nil {
			priced = append(priced, &snaps[i])
		}
	}
	if since == 0 {
		for _, g := range priced {
			c := g.Cost
			rep.Guards = append(rep.Guards, GuardCost{
				Name: g.Name, Policy: g.Policy, Currency: c.Currency, PerCallMicros: c.PerCall, PerRetryMicros: c.PerRetry,
				Calls: c.Calls, Retries: c.Retries, SpentMicros: c.Spent, RetrySpentMicros: c.RetrySpent,
				AvoidedByBreakerMicros: c.AvoidedByBreaker, AvoidedByRateLimitMicros: c.AvoidedByRateLimit,
			})
		}
	} else {
		rep.Note = costNotePeriod
		names := make([]string, len(priced))
		for i, g := range priced {
			names[i] = g.Name
		}
		h := hist.read(names, since > ShortHistory, true)
		step := time.Duration(h.Step)
		rep.Step = h.Step
		cutoff := now.Add(-since)
		first := h.Count // the first rollup that overlaps the period
		for i := range h.Count {
			if h.Start.Add(time.Duration(i+1) * step).After(cutoff) {
				first = i
				break
			}
		}
		if h.Count > 0 {
			rep.From, rep.To = h.Start.Add(time.Duration(first)*step), h.Start.Add(time.Duration(h.Count)*step)
		}
		for i, g := range priced {
			gh, c := &h.Guards[i], g.Cost
			calls, open, limited := sumFrom(gh.Calls, first), sumFrom(gh.RejectedOpen, first), sumFrom(gh.RejectedLimited, first)
			rep.Guards = append(rep.Guards, GuardCost{
				Name: g.Name, Policy: g.Policy, Currency: c.Currency, PerCallMicros: c.PerCall, PerRetryMicros: c.PerRetry,
				Calls: calls, SpentMicros: mulSat(calls, c.PerCall),
				AvoidedByBreakerMicros: mulSat(open, c.PerCall), AvoidedByRateLimitMicros: mulSat(limited, c.PerCall),
			})
		}
	}
	byCur := map[string]*CostTotal{}
	for _, g := range rep.Guards {
		t := byCur[g.Currency]
		if t == nil {
			t = &CostTotal{Currency: g.Currency}
			byCur[g.Currency] = t
		}
		t.SpentMicros = addSat(t.SpentMicros, g.SpentMicros)
		t.RetrySpentMicros = addSat(t.RetrySpentMicros, g.RetrySpentMicros)
		t.AvoidedByBreakerMicros = addSat(t.AvoidedByBreakerMicros, g.AvoidedByBreakerMicros)
		t.AvoidedByRateLimitMicros = addSat(t.AvoidedByRateLimitMicros, g.AvoidedByRateLimitMicros)
	}
	for _, t := range byCur {
		rep.Totals = append(rep.Totals, *t)
	}
	slices.SortFunc(rep.Totals, func(a, b CostTotal) int {
		if a.Currency < b.Currency {
			return -1
		}
		if a.Currency > b.Currency {
			return 1
		}
		return 0
	})
	return rep
}

// sumFrom sums the rollups of a series from index first.
func sumFrom(series []uint32, first int) uint64 {
	var n uint64
	for i := first; i < len(series); i++ {
		n += uint64(series[i])
	}
	return n
}

// mulSat returns n × price, saturating at math.MaxInt64.
func mulSat(n uint64, price int64) int64 {
	hi, lo := bits.Mul64(n, uint64(price))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lo)
}

func addSat(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxInt64
}
