package consumers

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clickhousePidEnv names the ClickHouse server's process id for the
// end-to-end benchmark (.ci/bench.sh sets it for the server it starts), so
// that the server's CPU time can be charged to each contender: on the
// 2-core machine throughput follows the CPU per event of every process a
// contender keeps busy, not only its own.
const clickhousePidEnv = "TRUSTPIPE_BENCH_CLICKHOUSE_PID"

// otherProcesses are the processes besides the contender whose CPU time a
// contender's run costs: the ClickHouse server (when its pid is known) and
// the broker.
type otherProcesses struct{ clickhousePid, brokerPid int }

func newOtherProcesses(b *testing.B, brokerPid int) otherProcesses {
	o := otherProcesses{brokerPid: brokerPid}
	if v := os.Getenv(clickhousePidEnv); v != "" {
		pid, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("%s=%q: not a process id", clickhousePidEnv, v)
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", pid)); err != nil {
			b.Fatalf("%s=%d: no such process (%v): give the pid of the ClickHouse server at TRUSTPIPE_TEST_CLICKHOUSE_ADDR, or unset it", clickhousePidEnv, pid, err)
		}
		o.clickhousePid = pid
	} else {
		b.Logf("%s is not set: ClickHouse's CPU per event is not measured (make bench sets it)", clickhousePidEnv)
	}
	return o
}

// cpuUse is CPU time spent during one contender's run.
type cpuUse time.Duration

func (c cpuUse) perEvent(n int) float64 { return float64(time.Duration(c).Microseconds()) / float64(n) }

// othersUse is the other processes' CPU time during one contender's run.
type othersUse struct {
	clickhouse, broker cpuUse
	clickhouseKnown    bool
}

// summary describes u per event of a run of n events, for the round logs.
func (u othersUse) summary(n int) string {
	ch := "not measured"
	if u.clickhouseKnown {
		ch = fmt.Sprintf("%.2f µs", u.clickhouse.perEvent(n))
	}
	return fmt.Sprintf("ClickHouse %s, broker %.2f µs", ch, u.broker.perEvent(n))
}

// measure runs f and returns the CPU time the other processes spent
// meanwhile. Merges ClickHouse runs after an insert may fall into the next
// contender's run; the contenders alternate, so each is charged some of
// the other's.
func (o otherProcesses) measure(f func()) othersUse {
	ch0, br0 := processCPU(o.clickhousePid), processCPU(o.brokerPid)
	f()
	return othersUse{clickhouse: processCPU(o.clickhousePid) - ch0, broker: processCPU(o.brokerPid) - br0, clickhouseKnown: o.clickhousePid > 0}
}

// processCPU is the user and system CPU time of process pid so far, from
// /proc/<pid>/stat (0 when pid is 0 or the process is gone).
func processCPU(pid int) cpuUse {
	if pid <= 0 {
		return 0
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after it are
	// numbers: utime and stime are fields 14 and 15, in clock ticks, which
	// Linux reports at 100 per second to user space.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	const utime = 14 - 3
	if len(fields) <= utime+1 {
		return 0
	}
	u, _ := strconv.ParseInt(fields[utime], 10, 64)
	st, _ := strconv.ParseInt(fields[utime+1], 10, 64)
	return cpuUse(time.Duration(u+st) * 10 * time.Millisecond)
}
