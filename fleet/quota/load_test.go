package quota_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/fleet/quota"
)

var loadRes = quota.Resource{Name: "openai-tokens", Capacity: 1000, SafeCapacity: 300, LeaseTTL: 6 * time.Second, RefreshEvery: time.Second}

// runLoad runs 3 regions × 4 replicas, each asking for a call every
// `every`, for d of virtual time, and returns the calls admitted and the
// limit (Capacity × d). It checks at every 100 ms that the replicas'
// rates never sum above the capacity, and in every second that the calls
// admitted stay within the capacity plus the replicas' bursts.
func runLoad(t *testing.T, every, d time.Duration) (admitted int64, limit float64) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTree(t, loadRes, []string{"us", "eu", "ap"}, 4)
		q := float64(time.Second) / float64(every)
		ld := tr.drive(func(r, n int) float64 { return q })
		w := tr.watch(100*time.Millisecond, ld.stop)
		// In any second: the capacity plus the replicas' buckets (100 ms of
		// their rates).
		ps := tr.perSecond(ld, loadRes.Capacity*1.1)
		time.Sleep(d)
		ld.end()
		w.Wait()
		ps.Wait()
		admitted = ld.total()
		t.Logf("region leases at the end: %v", tr.regionLeases())
	})
	return admitted, loadRes.Capacity * d.Seconds()
}

// TestLoadAcrossRegions: 3 regions × 4 replicas hammering one 1,000/s
// resource for 60 virtual seconds admit within 2% of 60,000 calls (the
// first lease period included, when every region runs at its safe
// capacity while the new root learns).
func TestLoadAcrossRegions(t *testing.T) {
	admitted, limit := runLoad(t, 2*time.Millisecond, 60*time.Second)
	ratio := float64(admitted) / limit
	t.Logf("admitted %d of %v (ratio %.4f)", admitted, limit, ratio)
	if ratio < 0.98 || ratio > 1.02 {
		t.Errorf("admitted %d calls, %.2f%% off the limit %v", admitted, (ratio-1)*100, limit)
	}
}

// BenchmarkLoadAcrossRegions reports the ratio of admitted calls to the
// limit for the load of TestLoadAcrossRegions (virtual time: one
// iteration is 60 virtual seconds).
func BenchmarkLoadAcrossRegions(b *testing.B) {
	var sum float64
	for i := 0; i < b.N; i++ {
		var ratio float64
		ok := testing.RunTests(func(string, string) (bool, error) { return true, nil }, []testing.InternalTest{{
			Name: "load",
			F: func(t *testing.T) {
				admitted, limit := runLoad(t, 2*time.Millisecond, 60*time.Second)
				ratio = float64(admitted) / limit
			},
		}})
		if !ok {
			b.Fatal("load run failed")
		}
		sum += ratio
	}
	b.ReportMetric(sum/float64(b.N), "ratio")
}
