package bench

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"sessiond/shard"
)

// The cluster suite (RunCluster) compares a three-node sessiond cluster
// (cluster-enabled yes, slots sharded over Raft groups) with a three-node
// Redis Cluster of redis-server processes, both driven by
// `redis-benchmark --cluster` and, for the session mix, by the
// slot-routing generator RunClusterMix.
const SuiteCluster = "cluster"

// Server names of the cluster suite.
const (
	RedisCluster    = "redis-cluster"
	SessiondCluster = "sessiond-cluster"
)

// ClusterWorkloads is the cluster suite's default workload selection; it
// runs every one at every pipeline depth.
const ClusterWorkloads = "SET,GET,HSET,MIX"

// ClusterNodes is the number of processes in each cluster of the suite.
const ClusterNodes = 3

// clusterReadyTimeout bounds the wait for a fresh cluster to serve every
// slot on every node.
const clusterReadyTimeout = 30 * time.Second

// tagCoverage sets how many SET (or HSET) requests prepopulate a tagged
// dataset: tagCoverage × Keys, spread by redis-benchmark over a key space
// of about Keys keys, which leaves about e^-tagCoverage (2%) of it
// unwritten.
const tagCoverage = 4

// clusterTargets are the targets, sessiond-cluster over
// redis-cluster req/s, by workload.
var clusterTargets = []struct {
	what      string
	workloads []string
	target    float64
}{
	{"writes", []string{"SET", "HSET", "SETEX", "EXPIRE"}, 0.5},
	{"reads", []string{"GET", "HGETALL"}, 1.0},
}

// redisClusterArgs returns the arguments of one Redis Cluster node on
// 127.0.0.1: its node table in dir, the cluster bus on busPort, RDB off
// and the append-only file fsynced every second (the durability of
// sessiond's appendfsync everysec).
func redisClusterArgs(port, busPort int, dir string) []string {
	return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
		"--cluster-port", strconv.Itoa(busPort),
		"--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--dir", dir}
}

// clusterPeers returns the --peers entries n1=127.0.0.1:port... of a
// sessiond cluster whose nodes use raftPorts.
func clusterPeers(raftPorts []int) string {
	peers := make([]string, len(raftPorts))
	for i, p := range raftPorts {
		peers[i] = fmt.Sprintf("n%d=127.0.0.1:%d", i+1, p)
	}
	return strings.Join(peers, ",")
}

// sessiondClusterArgs returns the arguments of node number i (from 0) of
// a sessiond cluster in cluster mode. --shards is passed only when shards
// is above 1, so a sessiond without the flag runs the one-group cluster.
func sessiondClusterArgs(i, port int, raftPorts []int, dir string, shards int) []string {
	args := []string{"--node-id", fmt.Sprintf("n%d", i+1), "--port", strconv.Itoa(port),
		"--bind", "127.0.0.1", "--raft-port", strconv.Itoa(raftPorts[i]), "--dir", dir,
		"--peers", clusterPeers(raftPorts), "--appendfsync", "everysec", "--cluster-enabled", "yes"}
	if shards > 1 {
		args = append(args, "--shards", strconv.Itoa(shards))
	}
	return args
}

// clusterCreateArgs returns the redis-cli command line that makes the
// nodes at addrs one Redis Cluster of masters only, without asking.
func clusterCreateArgs(cli string, addrs []string) []string {
	args := append([]string{cli, "--cluster", "create"}, addrs...)
	return append(args, "--cluster-replicas", "0", "--cluster-yes")
}

// pinned prefixes args with taskset -c cpu unless taskset is "".
func pinned(taskset, cpu string, args []string) []string {
	if taskset == "" {
		return args
	}
	return append([]string{taskset, "-c", cpu}, args...)
}

// slotMap says which node serves each hash slot, from CLUSTER SLOTS.
type slotMap struct {
	addr    [shard.SlotCount]string // host:port of the slot's master, "" when none
	masters []string                // distinct masters, in CLUSTER SLOTS order
	ranges  []string                // the master of each range, in CLUSTER SLOTS order
}

// owner returns the address of the master serving key's slot.
func (m *slotMap) owner(key string) string { return m.addr[shard.KeySlot([]byte(key))] }

// covered returns how many slots have a master.
func (m *slotMap) covered() int {
	n := 0
	for _, a := range m.addr {
		if a != "" {
			n++
		}
	}
	return n
}

// parseClusterSlots reads a CLUSTER SLOTS reply: one array per slot range,
// [start, end, [host, port, id...], replicas...]. An empty host means the
// node's own, defaultHost. It fails on a malformed reply, not on missing
// slots (see covered).
func parseClusterSlots(rep Reply, defaultHost string) (*slotMap, error) {
	if rep.Kind != '*' {
		return nil, fmt.Errorf("CLUSTER SLOTS: unexpected reply kind %q", rep.Kind)
	}
	m := &slotMap{}
	for _, r := range rep.Elems {
		if r.Kind != '*' || len(r.Elems) < 3 || r.Elems[0].Kind != ':' || r.Elems[1].Kind != ':' {
			return nil, fmt.Errorf("CLUSTER SLOTS: malformed range %+v", r)
		}
		start, end, master := r.Elems[0].Int, r.Elems[1].Int, r.Elems[2]
		if start < 0 || end < start || end >= shard.SlotCount {
			return nil, fmt.Errorf("CLUSTER SLOTS: bad range %d-%d", start, end)
		}
		if master.Kind != '*' || len(master.Elems) < 2 || master.Elems[1].Kind != ':' {
			return nil, fmt.Errorf("CLUSTER SLOTS: malformed node %+v", master)
		}
		host := master.Elems[0].Str
		if host == "" || host == "?" {
			host = defaultHost
		}
		addr := host + ":" + strconv.FormatInt(master.Elems[1].Int, 10)
		for s := start; s <= end; s++ {
			m.addr[s] = addr
		}
		if !slices.Contains(m.masters, addr) {
			m.masters = append(m.masters, addr)
		}
		m.ranges = append(m.ranges, addr)
	}
	return m, nil
}

// infoString returns the text value of field in an INFO-style reply
// ("field:value" lines), as CLUSTER INFO gives cluster_state.
func infoString(info, field string) (string, bool) {
	for _, line := range strings.Split(info, "\n") {
		name, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && name == field {
			return val, true
		}
	}
	return "", false
}

// clusterView asks one node for CLUSTER INFO and CLUSTER SLOTS and returns
// its slot map, or why the node does not serve every slot yet.
func clusterView(ctx context.Context, addr string) (*slotMap, error) {
	c, err := Dial(ctx, addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	info, err := c.Do("CLUSTER", "INFO")
	if err != nil {
		return nil, fmt.Errorf("%s CLUSTER INFO: %w", addr, err)
	}
	if st, _ := infoString(info.Str, "cluster_state"); st != "ok" {
		return nil, fmt.Errorf("%s cluster_state is %q", addr, st)
	}
	rep, err := c.Do("CLUSTER", "SLOTS")
	if err != nil {
		return nil, fmt.Errorf("%s CLUSTER SLOTS: %w", addr, err)
	}
	host, _, _ := strings.Cut(addr, ":")
	m, err := parseClusterSlots(rep, host)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	if n := m.covered(); n != shard.SlotCount {
		return nil, fmt.Errorf("%s CLUSTER SLOTS covers %d of %d slots", addr, n, shard.SlotCount)
	}
	return m, nil
}

// waitClusterReady polls every node until each says cluster_state:ok, its
// CLUSTER SLOTS covers all 16384 slots with masters distinct masters and
// every node names the same master for each slot (and settled, when not
// nil, accepts that slot map), and returns the first
// node's slot map. (A sessiond cluster spreads its group leaders over the
// nodes after start-up; redis-benchmark --cluster gives up when a master
// changes under it.) It fails when a node exits, ctx ends or timeout
// passes.
func waitClusterReady(ctx context.Context, c *cluster, timeout time.Duration, masters int, settled func(*slotMap) bool) (*slotMap, error) {
	deadline := time.Now().Add(timeout)
	for {
		var first *slotMap
		var last error
		for _, n := range c.nodes {
			if !n.alive() {
				return nil, fmt.Errorf("%s exited before the cluster was ready: %s", n.Name, n.logTail())
			}
			m, err := clusterView(ctx, n.Addr)
			if err != nil {
				last = err
				break
			}
			if len(m.masters) < masters || settled != nil && !settled(m) {
				last = fmt.Errorf("%s: masters %v, want %d settled", n.Name, m.ranges, masters)
				break
			}
			if first == nil {
				first = m
			} else if first.addr != m.addr {
				last = fmt.Errorf("%s: another slot map than %s's", n.Name, c.nodes[0].Name)
				break
			}
		}
		if last == nil {
			return first, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("cluster not ready after %s: %w", timeout, last)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runningCluster is a started cluster of the suite and its slot map.
type runningCluster struct {
	*cluster
	slots        *slotMap
	readySeconds float64 // from the start of the processes to ready
}

// startRedisCluster starts ClusterNodes redis-server processes of spec's
// binary in cluster mode, pinned to cpu, joins them with redis-cli
// --cluster create (pinned to cliCPU) and waits until every node serves
// every slot.
func startRedisCluster(ctx context.Context, spec ServerSpec, cli, taskset, cpu, cliCPU string) (*runningCluster, error) {
	start := time.Now()
	c := &cluster{}
	fail := func(err error) (*runningCluster, error) {
		c.stop()
		return nil, fmt.Errorf("starting %s: %s", RedisCluster, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	for i := range ClusterNodes {
		node := ServerSpec{Name: fmt.Sprintf("%s-n%d", RedisCluster, i+1), Binary: spec.Binary, Extra: spec.Extra,
			Args: func(port int, dir string) []string {
				bus, err := freePort()
				if err != nil {
					bus = port // the node fails to start, and startServer retries
				}
				return redisClusterArgs(port, bus, dir)
			}}
		p, err := startServer(ctx, node, taskset, cpu)
		if err != nil {
			return fail(err)
		}
		c.nodes = append(c.nodes, p)
	}
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.Addr
	}
	args := pinned(taskset, cliCPU, clusterCreateArgs(cli, addrs))
	cctx, cancel := context.WithTimeout(ctx, clusterReadyTimeout)
	defer cancel()
	if out, err := exec.CommandContext(cctx, args[0], args[1:]...).CombinedOutput(); err != nil {
		return fail(fmt.Errorf("redis-cli --cluster create: %v: %s", err, lastLines(out, 3)))
	}
	m, err := waitClusterReady(ctx, c, clusterReadyTimeout, len(c.nodes), nil)
	if err != nil {
		return fail(err)
	}
	return &runningCluster{cluster: c, slots: m, readySeconds: time.Since(start).Seconds()}, nil
}

// startSessiondCluster starts spec.Nodes sessiond processes in cluster
// mode with shards Raft groups (--shards only when above 1), all pinned
// to cpu, and waits until every node serves every slot. It retries the
// whole cluster, on new ports, when that fails.
func startSessiondCluster(ctx context.Context, spec ClusterSpec, shards int, taskset, cpu string) (*runningCluster, error) {
	var err error
	for range 3 {
		var c *runningCluster
		if c, err = startSessiondClusterOnce(ctx, spec, shards, taskset, cpu); err == nil || ctx.Err() != nil {
			return c, err
		}
	}
	return nil, fmt.Errorf("starting %s: %s", spec.Name, strings.ReplaceAll(err.Error(), "\n", "; "))
}

// startSessiondClusterOnce makes one attempt for startSessiondCluster.
func startSessiondClusterOnce(ctx context.Context, spec ClusterSpec, shards int, taskset, cpu string) (*runningCluster, error) {
	start := time.Now()
	raftPorts, err := freePorts(spec.Nodes)
	if err != nil {
		return nil, err
	}
	c := &cluster{nodes: make([]*serverProc, spec.Nodes)}
	errs := make([]error, spec.Nodes)
	var wg sync.WaitGroup
	for i := range spec.Nodes {
		node := ServerSpec{Name: fmt.Sprintf("%s-n%d", spec.Name, i+1), Binary: spec.Binary, Extra: spec.Extra,
			Args: func(port int, dir string) []string { return sessiondClusterArgs(i, port, raftPorts, dir, shards) }}
		wg.Add(1)
		go func() { // a node may wait for its peers before it serves
			defer wg.Done()
			c.nodes[i], errs[i] = startOnce(ctx, node, taskset, cpu)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.stop()
		return nil, err
	}
	// sessiond hands group i to its (i mod n)-th node by ID (n1, n2...)
	// after start-up: wait for that, or the benchmark would meet the
	// handovers.
	settled := func(m *slotMap) bool {
		for i, a := range m.ranges {
			if a != c.nodes[i%len(c.nodes)].Addr {
				return false
			}
		}
		return true
	}
	m, err := waitClusterReady(ctx, c, clusterReadyTimeout, min(max(shards, 1), len(c.nodes)), settled)
	if err != nil {
		c.stop()
		return nil, err
	}
	return &runningCluster{cluster: c, slots: m, readySeconds: time.Since(start).Seconds()}, nil
}

// lastLines returns the last n non-empty lines of out joined with " | ".
func lastLines(out []byte, n int) string {
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// taggedCommand returns a redis-benchmark command for --cluster mode:
// every key argument prefix__rand_int__ becomes prefix{tag}:__rand_int__,
// which redis-benchmark rewrites into a hash tag of a slot of the master
// the client talks to (without {tag} it stops at the first MOVED).
func taggedCommand(cmd []string) []string {
	out := make([]string, len(cmd))
	for i, a := range cmd {
		out[i] = strings.Replace(a, randInt, "{tag}:"+randInt, 1)
	}
	return out
}

// clusterBenchArgs returns the redis-benchmark command line of b in
// cluster mode: b's own, with --cluster after the binary.
func clusterBenchArgs(b benchmarkRun) []string {
	args := b.args()
	i := slices.Index(args, b.Binary)
	return slices.Insert(args, i+1, "--cluster")
}

// runClusterBenchmark executes b with --cluster, killing it after
// timeout, and returns the parsed figures or the reason it failed.
func runClusterBenchmark(ctx context.Context, b benchmarkRun, timeout time.Duration) (Measure, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := clusterBenchArgs(b)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return Measure{}, fmt.Errorf("redis-benchmark --cluster stopped after %s: %w", timeout, ctx.Err())
	}
	if err != nil {
		// redis-benchmark prints some refusals ("Invalid cluster") on stdout.
		return Measure{}, benchmarkFailure(append(stdout.Bytes(), stderr.Bytes()...), err)
	}
	m, err := parseBenchmarkCSV(stdout.Bytes())
	if err != nil && len(bytes.TrimSpace(stderr.Bytes())) > 0 {
		err = fmt.Errorf("%w (%w)", err, benchmarkFailure(stderr.Bytes(), nil))
	}
	return m, err
}

// clusterKeys is redis-benchmark's -r in the cluster suite. Redis 7's
// redis-benchmark --cluster gives each master one hash tag, so the key
// space is masters × -r; this keeps it at about keys.
func clusterKeys(keys, masters int) int {
	return max(1, int(math.Ceil(float64(keys)/float64(max(1, masters)))))
}

// populateTagged writes the dataset d with redis-benchmark --cluster, on
// the tagged keys the workloads read (see tagCoverage), and checks that
// some keys were written.
func (r *runner) populateTagged(ctx context.Context, rc *runningCluster, d dataset) error {
	var cmd []string
	switch d {
	case stringData:
		cmd = []string{"SET", strPrefix + randInt, r.value}
	case hashData:
		cmd = append([]string{"HSET", sessPrefix + randInt}, sessionArgs()...)
	default:
		return nil
	}
	b := r.clusterRun(rc, taggedCommand(cmd), 16, tagCoverage*r.cfg.Keys)
	if _, err := runClusterBenchmark(ctx, b, r.cfg.Timeout); err != nil {
		return fmt.Errorf("prepopulating %s: %w", d, err)
	}
	return nil
}

// populateRouted writes the dataset d on its plain keys (as populate
// does) into a cluster, each key sent to the master of its slot, and
// reads the last key back.
func populateRouted(ctx context.Context, m *slotMap, keys int, value string, d dataset) error {
	prefix := strPrefix
	if d == hashData {
		prefix = sessPrefix
	}
	byNode := map[string][]int{}
	for i := range keys {
		a := m.owner(paddedKey(prefix, i))
		byNode[a] = append(byNode[a], i)
	}
	hset := append([]string{"HSET", ""}, sessionArgs()...)
	for _, addr := range m.masters {
		idx := byNode[addr]
		if len(idx) == 0 {
			continue
		}
		err := load(ctx, addr, len(idx), 4, 256, func(c *Conn, j int) int {
			key := paddedKey(prefix, idx[j])
			if d == stringData {
				c.Send("SET", key, value)
			} else {
				cmd := slices.Clone(hset)
				cmd[1] = key
				c.Send(cmd...)
			}
			return 1
		})
		if err != nil {
			return fmt.Errorf("prepopulating %s on %s: %w", d, addr, err)
		}
	}
	last := paddedKey(prefix, keys-1)
	if d == stringData {
		return checkString(ctx, m.owner(last), last, value)
	}
	return checkSession(ctx, m.owner(last), last)
}

// clusterRun is the redis-benchmark --cluster run of cmd on rc.
func (r *runner) clusterRun(rc *runningCluster, cmd []string, pipeline, requests int) benchmarkRun {
	return benchmarkRun{
		Binary: r.cfg.RedisBenchmark, Taskset: r.cfg.Taskset, CPU: r.cfg.ClientCPU,
		Host: "127.0.0.1", Port: rc.nodes[0].Port, Clients: r.cfg.Clients, Requests: requests,
		Pipeline: pipeline, Keys: clusterKeys(r.cfg.Keys, len(rc.slots.masters)), Command: cmd,
	}
}

// ClusterCases lists the cluster suite's cases: every workload at every
// pipeline depth, by depth.
func ClusterCases(workloads []Workload, pipelines []int) []ReplCase {
	var cases []ReplCase
	for _, pl := range pipelines {
		for _, w := range workloads {
			cases = append(cases, ReplCase{Workload: w, Pipeline: pl})
		}
	}
	return cases
}

// RunCluster performs the cluster suite: Rounds rounds (fewer when
// RoundsBudget runs out); in each, every case runs on a fresh Redis
// Cluster (cfg.Redis's binary) and a fresh sessiond cluster (cfg.Cluster,
// cfg.Shards groups), which goes first alternating with the round and the
// case. Failed runs are recorded in the report; RunCluster returns an
// error only when ctx is cancelled, with the report of what was done.
func RunCluster(ctx context.Context, cfg Config) (*Report, error) {
	r, rep := newRun(ctx, cfg)
	defer func() {
		rep.finish()
		rep.ClusterRows = SummarizeCluster(rep.Samples)
	}()
	order := func(round, ci int) []string {
		if (round+ci)%2 == 0 {
			return []string{SessiondCluster, RedisCluster}
		}
		return []string{RedisCluster, SessiondCluster}
	}
	return rep, r.rounds(ctx, rep, ClusterCases(cfg.Workloads, cfg.Pipelines), order, r.clusterPass)
}

// clusterPass starts a fresh cluster of kind name, loads the dataset c
// needs, runs c once and stops the cluster.
func (r *runner) clusterPass(ctx context.Context, round int, name string, c ReplCase) (Pass, Sample) {
	pass := Pass{Round: round, Server: name, Workload: c.Workload.Name, Pipeline: c.Pipeline}
	s := Sample{Round: round, Server: name, Workload: c.Workload.Name, Pipeline: c.Pipeline, Requests: r.cfg.Requests}
	if c.Pipeline > 1 {
		s.Requests = r.cfg.RequestsPipelined
	}
	label := fmt.Sprintf("round %d %-8s P%-3d %-16s", round, c.Workload.Name, c.Pipeline, name)
	var (
		rc  *runningCluster
		err error
	)
	if name == RedisCluster {
		rc, err = startRedisCluster(ctx, r.cfg.Redis, r.cfg.RedisCli, r.cfg.Taskset, r.cfg.ServerCPU, r.cfg.ClientCPU)
	} else {
		rc, err = startSessiondCluster(ctx, r.cfg.Cluster, r.cfg.Shards, r.cfg.Taskset, r.cfg.ServerCPU)
	}
	if err != nil {
		pass.Error, s.Error = err.Error(), err.Error()
		r.logf("%s failed to start: %v", label, err)
		return pass, s
	}
	pass.PID, pass.Port, pass.ReadySeconds = rc.nodes[0].PID, rc.nodes[0].Port, rc.readySeconds
	pass.CPUs, _ = rc.nodes[0].status("Cpus_allowed_list")
	for _, n := range rc.nodes {
		pass.NodePIDs = append(pass.NodePIDs, n.PID)
	}
	start := time.Now()
	var popErr error
	if c.Workload.IsMix() {
		popErr = populateRouted(ctx, rc.slots, r.cfg.Keys, r.value, c.Workload.Needs)
	} else if len(rc.slots.masters) > 1 { // redis-benchmark --cluster refuses one master; the run says so
		popErr = r.populateTagged(ctx, rc, c.Workload.Needs)
	}
	pass.PopulateSeconds = time.Since(start).Seconds()
	if popErr != nil {
		pass.PopulateErrors = map[string]string{c.Workload.Needs.String(): popErr.Error()}
		s.Error = popErr.Error()
	} else {
		r.clusterSample(ctx, rc, c, &s)
	}
	if err := rc.dead(); err != nil && s.Error == "" {
		s.Measure, s.Error = Measure{}, err.Error()
	}
	if s.Error != "" {
		r.logf("%s failed: %s", label, s.Error)
	} else {
		r.logf("%s %10.0f req/s  p50 %.3f ms  p99 %.3f ms  (ready in %.1fs, populated in %.1fs)%s", label, s.RPS, s.P50Ms, s.P99Ms,
			pass.ReadySeconds, pass.PopulateSeconds, strings.TrimSuffix(" "+s.Note, " "))
	}
	if err := rc.stop(); err != nil {
		pass.Error = err.Error()
	}
	return pass, s
}

// clusterSample probes and runs c on the running cluster rc and fills in
// s's figures, or its Error.
func (r *runner) clusterSample(ctx context.Context, rc *runningCluster, c ReplCase, s *Sample) {
	w := c.Workload
	var probes [][]string
	if w.IsMix() {
		probes = w.probes()
	} else {
		probes = Workload{Command: taggedCommand(w.Command)}.probes()
	}
	if err := probe(ctx, rc.slots.owner(probes[0][1]), probes); err != nil {
		s.Error = err.Error()
		return
	}
	start := time.Now()
	var err error
	if w.IsMix() {
		err = r.clusterMix(ctx, rc, c.Pipeline, s)
	} else {
		s.Measure, err = runClusterBenchmark(ctx, r.clusterRun(rc, taggedCommand(w.Command), c.Pipeline, s.Requests), r.cfg.Timeout)
	}
	s.Seconds = time.Since(start).Seconds()
	if err != nil {
		s.Measure, s.Error = Measure{}, masterHint(err, len(rc.slots.masters)).Error()
	}
}

// masterHint adds to a failed run's error that the cluster has fewer than
// the two masters redis-benchmark --cluster accepts, when so.
func masterHint(err error, masters int) error {
	if masters >= 2 {
		return err
	}
	return fmt.Errorf("%w (CLUSTER SLOTS names %d master; redis-benchmark --cluster needs 2 or more: is -shards above 1?)", err, masters)
}

// SummarizeCluster groups the cluster suite's samples by workload and
// pipeline depth and compares sessiond-cluster (the Sessiond side of each
// Row) with redis-cluster (the Redis side).
func SummarizeCluster(samples []Sample) []Row {
	renamed := make([]Sample, 0, len(samples))
	for _, s := range samples {
		switch s.Server {
		case RedisCluster:
			s.Server = Redis
		case SessiondCluster:
			s.Server = Sessiond
		default:
			continue
		}
		renamed = append(renamed, s)
	}
	return Summarize(renamed)
}

// clusterTargetLines says, per target, the lowest ratio over the rows of
// its workloads and whether it is met.
func clusterTargetLines(rows []Row) []string {
	var lines []string
	for _, t := range clusterTargets {
		var low *Row
		for i, r := range rows {
			if r.RPSRatio != nil && slices.Contains(t.workloads, r.Workload) && (low == nil || *r.RPSRatio < *low.RPSRatio) {
				low = &rows[i]
			}
		}
		if low == nil {
			lines = append(lines, fmt.Sprintf("- %s ≥ %.1f× redis-cluster: no figures", t.what, t.target))
			continue
		}
		verdict := "met"
		if *low.RPSRatio < t.target {
			verdict = "not met"
		}
		lines = append(lines, fmt.Sprintf("- %s ≥ %.1f× redis-cluster: lowest %.2f× (%s P%d): %s",
			t.what, t.target, *low.RPSRatio, low.Workload, low.Pipeline, verdict))
	}
	return lines
}

// markdownCluster renders the cluster suite's report as Markdown.
func markdownCluster(rep *Report) string {
	var b strings.Builder
	c, e := rep.Config, rep.Env
	shards := max(1, c.Shards)
	fmt.Fprintf(&b, "## Cluster: %d-node sessiond cluster vs %d-node Redis Cluster (%s)\n\n", c.Cluster.Nodes, ClusterNodes, rep.Started.Format(time.DateOnly))
	fmt.Fprintf(&b, "Redis Cluster: %d redis-server %s masters (no replicas, appendonly yes, appendfsync everysec, RDB off). "+
		"sessiond %s: %d nodes, cluster-enabled yes, %d Raft group(s) (--shards), appendfsync everysec. "+
		"All server processes of a cluster pinned to CPU %s (GOMAXPROCS=%d each); redis-benchmark %s --cluster and the cluster mix generator on CPU %s. ",
		ClusterNodes, version(e.RedisVersion), version(e.SessiondVersion), c.Cluster.Nodes, shards, c.ServerCPU, e.SessiondGOMAXPROCS,
		strings.TrimPrefix(e.BenchmarkVersion, "redis-benchmark "), c.ClientCPU)
	fmt.Fprintf(&b, "%s, %d CPUs, load average %s at the start and %s at the end.\n\n", cmp.Or(e.CPUModel, "unknown CPU"), e.NumCPU, e.LoadStart, e.LoadEnd)
	fmt.Fprintf(&b, "Median of %s; every run on fresh clusters (which goes first alternating), ready when every node says cluster_state:ok "+
		"and its CLUSTER SLOTS covers 16384 slots; %d clients; %s requests per run at P1, %s when pipelined. "+
		"Keys carry redis-benchmark's {tag} (one hash tag per master), about %s of them, prepopulated with %d× as many SET/HSET; "+
		"MIX is 80%% HGETALL, 20%% HSET + EXPIRE on %s plain session keys, each connection bound to one master (keys drawn from its slots), bounded at %s. "+
		"Ratio = sessiond / redis: above 1 is better for req/s, worse for latency.\n\n",
		rep.roundsDone(), c.Clients, thousands(int64(c.Requests)), thousands(int64(c.RequestsPipelined)),
		thousands(int64(c.Keys)), tagCoverage, thousands(int64(c.Keys)), c.MixTime)
	b.WriteString("| Workload | P | redis-cluster req/s | sessiond-cluster req/s | ratio | redis p50 ms | sessiond p50 ms | ratio | redis p99 ms | sessiond p99 ms | ratio |\n")
	b.WriteString("|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	failures := writeRows(&b, rep.ClusterRows, RedisCluster, SessiondCluster)
	b.WriteString("\nTargets (MIX has none):\n\n" + strings.Join(clusterTargetLines(rep.ClusterRows), "\n") + "\n")
	if len(failures) > 0 {
		b.WriteString("\nFailures:\n\n" + strings.Join(failures, "\n") + "\n")
	}
	var notes []string
	for _, s := range rep.Samples {
		if s.Note != "" {
			notes = append(notes, fmt.Sprintf("- round %d %s %s P%d: %s", s.Round, s.Server, s.Workload, s.Pipeline, s.Note))
		}
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
