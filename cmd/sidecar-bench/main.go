// Command sidecar-bench runs the sidecar's reproducible benchmarks and prints one JSON line
// per scenario, each measured against its baseline in the same run (same process, same
// machine noise):
//
//	outbox-enqueue  64 producers enqueue notes into an outbox.Store (group commit), against
//	                one bbolt Update per message on a plain bbolt file
//	ingest          the real webhook handler of a running sidecar.Sidecar over loopback HTTP
//	                (64 keep-alive connections), against the same assist.Receiver whose
//	                Handle does one bbolt Update per request
//	drain           a backlog delivered by outbox.Deliver to an in-process handler that
//	                checks per-key order, against the same backlog in a plain bbolt file
//	                drained with one bbolt Update per ack
//	poll-map        sidecar.Detect (mapping + change detection) over one steady-state poll
//	                of 10,000 records of 30 fields, against decoding the poll's answer
//	                plus mapping each record in turn without change detection
//	sql-poll-changed, sql-poll-steady, sql-poll-idle
//	                the sql adapter against a real PostgreSQL (see sqlpoll.go): 10,000
//	                changed rows polled, mapped and enqueued (wall time), 10,000 unchanged
//	                rows re-read in the overlap and an idle poll (process CPU), against the
//	                same query read into []any, or a SELECT 1; skipped ("skipped": why)
//	                without PostgreSQL; sql-poll-changed is not in -quick
//	csv-map         a 30 MB CSV export of 100,000 rows × 30 columns read with record.EachCSV
//	                and every row mapped (time and peak heap), against encoding/csv
//	                reading the same file into [][]string
//	filedrop-burst  1,000 incident files of 20 KB dropped at once into a running sidecar's
//	                inbound folder (cad.adapter: filedrop, stable_for 1s), timed until all
//	                are linked at the simulated Assist (target: 5 s), against reading and
//	                decoding the same files alone
//	eido-stream     EIDOs notified at 200/s over NENA-STA-024 EIDO conveyance (a WebSocket
//	                server speaking the shared fixtures' messages) to a running sidecar
//	                (cad.adapter: eido), each acknowledged once its record is fsynced: p50
//	                and p99 from notify to eventResponse (target: p99 <= 20 ms), beside the
//	                disk's fsync latency and the same stream answered with a no-op emit
//
// Usage:
//
//	go run ./cmd/sidecar-bench [-quick] [-only outbox-enqueue,ingest,drain,poll-map,csv-map,sql-poll-idle,...] [-dir DIR]
//	                           [-rounds N] [-floor F] [-cpuprofile PREFIX]
//
// Each scenario runs -rounds times (default 3; 1 with -quick), its baseline and measured
// side back to back in every round, and prints its median round: the round with the median
// ratio where there is a baseline (a burst of noise on a shared machine then hits both
// sides of the ratio it shows up in), else the median rate or time. Every round is also
// logged on stderr, with the load average, to judge the noise.
//
// It exits 0 unless a scenario fails to run, the drain sees an order violation, or (with
// -floor F) a scenario's ratio to its baseline is below F times its target ratio (exit 1).
// Targets (for a 2-core machine) are printed beside the results in "target" and "ok"; a
// missed target alone does not change the exit code.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"
)

// params are the sizes of every scenario (full, quick, or the test's tiny ones).
type params struct {
	Dir string    // where temp files go
	Log io.Writer // progress and details (stderr); nil = discard
	// CPUProfile, if set, is a path prefix: each measured phase writes PREFIX<phase>.pprof.
	CPUProfile string

	EnqueueProducers int
	EnqueueMsgs      int           // messages enqueued into the outbox
	EnqueueBaseMax   time.Duration // the baseline stops after this long (or EnqueueMsgs)
	EnqueueKeys      int
	PayloadSize      int

	IngestConns    int
	IngestDuration time.Duration // each of baseline and real
	IngestWarmup   time.Duration
	IngestKeys     int // incidents (FIFO keys) the notes are spread over

	DrainMsgs    int
	DrainKeys    int
	DrainBaseMax time.Duration // the drain's baseline stops after this long (or DrainMsgs)

	PollRecords int
	PollCycles  int

	SQLRows int // rows of the sql-poll scenarios' table
	// FileDropFiles: incident files of 20 KB dropped at once (filedrop-burst).
	FileDropFiles int
	// EidoNotifies EIDOs notified at EidoRate per second (eido-stream).
	EidoNotifies, EidoRate int
	SQLCycles              int  // measured cycles of sql-poll-steady and sql-poll-idle (median printed)
	SQLIdlePolls           int  // idle polls per cycle (the CPU of one is their mean)
	SQLChanged             bool // run sql-poll-changed (not in -quick unless -only names it: it is slow)
	sql                    *sqlEnv

	CSVRows int // rows of the csv-map export (100,000 ≈ 30 MB)

	// Floor: a scenario whose ratio is below Floor × its target ratio fails the run (exit
	// 1); 0 = ratios are printed, not judged.
	Floor float64

	// Rounds: each scenario (baseline and measured side back to back) runs this many times
	// and the median round is printed (see combine).
	Rounds int
	// Budget: a further round is not started once it would likely end after Budget from the
	// start of the run (every scenario still runs at least once), so a noisy machine does not
	// stretch the run without bound. 0 = no limit.
	Budget   time.Duration
	deadline time.Time
}

func fullParams() params {
	return params{
		EnqueueProducers: 64, EnqueueMsgs: 200_000, EnqueueBaseMax: 5 * time.Second, EnqueueKeys: 1000, PayloadSize: 300,
		IngestConns: 64, IngestDuration: 5 * time.Second, IngestWarmup: 500 * time.Millisecond, IngestKeys: 1000,
		DrainMsgs: 100_000, DrainKeys: 1000, DrainBaseMax: 5 * time.Second,
		PollRecords: 10_000, PollCycles: 7,
		SQLRows: 10_000, SQLCycles: 5, SQLIdlePolls: 200, SQLChanged: true,
		CSVRows: 100_000, FileDropFiles: 1000, EidoNotifies: 2000, EidoRate: 200,
		Rounds: 3, Budget: 3*time.Minute + 30*time.Second,
	}
}

func quickParams() params {
	return params{
		EnqueueProducers: 64, EnqueueMsgs: 20_000, EnqueueBaseMax: time.Second, EnqueueKeys: 1000, PayloadSize: 300,
		IngestConns: 64, IngestDuration: time.Second, IngestWarmup: 200 * time.Millisecond, IngestKeys: 1000,
		DrainMsgs: 10_000, DrainKeys: 100, DrainBaseMax: time.Second,
		PollRecords: 10_000, PollCycles: 3,
		SQLRows: 10_000, SQLCycles: 3, SQLIdlePolls: 100,
		CSVRows: 100_000, FileDropFiles: 1000, EidoNotifies: 400, EidoRate: 200,
		Rounds: 1, Budget: 30 * time.Second,
	}
}

func (p params) logf(format string, args ...any) {
	if p.Log != nil {
		fmt.Fprintf(p.Log, "sidecar-bench: "+format+"\n", args...)
	}
}

// scenario runs one benchmark and returns its JSON line (a struct with json tags).
type scenario struct {
	name string
	run  func(ctx context.Context, p params) (result, error)
}

// result is what a scenario prints (a struct with json tags). judge sets its "ok" field
// from its figures; key is the figure that picks the median round; failed reports a
// correctness failure (exit 1).
type result interface {
	judge() result
	key() float64
	failed() error
	// ratios is the measured ratio against the scenario's baseline and its target.
	ratios() (got, target float64)
}

var scenarios = []scenario{
	{"outbox-enqueue", runEnqueue},
	{"ingest", runIngest},
	{"drain", runDrain},
	{"poll-map", runPollMap},
	{"sql-poll-changed", runSQLChanged},
	{"sql-poll-steady", runSQLSteady},
	{"sql-poll-idle", runSQLIdle},
	{"csv-map", runCSVMap},
	{"filedrop-burst", runFiledrop},
	{"eido-stream", runEido},
}

func main() {
	quick := flag.Bool("quick", false, "smaller counts and shorter runs (CI)")
	only := flag.String("only", "", "comma-separated scenarios to run: "+names())
	dir := flag.String("dir", os.TempDir(), "directory for the temporary bbolt files")
	rounds := flag.Int("rounds", 0, "run each scenario this many times and print the median round (default 3, 1 with -quick)")
	floor := flag.Float64("floor", 0, "exit 1 when a scenario's ratio to its baseline is below `F` × its target ratio (CI: 0.5)")
	prof := flag.String("cpuprofile", "", "write a CPU profile of each measured phase to `PREFIX`<phase>.pprof (e.g. ingest, ingest-baseline)")
	flag.Parse()

	p := fullParams()
	if *quick {
		p = quickParams()
	}
	p.Dir = *dir
	p.CPUProfile = *prof
	p.Floor = *floor
	if *rounds > 0 {
		p.Rounds = *rounds
	}
	p.SQLChanged = !*quick || strings.Contains(*only, "sql-poll-changed")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Stderr, p, *only); err != nil {
		fmt.Fprintln(os.Stderr, "sidecar-bench:", err)
		os.Exit(1)
	}
}

func names() string {
	var n []string
	for _, s := range scenarios {
		n = append(n, s.name)
	}
	return strings.Join(n, ",")
}

// run runs the selected scenarios one after the other, printing each line as it finishes.
// Every scenario stops its goroutines, servers and files before returning, so one does not
// disturb the next. It returns an error if a scenario could not run or failed a
// correctness check (the other scenarios still run).
func run(ctx context.Context, out, logw io.Writer, p params, only string) error {
	sel := map[string]bool{}
	for n := range strings.SplitSeq(only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			sel[n] = true
		}
	}
	for n := range sel {
		if !known(n) {
			return fmt.Errorf("-only: unknown scenario %q (have %s)", n, names())
		}
	}
	fmt.Fprintf(logw, "sidecar-bench: %s %s/%s, GOMAXPROCS=%d, NumCPU=%d, dir=%s, load average %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(), p.Dir, loadavg())
	p.Log = logw
	p.sql = &sqlEnv{} // the sql-poll scenarios' PostgreSQL, started on first use
	defer p.sql.close()
	if p.Budget > 0 {
		p.deadline = time.Now().Add(p.Budget)
	}
	var errs []string
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for _, s := range scenarios {
		if len(sel) > 0 && !sel[s.name] {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		start := time.Now()
		runtime.GC()
		res, err := runRounds(ctx, p, s)
		if err != nil {
			errs = append(errs, s.name+": "+err.Error())
			fmt.Fprintf(logw, "sidecar-bench: %s failed after %s: %v\n", s.name, time.Since(start).Round(time.Millisecond), err)
			continue
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
		if err := res.failed(); err != nil {
			errs = append(errs, s.name+": "+err.Error())
		}
		if err := belowFloor(res, p.Floor); err != nil {
			errs = append(errs, s.name+": "+err.Error())
		}
		fmt.Fprintf(logw, "sidecar-bench: %s took %s (load average now %s; goroutines left: %d)\n",
			s.name, time.Since(start).Round(time.Millisecond), loadavg(), runtime.NumGoroutine())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// profile starts a CPU profile of one measured phase into CPUProfile+name+".pprof"
// (nothing if CPUProfile is ""); a failure to profile is logged, not fatal.
func (p params) profile(name string) (stop func()) {
	if p.CPUProfile == "" {
		return func() {}
	}
	f, err := os.Create(p.CPUProfile + name + ".pprof")
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		p.logf("cpuprofile %s: %v", name, err)
		return func() {}
	}
	return sync.OnceFunc(func() {
		pprof.StopCPUProfile()
		f.Close()
	})
}

// loadavg is the 1, 5 and 15 minute load averages (Linux), to judge the machine's noise:
// other processes competing for the cores show up here.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}

func known(n string) bool {
	for _, s := range scenarios {
		if s.name == n {
			return true
		}
	}
	return false
}

// round keeps a figure readable in JSON (3 significant decimals at most).
func round(v float64, decimals int) float64 {
	f := 1.0
	for range decimals {
		f *= 10
	}
	if v >= 0 {
		return float64(int64(v*f+0.5)) / f
	}
	return -float64(int64(-v*f+0.5)) / f
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return round(a/b, 2)
}

// runRounds runs s p.Rounds times (each round logged on its own) and combines the results.
func runRounds(ctx context.Context, p params, s scenario) (result, error) {
	var rs []result
	for i := range max(1, p.Rounds) {
		start := time.Now()
		r, err := s.run(ctx, p)
		if err != nil {
			return nil, err
		}
		r = r.judge()
		if p.Rounds > 1 {
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(r)
			p.logf("%s round %d/%d: %s", s.name, i+1, p.Rounds, strings.TrimSpace(b.String()))
		}
		rs = append(rs, r)
		if left := p.Rounds - i - 1; left > 0 && !p.deadline.IsZero() && time.Now().Add(time.Since(start)).After(p.deadline) {
			p.logf("%s: %d of %d rounds run; skipping the other %d to stay within the %s budget (a slow machine?)", s.name, i+1, p.Rounds, left, p.Budget)
			break
		}
	}
	return combine(rs), nil
}

// combine returns the median round: the one whose key figure is the median of the rounds'
// (the ratio where there is a baseline, as it pairs figures measured seconds apart), so the
// line printed is one consistent measurement. Order violations are summed over the rounds.
func combine(rs []result) result {
	sorted := slices.Clone(rs)
	slices.SortStableFunc(sorted, func(a, b result) int { return cmp.Compare(a.key(), b.key()) })
	med := sorted[(len(sorted)-1)/2]
	if d, ok := med.(drainResult); ok {
		d.OrderViolations = 0
		for _, r := range rs {
			d.OrderViolations += r.(drainResult).OrderViolations
		}
		med = d.judge()
	}
	return med
}
