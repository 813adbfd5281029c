package shed

import (
	"bytes"
	"os"
	"runtime/metrics"
	"strconv"
	"time"
)

// clockTicks is the unit of the CPU times in /proc/self/stat: USER_HZ,
// which Linux fixes at 100 for every architecture it exports to user space.
const clockTicks = 100

// ProcessCPUTime returns the CPU time (user and system) the process has used
// since it started: from /proc/self/stat on Linux (to 10ms), and elsewhere
// from the Go runtime's estimate (runtime/metrics
// /cpu/classes/total:cpu-seconds minus /cpu/classes/idle:cpu-seconds, which
// the runtime updates at each garbage collection, so it lags under a steady
// load without garbage). It is the default Config.CPU.
func ProcessCPUTime() time.Duration {
	if d, ok := procStatCPU(); ok {
		return d
	}
	return runtimeCPU()
}

// procStatCPU reads utime and stime from /proc/self/stat.
func procStatCPU() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	return parseProcStat(b)
}

// parseProcStat returns utime+stime from the contents of /proc/<pid>/stat.
// The command name (field 2) is in parentheses and may hold spaces, so the
// fields are counted from the last ')': utime and stime are fields 14 and
// 15, the 12th and 13th after it.
func parseProcStat(b []byte) (time.Duration, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseUint(string(f[11]), 10, 63)
	stime, err2 := strconv.ParseUint(string(f[12]), 10, 63)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	ticks := utime + stime
	if ticks > 1<<40 { // centuries of CPU: not a real process's
		return 0, false
	}
	return time.Duration(ticks) * (time.Second / clockTicks), true
}

// runtimeCPU is the Go runtime's estimate of the CPU time used.
func runtimeCPU() time.Duration {
	s := []metrics.Sample{
		{Name: "/cpu/classes/total:cpu-seconds"},
		{Name: "/cpu/classes/idle:cpu-seconds"},
	}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 || s[1].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	secs := s[0].Value.Float64() - s[1].Value.Float64()
	if !(secs > 0) {
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}
