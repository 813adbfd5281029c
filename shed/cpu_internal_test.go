package shed

import (
	"testing"
	"time"
)

func TestParseProcStatWithSpacesInName(t *testing.T) {
	stat := []byte("4242 (my (odd) srv) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 130 0 0 20 0 8 0 100 0 0\n")
	got, ok := parseProcStat(stat)
	if !ok || got != 3800*time.Millisecond {
		t.Errorf("parseProcStat = %v, %v; want 3.8s", got, ok)
	}
	if _, ok := parseProcStat([]byte("garbage")); ok {
		t.Error("parseProcStat accepted garbage")
	}
}

func TestProcessCPUTimeGrows(t *testing.T) {
	a := ProcessCPUTime()
	x := 0
	for i := range 5_000_000 {
		x += i ^ x
	}
	_ = x
	if b := ProcessCPUTime(); b < a {
		t.Errorf("ProcessCPUTime went back from %v to %v", a, b)
	}
}
