package quota

import (
	"encoding/json"
	"time"

	"github.com/breakerbox/breakerbox/fleet"
)

// The kinds this package writes. The root store holds the region kinds
// (KindRegionDemand, KindRegionLease) and the root election; a region's
// store holds the replica kinds and the region election.
const (
	// KindElect holds the coordinator elections: "root/<resource>" in the
	// root store, "region/<resource>" in a region's store.
	KindElect fleet.Kind = "quota-elect"
	// KindRegionDemand holds "<resource>/<region>": a region's request
	// for a lease (its replicas' summed demand), in the root store.
	KindRegionDemand fleet.Kind = "quota-region-demand"
	// KindRegionLease holds "<resource>/<region>": the root's answer.
	KindRegionLease fleet.Kind = "quota-region-lease"
	// KindDemand holds "<resource>/<replica>": a replica's request, in its
	// region's store.
	KindDemand fleet.Kind = "quota-demand"
	// KindLease holds "<resource>/<replica>": the region coordinator's
	// answer.
	KindLease fleet.Kind = "quota-lease"
)

// protocol is the version of the values below; a value of another
// version is skipped.
const protocol = 1

// request is a child's demand: what it wants (calls per second), the id
// of this request (answered by a lease carrying the same id) and the id
// of the lease it now runs within (its acknowledgement: the parent may
// forget what it granted the child before that lease).
type request struct {
	V       int     `json:"v"`
	Req     string  `json:"req"`
	Wants   float64 `json:"wants"`
	Holding string  `json:"holding,omitempty"`
}

// grant is a parent's answer to one request: a capacity for TTLMs
// milliseconds, counted by the child from when it sent the request (so
// the child's lease always ends before the parent's record of it), and
// the child's safe share for when it lapses.
type grant struct {
	V        int     `json:"v"`
	Req      string  `json:"req"`
	Capacity float64 `json:"capacity"`
	TTLMs    int64   `json:"ttlMs"`
	Safe     float64 `json:"safe"`
}

func encode(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func decodeRequest(b []byte) (request, bool) {
	var r request
	if json.Unmarshal(b, &r) != nil || r.V != protocol || r.Req == "" {
		return request{}, false
	}
	return r, true
}

func decodeGrant(b []byte) (grant, bool) {
	var g grant
	if json.Unmarshal(b, &g) != nil || g.V != protocol || g.Req == "" || g.Capacity < 0 || g.TTLMs <= 0 {
		return grant{}, false
	}
	return g, true
}

// record is one grant as its parent remembers it, until it ends on the
// parent's clock.
type record struct {
	req   string
	cap   float64
	until time.Time
}

// ledger is what a parent has granted each child and not yet seen expire:
// a child may be running on any of its unexpired grants (it has not read
// the newest yet), so the child is committed to the largest of them. A
// shrinking share thus frees capacity only as the larger grants expire or
// the child acknowledges the smaller one.
type ledger map[string][]record

// committed returns the child's commitment at now, forgetting what ended.
func (l ledger) committed(child string, now time.Time) float64 {
	rs := l[child]
	keep := rs[:0]
	c := 0.0
	for _, r := range rs {
		if now.Before(r.until) {
			keep = append(keep, r)
			c = max(c, r.cap)
		}
	}
	if len(keep) == 0 {
		delete(l, child)
	} else {
		l[child] = keep
	}
	return c
}

// add records a grant.
func (l ledger) add(child, req string, c float64, until time.Time) {
	l[child] = append(l[child], record{req: req, cap: c, until: until})
}

// ack forgets the grants made to child before the one answering req: the
// child says it runs within that one.
func (l ledger) ack(child, req string) {
	rs := l[child]
	for i, r := range rs {
		if r.req == req {
			l[child] = append(rs[:0:0], rs[i:]...)
			return
		}
	}
}
