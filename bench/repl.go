package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Suites: the comparison with redis-server without persistence (Run) and
// the replication suite (RunReplication).
const (
	SuiteCompare     = "compare"
	SuiteReplication = "replication"
)

// Server names of the replication suite (the single node is Sessiond).
const (
	RedisAOF = "redis-aof"
	Cluster3 = "sessiond-3"
)

// ReplWorkloads is the replication suite's default workload selection.
// Read workloads (replReads) run only at the deepest pipeline depth.
const ReplWorkloads = "SET,GET,HSET,SETEX,MIX"

// replReads are the read workloads: in the replication suite they only
// show that reads keep their ratio, so they run at one depth.
var replReads = []string{"GET", "HGETALL"}

// leaderTimeout bounds the wait for a fresh cluster to elect a leader.
const leaderTimeout = 30 * time.Second

// RedisAOFSpec starts redis-server on 127.0.0.1 with RDB snapshots off
// and the append-only file on, fsynced every second.
func RedisAOFSpec(binary string, extra []string) ServerSpec {
	return ServerSpec{Name: RedisAOF, Binary: binary, Extra: extra, Args: func(port int, dir string) []string {
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
			"--appendonly", "yes", "--appendfsync", "everysec", "--dir", dir}
	}}
}

// SessiondRaftSpec starts sessiond as a one-member Raft group on
// 127.0.0.1: its log in a fresh data directory, fsynced every second, and
// its Raft port picked free when the server starts (the default, port +
// 10000, may be taken).
func SessiondRaftSpec(binary string, extra []string) ServerSpec {
	return ServerSpec{Name: Sessiond, Binary: binary, Extra: extra, Args: func(port int, dir string) []string {
		raftPort, err := freePort()
		if err != nil {
			raftPort = 0 // the server fails to start, and startServer retries
		}
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--raft-port", strconv.Itoa(raftPort), "--appendfsync", "everysec"}
	}}
}

// ClusterSpec says how to start a sessiond cluster: Nodes processes of
// Binary on 127.0.0.1, one Raft group over all of them, each with its own
// data directory and fsync every second, then Extra.
type ClusterSpec struct {
	Name   string   `json:"name"`
	Binary string   `json:"binary"`
	Nodes  int      `json:"nodes"`
	Extra  []string `json:"extra_args,omitempty"`
}

// SessiondClusterSpec is a three-node sessiond cluster.
func SessiondClusterSpec(binary string, extra []string) ClusterSpec {
	return ClusterSpec{Name: Cluster3, Binary: binary, Nodes: 3, Extra: extra}
}

// cluster is a running sessiond cluster this package started.
type cluster struct {
	nodes         []*serverProc
	leader        *serverProc
	leaderSeconds float64
}

// freePorts returns n distinct loopback ports that were free a moment
// ago; the listeners are held until all n are picked.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startCluster starts spec's nodes at once (a node may wait for its peers
// before it serves), each pinned to cpu, waits until every node answers
// PING and one reports itself leader (ROLE "master"). It retries the whole
// cluster, on new ports, when that fails.
func startCluster(ctx context.Context, spec ClusterSpec, taskset, cpu string) (*cluster, error) {
	var err error
	for range 3 {
		var c *cluster
		if c, err = startClusterOnce(ctx, spec, taskset, cpu); err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("starting %s: %s", spec.Name, strings.ReplaceAll(err.Error(), "\n", "; "))
}

// startClusterOnce makes one attempt for startCluster.
func startClusterOnce(ctx context.Context, spec ClusterSpec, taskset, cpu string) (*cluster, error) {
	raftPorts, err := freePorts(spec.Nodes)
	if err != nil {
		return nil, err
	}
	peers := make([]string, spec.Nodes)
	for i, p := range raftPorts {
		peers[i] = fmt.Sprintf("n%d=127.0.0.1:%d", i+1, p)
	}
	c := &cluster{nodes: make([]*serverProc, spec.Nodes)}
	errs := make([]error, spec.Nodes)
	var wg sync.WaitGroup
	for i := range spec.Nodes {
		node := ServerSpec{
			Name: fmt.Sprintf("%s-n%d", spec.Name, i+1), Binary: spec.Binary, Extra: spec.Extra,
			Args: func(port int, dir string) []string {
				return []string{"--node-id", fmt.Sprintf("n%d", i+1), "--port", strconv.Itoa(port),
					"--bind", "127.0.0.1", "--dir", dir, "--raft-port", strconv.Itoa(raftPorts[i]),
					"--peers", strings.Join(peers, ","), "--appendfsync", "everysec"}
			},
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.nodes[i], errs[i] = startOnce(ctx, node, taskset, cpu)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.stop()
		return nil, err
	}
	start := time.Now()
	if c.leader, err = c.waitLeader(ctx, leaderTimeout); err != nil {
		c.stop()
		return nil, err
	}
	c.leaderSeconds = time.Since(start).Seconds()
	return c, nil
}

// role returns the first element of the node's ROLE reply ("master" or
// "slave").
func role(ctx context.Context, addr string) (string, error) {
	c, err := Dial(ctx, addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	rep, err := c.Do("ROLE")
	if err != nil {
		return "", fmt.Errorf("ROLE: %w", err)
	}
	if rep.Kind != '*' || len(rep.Elems) == 0 {
		return "", fmt.Errorf("ROLE: unexpected reply %+v", rep)
	}
	return rep.Elems[0].Str, nil
}

// waitLeader polls ROLE on every node until one answers "master", a node
// exits, or timeout passes.
func (c *cluster) waitLeader(ctx context.Context, timeout time.Duration) (*serverProc, error) {
	deadline := time.Now().Add(timeout)
	for {
		var last error
		for _, n := range c.nodes {
			if !n.alive() {
				return nil, fmt.Errorf("%s exited before a leader was elected: %s", n.Name, n.logTail())
			}
			r, err := role(ctx, n.Addr)
			if err != nil {
				last = err
			} else if r == "master" {
				return n, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no leader after %s (last error: %v)", timeout, last)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// dead returns an error naming the first node no longer running.
func (c *cluster) dead() error {
	for _, n := range c.nodes {
		if n != nil && !n.alive() {
			return fmt.Errorf("%s is no longer running: %s", n.Name, n.logTail())
		}
	}
	return nil
}

// stop stops every node it started and returns their crash reports.
func (c *cluster) stop() error {
	var errs []error
	for _, n := range c.nodes {
		if n != nil {
			errs = append(errs, n.stop())
		}
	}
	return errors.Join(errs...)
}

// ReplCase is one workload at one pipeline depth of the replication suite.
type ReplCase struct {
	Workload Workload
	Pipeline int
}

// ReplCases lists the replication suite's cases: by pipeline depth, each
// workload, except the read workloads, which run only at the deepest one.
func ReplCases(workloads []Workload, pipelines []int) []ReplCase {
	var cases []ReplCase
	deepest := slices.Max(pipelines)
	for _, pl := range pipelines {
		for _, w := range workloads {
			if slices.Contains(replReads, w.Name) && pl != deepest {
				continue
			}
			cases = append(cases, ReplCase{Workload: w, Pipeline: pl})
		}
	}
	return cases
}

// RunReplication performs the replication suite: Rounds rounds (fewer
// when RoundsBudget runs out); in each, every case runs on a fresh
// cfg.Redis (redis-server with the AOF), a fresh cfg.Sessiond (a
// one-member Raft group) and a fresh cfg.Cluster (load sent to its
// leader), the order rotating with the round and the case. Each fresh
// server gets only the dataset its workload needs. Failed runs are
// recorded in the report; RunReplication returns an error only when ctx
// is cancelled, with the report of what was done so far.
func RunReplication(ctx context.Context, cfg Config) (*Report, error) {
	r, rep := newRun(ctx, cfg)
	defer func() {
		rep.finish()
		rep.ReplRows = SummarizeRepl(rep.Samples)
	}()
	servers := []string{RedisAOF, Sessiond, Cluster3}
	order := func(round, ci int) []string {
		k := (round - 1 + ci) % len(servers)
		return append(slices.Clone(servers[k:]), servers[:k]...)
	}
	return rep, r.rounds(ctx, rep, ReplCases(cfg.Workloads, cfg.Pipelines), order, r.replPass)
}

// rounds runs cases for cfg.Rounds rounds (fewer when RoundsBudget runs
// out), each case on every server order(round, case index) names, in
// that order, through pass, and records the passes and samples in rep.
// It returns an error only when ctx is cancelled.
func (r *runner) rounds(ctx context.Context, rep *Report, cases []ReplCase, order func(round, ci int) []string,
	pass func(ctx context.Context, round int, name string, c ReplCase) (Pass, Sample)) error {
	cfg := r.cfg
	var lastRound time.Duration
	for round := 1; round <= cfg.Rounds; round++ {
		if cfg.RoundsBudget > 0 && round > 1 && time.Since(rep.Started)+lastRound > cfg.RoundsBudget {
			rep.Truncated = fmt.Sprintf("stopped after %d of %d rounds: another round (about %s) would pass the %s budget",
				round-1, cfg.Rounds, lastRound.Round(time.Second), cfg.RoundsBudget)
			r.logf("%s", rep.Truncated)
			break
		}
		roundStart := time.Now()
		for ci, c := range cases {
			for _, name := range order(round, ci) {
				p, s := pass(ctx, round, name, c)
				rep.Passes = append(rep.Passes, p)
				rep.Samples = append(rep.Samples, s)
				if err := ctx.Err(); err != nil {
					rep.Interrupted = err.Error()
					return err
				}
			}
		}
		lastRound = time.Since(roundStart)
	}
	return nil
}

// replPass starts a fresh server of kind name, loads the dataset c needs,
// runs c once and stops the server.
func (r *runner) replPass(ctx context.Context, round int, name string, c ReplCase) (Pass, Sample) {
	pass := Pass{Round: round, Server: name, Workload: c.Workload.Name, Pipeline: c.Pipeline}
	var (
		p     *serverProc
		clu   *cluster
		err   error
		check = func() error { return nil }
	)
	switch name {
	case Cluster3:
		if clu, err = startCluster(ctx, r.cfg.Cluster, r.cfg.Taskset, r.cfg.ServerCPU); err == nil {
			p, check = clu.leader, clu.dead
			pass.LeaderSeconds = clu.leaderSeconds
			for _, n := range clu.nodes {
				pass.NodePIDs = append(pass.NodePIDs, n.PID)
			}
		}
	case RedisAOF:
		p, err = startServer(ctx, r.cfg.Redis, r.cfg.Taskset, r.cfg.ServerCPU)
	default:
		p, err = startServer(ctx, r.cfg.Sessiond, r.cfg.Taskset, r.cfg.ServerCPU)
	}
	label := fmt.Sprintf("round %d %-8s P%-3d %-10s", round, c.Workload.Name, c.Pipeline, name)
	if err != nil {
		pass.Error = err.Error()
		r.logf("%s failed to start: %v", label, err)
		return pass, Sample{Round: round, Server: name, Workload: c.Workload.Name, Pipeline: c.Pipeline, Error: pass.Error}
	}
	pass.PID, pass.Port = p.PID, p.Port
	pass.CPUs, _ = p.status("Cpus_allowed_list")
	start := time.Now()
	popErrs := map[dataset]error{}
	if err := populateDataset(ctx, p.Addr, r.cfg.Keys, r.value, c.Workload.Needs); err != nil {
		popErrs[c.Workload.Needs] = err
		pass.PopulateErrors = map[string]string{c.Workload.Needs.String(): err.Error()}
	}
	pass.PopulateSeconds = time.Since(start).Seconds()
	s := r.sample(ctx, p, popErrs, round, c.Workload, c.Pipeline)
	s.Server = name
	if err := check(); err != nil && s.Error == "" {
		s.Measure, s.Error = Measure{}, err.Error()
	}
	if clu != nil && s.Error == "" {
		if rl, err := role(ctx, p.Addr); err != nil || rl != "master" {
			s.Note = fmt.Sprintf("the node loaded was no longer leader after the run (ROLE %q, %v)", rl, err)
		}
	}
	if s.Error != "" {
		r.logf("%s failed: %s", label, s.Error)
	} else {
		r.logf("%s %10.0f req/s  p50 %.3f ms  p99 %.3f ms  (populated in %.1fs)%s", label, s.RPS, s.P50Ms, s.P99Ms,
			pass.PopulateSeconds, strings.TrimSuffix(" "+s.Note, " "))
	}
	if clu != nil {
		err = clu.stop()
	} else {
		err = p.stop()
	}
	if err != nil {
		pass.Error = err.Error()
	}
	return pass, s
}

// ReplRow compares the three servers of the replication suite on one
// workload at one pipeline depth. Each ratio is over redis-aof's median,
// nil when either side has no successful run.
type ReplRow struct {
	Workload      string   `json:"workload"`
	Pipeline      int      `json:"pipeline"`
	Redis         Stat     `json:"redis_aof"`
	Sessiond      Stat     `json:"sessiond"`
	Cluster       Stat     `json:"cluster"`
	SessiondRatio *float64 `json:"sessiond_rps_ratio,omitempty"`
	ClusterRatio  *float64 `json:"cluster_rps_ratio,omitempty"`
	SessiondP99   *float64 `json:"sessiond_p99_ratio,omitempty"`
	ClusterP99    *float64 `json:"cluster_p99_ratio,omitempty"`
	Notes         []string `json:"notes,omitempty"`
}

// SummarizeRepl groups the replication suite's samples by workload and
// pipeline depth, in the order they first appear, and compares the
// sessiond single node and cluster with redis-aof on each.
func SummarizeRepl(samples []Sample) []ReplRow {
	type key struct {
		workload string
		pipeline int
	}
	var order []key
	groups := map[key]map[string][]Sample{}
	var notes = map[key][]string{}
	for _, s := range samples {
		k := key{s.Workload, s.Pipeline}
		if groups[k] == nil {
			groups[k] = map[string][]Sample{}
			order = append(order, k)
		}
		groups[k][s.Server] = append(groups[k][s.Server], s)
		if s.Note != "" {
			notes[k] = append(notes[k], fmt.Sprintf("round %d %s: %s", s.Round, s.Server, s.Note))
		}
	}
	rows := make([]ReplRow, 0, len(order))
	for _, k := range order {
		g := groups[k]
		row := ReplRow{Workload: k.workload, Pipeline: k.pipeline, Notes: notes[k],
			Redis: summarize(g[RedisAOF]), Sessiond: summarize(g[Sessiond]), Cluster: summarize(g[Cluster3])}
		okS := row.Redis.OK > 0 && row.Sessiond.OK > 0
		okC := row.Redis.OK > 0 && row.Cluster.OK > 0
		row.SessiondRatio = ratio(row.Sessiond.RPS, row.Redis.RPS, okS)
		row.ClusterRatio = ratio(row.Cluster.RPS, row.Redis.RPS, okC)
		row.SessiondP99 = ratio(row.Sessiond.P99Ms, row.Redis.P99Ms, okS)
		row.ClusterP99 = ratio(row.Cluster.P99Ms, row.Redis.P99Ms, okC)
		rows = append(rows, row)
	}
	var names []string
	for _, k := range order {
		if !slices.Contains(names, k.workload) {
			names = append(names, k.workload)
		}
	}
	slices.SortStableFunc(rows, func(a, b ReplRow) int {
		return cmp.Or(cmp.Compare(slices.Index(names, a.Workload), slices.Index(names, b.Workload)),
			cmp.Compare(a.Pipeline, b.Pipeline))
	})
	return rows
}

// replWrites are the workloads the replication targets apply to.
var replWrites = []string{"SET", "HSET", "SETEX"}

// lowest returns the lowest ratio pick gives over the write rows, and the
// row it comes from; ok is false when no write row has one.
func lowest(rows []ReplRow, pick func(ReplRow) *float64) (low float64, at ReplRow, ok bool) {
	for _, r := range rows {
		v := pick(r)
		if v == nil || !slices.Contains(replWrites, r.Workload) {
			continue
		}
		if !ok || *v < low {
			low, at, ok = *v, r, true
		}
	}
	return low, at, ok
}

// markdownRepl renders the replication suite's report as Markdown.
func markdownRepl(rep *Report) string {
	var b strings.Builder
	c, e := rep.Config, rep.Env
	fmt.Fprintf(&b, "## Replication: sessiond (Raft, appendfsync everysec) vs redis-server (appendonly yes, appendfsync everysec) (%s)\n\n", rep.Started.Format(time.DateOnly))
	fmt.Fprintf(&b, "redis-server %s with the AOF fsynced every second; sessiond %s as a one-member Raft group (log on disk, fsync every second); "+
		"a %d-node sessiond cluster (one Raft group, load sent to the leader). Each server, and all %d cluster nodes together, pinned to CPU %s "+
		"(GOMAXPROCS=%d each); redis-benchmark %s and the mix generator on CPU %s. ",
		version(e.RedisVersion), version(e.SessiondVersion), c.Cluster.Nodes, c.Cluster.Nodes, c.ServerCPU, e.SessiondGOMAXPROCS,
		strings.TrimPrefix(e.BenchmarkVersion, "redis-benchmark "), c.ClientCPU)
	fmt.Fprintf(&b, "%s, %d CPUs, load average %s at the start and %s at the end.\n\n", cmp.Or(e.CPUModel, "unknown CPU"), e.NumCPU, e.LoadStart, e.LoadEnd)
	rounds := rep.roundsDone()
	fmt.Fprintf(&b, "Median of %s; every run on fresh servers (order rotating), prepopulated with the %s keys its workload reads or overwrites; %d clients; "+
		"%s requests per run at P1, %s when pipelined; MIX is 80%% HGETALL, 20%% HSET + EXPIRE, bounded at %s. "+
		"Ratio = req/s over redis-aof's (above 1 is better).\n\n",
		rounds, thousands(int64(c.Keys)), c.Clients, thousands(int64(c.Requests)), thousands(int64(c.RequestsPipelined)), c.MixTime)
	b.WriteString("| Workload | P | redis-aof req/s | sessiond req/s | ratio | 3-node req/s | ratio | redis-aof p50 ms | sessiond p50 ms | 3-node p50 ms | redis-aof p99 ms | sessiond p99 ms | 3-node p99 ms |\n")
	b.WriteString("|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	rps := func(st Stat) string { return cell(st, thousands(int64(math.Round(st.RPS)))) }
	var failures, notes []string
	for _, r := range rep.ReplRows {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Workload, r.Pipeline,
			rps(r.Redis), rps(r.Sessiond), ratioCell(r.SessiondRatio), rps(r.Cluster), ratioCell(r.ClusterRatio),
			cell(r.Redis, ms(r.Redis.P50Ms)), cell(r.Sessiond, ms(r.Sessiond.P50Ms)), cell(r.Cluster, ms(r.Cluster.P50Ms)),
			cell(r.Redis, ms(r.Redis.P99Ms)), cell(r.Sessiond, ms(r.Sessiond.P99Ms)), cell(r.Cluster, ms(r.Cluster.P99Ms)))
		for _, side := range []struct {
			name string
			st   Stat
		}{{RedisAOF, r.Redis}, {Sessiond, r.Sessiond}, {Cluster3, r.Cluster}} {
			for _, msg := range side.st.Errors {
				failures = append(failures, fmt.Sprintf("- %s %s P%d (%d of %d runs failed): %s",
					side.name, r.Workload, r.Pipeline, side.st.Runs-side.st.OK, side.st.Runs, msg))
			}
		}
		for _, n := range r.Notes {
			notes = append(notes, fmt.Sprintf("- %s P%d, %s", r.Workload, r.Pipeline, n))
		}
	}
	b.WriteString("\nTargets, over " + strings.Join(replWrites, ", ") + " at every depth:\n\n")
	for _, t := range []struct {
		what   string
		target float64
		pick   func(ReplRow) *float64
	}{
		{"single node", 1.0, func(r ReplRow) *float64 { return r.SessiondRatio }},
		{"3-node cluster", 0.5, func(r ReplRow) *float64 { return r.ClusterRatio }},
	} {
		low, at, ok := lowest(rep.ReplRows, t.pick)
		if !ok {
			fmt.Fprintf(&b, "- %s ≥ %.1f× redis-aof: no figures\n", t.what, t.target)
			continue
		}
		verdict := "met"
		if low < t.target {
			verdict = "not met"
		}
		fmt.Fprintf(&b, "- %s ≥ %.1f× redis-aof: lowest %.2f× (%s P%d): %s\n", t.what, t.target, low, at.Workload, at.Pipeline, verdict)
	}
	if len(failures) > 0 {
		b.WriteString("\nFailures:\n\n" + strings.Join(failures, "\n") + "\n")
	}
	if len(notes) > 0 {
		b.WriteString("\nNotes:\n\n" + strings.Join(notes, "\n") + "\n")
	}
	if rep.Truncated != "" {
		fmt.Fprintf(&b, "\n**Fewer rounds than asked: %s.**\n", rep.Truncated)
	}
	if rep.Interrupted != "" {
		fmt.Fprintf(&b, "\n**Partial results: the run was interrupted (%s).**\n", rep.Interrupted)
	}
	return b.String()
}
