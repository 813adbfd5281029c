package adaptive_test

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core/adaptive"
)

// FuzzAlgorithmsStayInBounds feeds every algorithm, and a Limiter around
// each, arbitrary samples: zero, negative and huge latencies, negative and
// huge in-flight counts, a clock jumping back and forth. None may panic or
// report a limit outside its bounds.
func FuzzAlgorithmsStayInBounds(f *testing.F) {
	f.Add(uint16(1), uint16(10), []byte{})
	f.Add(uint16(3), uint16(7), []byte("\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\x01\x02\x03\x04"))
	f.Add(uint16(5), uint16(5), []byte("\x80\x00\x00\x00\x00\x00\x00\x00\x7f\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Fuzz(func(t *testing.T, lo, hi uint16, data []byte) {
		minL := int(lo%500) + 1
		maxL := minL + int(hi%500)
		b := adaptive.Bounds{Min: minL, Max: maxL, Initial: (minL + maxL) / 2}
		g, err := adaptive.NewGradient2(adaptive.Gradient2Config{Bounds: b, Smoothing: 1, LongWindow: 5, ProbeInterval: ms})
		if err != nil {
			t.Fatal(err)
		}
		v, err := adaptive.NewVegas(adaptive.VegasConfig{Bounds: b, BaselineTTL: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		a, err := adaptive.NewAIMD(adaptive.AIMDConfig{Bounds: b, Increase: 50, Backoff: 0.01, Timeout: time.Second, Cooldown: ms})
		if err != nil {
			t.Fatal(err)
		}
		algs := []adaptive.Algorithm{g, v, a}
		var lims []*adaptive.Limiter
		for _, name := range []string{adaptive.NameGradient2, adaptive.NameVegas, adaptive.NameAIMD} {
			alg, err := adaptive.New(name, b)
			if err != nil {
				t.Fatal(err)
			}
			l, err := adaptive.NewLimiter(alg, adaptive.Window{Samples: 2, Interval: ms})
			if err != nil {
				t.Fatal(err)
			}
			lims = append(lims, l)
		}
		now := t0
		for len(data) >= 21 {
			dt := time.Duration(int64(binary.LittleEndian.Uint64(data)))
			rtt := time.Duration(int64(binary.LittleEndian.Uint64(data[8:])))
			inflight := int(int32(binary.LittleEndian.Uint32(data[16:])))
			dropped := data[20]&1 == 1
			if data[20]&2 == 2 {
				rtt = math.MaxInt64
			}
			data = data[21:]
			now = now.Add(dt)
			for i, alg := range algs {
				if got := alg.Sample(now, rtt, inflight, dropped); got < minL || got > maxL {
					t.Fatalf("algorithm %d: limit %d outside [%d, %d]", i, got, minL, maxL)
				}
				if got := alg.Limit(); got < minL || got > maxL {
					t.Fatalf("algorithm %d: Limit %d outside [%d, %d]", i, got, minL, maxL)
				}
			}
			for i, l := range lims {
				if got, _ := l.Record(now, rtt, inflight, dropped); got < minL || got > maxL {
					t.Fatalf("limiter %d: limit %d outside [%d, %d]", i, got, minL, maxL)
				}
			}
		}
	})
}
