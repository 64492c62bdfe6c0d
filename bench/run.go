package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is one comparison's settings. Every server runs alone, pinned to
// ServerCPU; redis-benchmark and the mix generator run pinned to
// ClientCPU.
type Config struct {
	Redis          ServerSpec `json:"redis"`
	Sessiond       ServerSpec `json:"sessiond"`
	RedisBenchmark string     `json:"redis_benchmark"` // path of redis-benchmark
	Taskset        string     `json:"taskset"`         // path of taskset; "" runs unpinned
	ServerCPU      string     `json:"server_cpu"`      // taskset -c list for the servers
	ClientCPU      string     `json:"client_cpu"`      // taskset -c list for the load generators
	// Self is this program; it is run as "Self mix ..." for the session
	// mix and "Self gomaxprocs" to learn the GOMAXPROCS Go picks on
	// ServerCPU.
	Self              string        `json:"self"`
	Rounds            int           `json:"rounds"`
	Clients           int           `json:"clients"`
	Pipelines         []int         `json:"pipelines"`
	Keys              int           `json:"keys"`               // -r: keys per dataset
	ValueSize         int           `json:"value_size"`         // bytes written by SET and SETEX
	Requests          int           `json:"requests"`           // per run at pipeline 1
	RequestsPipelined int           `json:"requests_pipelined"` // per run at pipeline > 1
	MixTime           time.Duration `json:"mix_time_ns"`        // time bound of a mix run
	Timeout           time.Duration `json:"timeout_ns"`         // a run still going after this fails
	// RoundsBudget, when positive, bounds the rounds: no round starts
	// when the previous round's duration would take the rounds past it.
	RoundsBudget time.Duration `json:"rounds_budget_ns"`
	Workloads    []Workload    `json:"workloads"`
	MemSessions  int           `json:"mem_sessions"` // 0 skips the memory pass
	MemTTL       int           `json:"mem_ttl_s"`    // EXPIRE seconds on the memory pass's sessions
	// Suite is SuiteCompare (or "") for Run, SuiteReplication for
	// RunReplication, which also starts Cluster, SuiteCluster for
	// RunCluster, which starts Cluster in cluster mode with Shards Raft
	// groups and a Redis Cluster of Redis's binary joined with RedisCli.
	Suite    string      `json:"suite,omitempty"`
	Cluster  ClusterSpec `json:"cluster,omitempty"`
	Shards   int         `json:"shards,omitempty"`
	RedisCli string      `json:"redis_cli,omitempty"`
	Log      io.Writer   `json:"-"` // progress lines; nil discards them
}

// Sample is one run of one workload on one server. Error is set when the
// run failed; its figures are then zero.
type Sample struct {
	Round    int     `json:"round"`
	Server   string  `json:"server"`
	Workload string  `json:"workload"`
	Pipeline int     `json:"pipeline"`
	Requests int     `json:"requests"` // requested count (an upper bound for the mix)
	Done     int64   `json:"done"`     // operations completed (the mix only)
	Misses   int64   `json:"misses"`   // HGETALL replies without a session (the mix only)
	Seconds  float64 `json:"seconds"`  // wall time of the run
	Measure
	Error string `json:"error,omitempty"`
	// Note records something worth knowing about a successful run, such
	// as a cluster leader that changed during it.
	Note string `json:"note,omitempty"`
}

// Pass records one server's pass of one round.
type Pass struct {
	Round           int               `json:"round"`
	Server          string            `json:"server"`
	PID             int               `json:"pid"`
	Port            int               `json:"port"`
	CPUs            string            `json:"cpus_allowed"` // from /proc/PID/status
	PopulateSeconds float64           `json:"populate_seconds"`
	PopulateErrors  map[string]string `json:"populate_errors,omitempty"`
	Error           string            `json:"error,omitempty"` // start failure or crash
	// The replication suite starts fresh servers per workload and
	// pipeline depth, and records them here.
	Workload string `json:"workload,omitempty"`
	Pipeline int    `json:"pipeline,omitempty"`
	// NodePIDs are a cluster's processes; PID and Port are its leader's.
	NodePIDs []int `json:"node_pids,omitempty"`
	// LeaderSeconds is how long the cluster took, after every node
	// answered PING, to report a leader.
	LeaderSeconds float64 `json:"leader_seconds,omitempty"`
	// ReadySeconds is how long a cluster of the cluster suite took from
	// starting its processes until every node served every slot.
	ReadySeconds float64 `json:"ready_seconds,omitempty"`
}

// Env describes the machine and the software measured.
type Env struct {
	CPUModel         string `json:"cpu_model"`
	NumCPU           int    `json:"num_cpu"`
	GoVersion        string `json:"go_version"`
	RedisVersion     string `json:"redis_version"`
	BenchmarkVersion string `json:"redis_benchmark_version"`
	SessiondVersion  string `json:"sessiond_version"`
	// SessiondGOMAXPROCS is what a Go program started like sessiond (same
	// taskset CPU list, same environment) gets from runtime.GOMAXPROCS.
	SessiondGOMAXPROCS int    `json:"sessiond_gomaxprocs"`
	GOMAXPROCSEnv      string `json:"gomaxprocs_env,omitempty"`
	LoadStart          string `json:"loadavg_start"`
	LoadEnd            string `json:"loadavg_end"`
}

// Report is a whole comparison: settings, environment, every raw sample,
// the summary rows and the memory pass.
type Report struct {
	Started  time.Time   `json:"started"`
	Finished time.Time   `json:"finished"`
	Config   Config      `json:"config"`
	Env      Env         `json:"env"`
	Passes   []Pass      `json:"passes"`
	Samples  []Sample    `json:"samples"`
	Rows     []Row       `json:"summary"`
	Memory   []MemResult `json:"memory,omitempty"`
	// ReplRows is the replication suite's summary (RunReplication).
	ReplRows []ReplRow `json:"replication_summary,omitempty"`
	// ClusterRows is the cluster suite's summary (RunCluster): Redis is
	// redis-cluster, Sessiond sessiond-cluster.
	ClusterRows []Row `json:"cluster_summary,omitempty"`
	// Interrupted is set when the run was cancelled before it finished;
	// Truncated when RoundsBudget stopped it before the last round.
	Interrupted string `json:"interrupted,omitempty"`
	Truncated   string `json:"truncated,omitempty"`
}

// runner carries one comparison's state.
type runner struct {
	cfg   Config
	value string
	log   io.Writer
}

// logf writes one progress line.
func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, format+"\n", args...)
}

// newRun returns a runner for cfg and the report it fills in.
func newRun(ctx context.Context, cfg Config) (*runner, *Report) {
	r := &runner{cfg: cfg, value: strings.Repeat("v", cfg.ValueSize), log: cfg.Log}
	if r.log == nil {
		r.log = io.Discard
	}
	return r, &Report{Started: time.Now(), Config: cfg, Env: r.env(ctx)}
}

// finish records the end of a run.
func (rep *Report) finish() {
	rep.Env.LoadEnd = loadAverage()
	rep.Finished = time.Now()
}

// Run performs the comparison cfg describes: Rounds rounds (fewer when
// RoundsBudget runs out), each a pass on a fresh redis-server and a pass
// on a fresh sessiond (redis first in odd rounds, sessiond first in even
// ones), then the memory pass. Failed runs are recorded in the report,
// not returned as errors; Run returns an error only when ctx is
// cancelled, with the report of what was done so far.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	r, rep := newRun(ctx, cfg)
	defer func() {
		rep.finish()
		rep.Rows = Summarize(rep.Samples)
	}()
	var lastRound time.Duration
	for round := 1; round <= cfg.Rounds; round++ {
		if cfg.RoundsBudget > 0 && round > 1 && time.Since(rep.Started)+lastRound > cfg.RoundsBudget {
			rep.Truncated = fmt.Sprintf("stopped after %d of %d rounds: another round (about %s) would pass the %s budget",
				round-1, cfg.Rounds, lastRound.Round(time.Second), cfg.RoundsBudget)
			r.logf("%s", rep.Truncated)
			break
		}
		roundStart := time.Now()
		order := []ServerSpec{cfg.Redis, cfg.Sessiond}
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, spec := range order {
			pass, samples := r.pass(ctx, round, spec)
			rep.Passes = append(rep.Passes, pass)
			rep.Samples = append(rep.Samples, samples...)
			if err := ctx.Err(); err != nil {
				rep.Interrupted = err.Error()
				return rep, err
			}
		}
		lastRound = time.Since(roundStart)
	}
	if cfg.MemSessions > 0 {
		for _, spec := range []ServerSpec{cfg.Redis, cfg.Sessiond} {
			rep.Memory = append(rep.Memory, r.memory(ctx, spec))
			if err := ctx.Err(); err != nil {
				rep.Interrupted = err.Error()
				return rep, err
			}
		}
	}
	return rep, nil
}

// pass runs every workload at every pipeline depth on one fresh server.
func (r *runner) pass(ctx context.Context, round int, spec ServerSpec) (Pass, []Sample) {
	pass := Pass{Round: round, Server: spec.Name}
	var samples []Sample
	fail := func(msg string) {
		for _, pl := range r.cfg.Pipelines {
			for _, w := range r.cfg.Workloads {
				samples = append(samples, Sample{Round: round, Server: spec.Name, Workload: w.Name, Pipeline: pl, Error: msg})
			}
		}
	}
	p, err := startServer(ctx, spec, r.cfg.Taskset, r.cfg.ServerCPU)
	if err != nil {
		pass.Error = err.Error()
		r.logf("round %d %s: %v", round, spec.Name, err)
		fail(pass.Error)
		return pass, samples
	}
	pass.PID, pass.Port = p.PID, p.Port
	pass.CPUs, _ = p.status("Cpus_allowed_list")
	start := time.Now()
	popErrs := populate(ctx, p.Addr, r.cfg.Keys, r.value)
	pass.PopulateSeconds = time.Since(start).Seconds()
	if len(popErrs) > 0 {
		pass.PopulateErrors = map[string]string{}
		for d, err := range popErrs {
			pass.PopulateErrors[d.String()] = err.Error()
		}
	}
	r.logf("round %d %s: pid %d on CPUs %s, %d+%d keys prepopulated in %.1fs",
		round, spec.Name, p.PID, pass.CPUs, r.cfg.Keys, r.cfg.Keys, pass.PopulateSeconds)
	for _, pl := range r.cfg.Pipelines {
		for _, w := range r.cfg.Workloads {
			if ctx.Err() != nil {
				break
			}
			s := r.sample(ctx, p, popErrs, round, w, pl)
			samples = append(samples, s)
			if s.Error != "" {
				r.logf("  %-8s P%-3d failed: %s", w.Name, pl, s.Error)
			} else {
				r.logf("  %-8s P%-3d %10.0f req/s  p50 %.3f ms  p99 %.3f ms", w.Name, pl, s.RPS, s.P50Ms, s.P99Ms)
			}
		}
	}
	if err := p.stop(); err != nil {
		pass.Error = err.Error()
	}
	return pass, samples
}

// sample runs workload w at pipeline depth pl on the running server p.
func (r *runner) sample(ctx context.Context, p *serverProc, popErrs map[dataset]error, round int, w Workload, pl int) Sample {
	s := Sample{Round: round, Server: p.Name, Workload: w.Name, Pipeline: pl, Requests: r.cfg.Requests}
	if pl > 1 {
		s.Requests = r.cfg.RequestsPipelined
	}
	if !p.alive() {
		s.Error = fmt.Sprintf("%s is no longer running: %s", p.Name, p.logTail())
		return s
	}
	if err := popErrs[w.Needs]; err != nil {
		s.Error = err.Error()
		return s
	}
	if err := probe(ctx, p.Addr, w.probes()); err != nil {
		s.Error = err.Error()
		return s
	}
	start := time.Now()
	var err error
	if w.IsMix() {
		err = r.mix(ctx, p, pl, &s)
	} else {
		run := benchmarkRun{
			Binary: r.cfg.RedisBenchmark, Taskset: r.cfg.Taskset, CPU: r.cfg.ClientCPU,
			Host: "127.0.0.1", Port: p.Port, Clients: r.cfg.Clients, Requests: s.Requests,
			Pipeline: pl, Keys: r.cfg.Keys, Command: w.Command,
		}
		s.Measure, err = run.run(ctx, r.cfg.Timeout)
	}
	s.Seconds = time.Since(start).Seconds()
	if !p.alive() {
		err = fmt.Errorf("%s exited during the run: %s", p.Name, p.logTail())
	}
	if err != nil {
		s.Measure, s.Error = Measure{}, err.Error()
	}
	return s
}

// mix runs the session mix in a child process pinned to the client CPU and
// stores its figures in s.
func (r *runner) mix(ctx context.Context, p *serverProc, pl int, s *Sample) error {
	var res MixResult
	return r.mixProcess(ctx, "mix", p.Addr, pl, s, &res, &res)
}

// mixProcess runs `sessiond-bench sub` (a session mix against addr at
// pipeline pl) pinned to the client CPU, decodes its JSON output into out
// and stores the figures of res (which out holds) in s.
func (r *runner) mixProcess(ctx context.Context, sub, addr string, pl int, s *Sample, out any, res *MixResult) error {
	mc := MixConfig{
		Addr: addr, Conns: r.cfg.Clients, Pipeline: pl, Requests: s.Requests,
		Duration: r.cfg.MixTime, Keys: r.cfg.Keys, ReadPercent: 80, Seed: uint64(s.Round),
	}
	args := pinned(r.cfg.Taskset, r.cfg.ClientCPU, append([]string{r.cfg.Self, sub}, mc.Args()...))
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s stopped after %s: %w", sub, r.cfg.Timeout, ctx.Err())
		}
		return fmt.Errorf("%s: %v: %s", sub, err, strings.TrimSpace(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return fmt.Errorf("%s output: %w", sub, err)
	}
	s.Measure = Measure{RPS: res.RPS, AvgMs: res.AvgMs, P50Ms: res.P50Ms, P95Ms: res.P95Ms, P99Ms: res.P99Ms, MaxMs: res.MaxMs}
	s.Done, s.Misses = res.Ops, res.Misses
	switch {
	case res.Errors > 0:
		return fmt.Errorf("%d error replies, first: %w", res.Errors, &ReplyError{Msg: res.FirstError})
	case res.Ops == 0:
		return fmt.Errorf("%s completed no operation", sub)
	}
	return nil
}

// env collects the environment; what cannot be found stays empty.
func (r *runner) env(ctx context.Context) Env {
	e := Env{
		CPUModel: cpuModel(), NumCPU: runtime.NumCPU(), GoVersion: runtime.Version(),
		GOMAXPROCSEnv: os.Getenv("GOMAXPROCS"), LoadStart: loadAverage(),
		RedisVersion:     firstLine(ctx, r.cfg.Redis.Binary, "--version"),
		BenchmarkVersion: firstLine(ctx, r.cfg.RedisBenchmark, "--version"),
		SessiondVersion:  firstLine(ctx, r.cfg.Sessiond.Binary, "--version"),
	}
	args := []string{r.cfg.Self, "gomaxprocs"}
	if r.cfg.Taskset != "" {
		args = append([]string{r.cfg.Taskset, "-c", r.cfg.ServerCPU}, args...)
	}
	e.SessiondGOMAXPROCS, _ = strconv.Atoi(firstLine(ctx, args[0], args[1:]...))
	return e
}

// firstLine runs a short command and returns the first line it printed,
// or "" when it fails.
func firstLine(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, val, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(val)
		}
	}
	return ""
}

// loadAverage returns the 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
