package scenario

import (
	"strings"
	"testing"
)

// TestParseScepticLimits: a file of MaxBytes+1 bytes, a scenario of a
// hundred years, a phase ending a hundred years in, and a duration beyond
// what time.Duration holds are each refused with the field and the limit
// named; none panics.
func TestParseScepticLimits(t *testing.T) {
	big := []byte("duration: 1m\n#" + strings.Repeat("x", MaxBytes))
	big = big[:MaxBytes+1]
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"MaxBytes+1", string(big), "1048577 bytes"},
		{"century duration", "duration: 876000h\ntraffic: 1\n", "duration"},
		{"century phase", "duration: 1h\ntraffic: 1\nphases: [{from: 1m, to: 876000h, event: outage}]\n", "phases[0].to"},
		{"beyond int64", "duration: 9999999999h\ntraffic: 1\n", "duration"},
		{"phase beyond int64", "duration: 1h\ntraffic: 1\nphases: [{from: 1m, to: 99999999999h, event: outage}]\n", "phases[0].to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := Parse("s.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatalf("parsed %+v, want an error", sc)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %q", err, tc.want)
			}
		})
	}
	// Exactly MaxBytes is read (and then judged on its content).
	ok := []byte("duration: 1m\ntraffic: 1\n#")
	ok = append(ok, strings.Repeat("x", MaxBytes-len(ok))...)
	if _, err := Parse("s.yaml", ok); err != nil {
		t.Fatalf("a valid scenario of exactly MaxBytes: %v", err)
	}
}
