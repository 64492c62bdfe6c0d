// Command sessiond-bench compares sessiond with redis-server side by side
// and prints the result as a Markdown table (see package bench).
//
// Usage:
//
//	sessiond-bench [flags]          full comparison (make bench)
//	sessiond-bench -quick [flags]   smoke run: one round, small counts
//	sessiond-bench -suite replication [flags]
//	                                sessiond single node and 3-node cluster
//	                                vs redis-server with the AOF (make bench-repl)
//	sessiond-bench -suite cluster [flags]
//	                                3-node sessiond cluster vs 3-node Redis
//	                                Cluster, redis-benchmark --cluster (make bench-cluster)
//	sessiond-bench mix [flags]      only the session-mix load generator,
//	                                against a running server; prints JSON
//	sessiond-bench cluster-mix [flags]
//	                                the same against a cluster (-addr is one
//	                                node), routed by CLUSTER SLOTS
//	sessiond-bench gomaxprocs       print runtime.GOMAXPROCS(0)
//
// Run from the repository root after `make build`: the defaults find
// bin/sessiond there and write results to bench/results/.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sessiond/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "mix":
		err = runMix(ctx, os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "cluster-mix":
		err = runClusterMix(ctx, os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "gomaxprocs":
		fmt.Println(runtime.GOMAXPROCS(0))
	default:
		err = runCompare(ctx, os.Args[1:])
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "sessiond-bench:", err)
		os.Exit(1)
	}
}

// runMix runs the session-mix generator alone and prints its result as
// JSON on stdout and as one line on stderr.
func runMix(ctx context.Context, args []string) error {
	cfg := bench.DefaultMixConfig()
	fs := flag.NewFlagSet("sessiond-bench mix", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	res, err := bench.RunMix(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "mix %s: %d ops in %.2fs = %.0f ops/s, p50 %.3f ms, p99 %.3f ms, %d errors, %d misses\n",
		cfg.Addr, res.Ops, res.Seconds, res.RPS, res.P50Ms, res.P99Ms, res.Errors, res.Misses)
	return json.NewEncoder(os.Stdout).Encode(res)
}

// runClusterMix runs the cluster session-mix generator alone and prints
// its result as JSON on stdout and as one line on stderr.
func runClusterMix(ctx context.Context, args []string) error {
	cfg := bench.DefaultMixConfig()
	fs := flag.NewFlagSet("sessiond-bench cluster-mix", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	res, err := bench.RunClusterMix(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "cluster mix %s (%d masters): %d ops in %.2fs = %.0f ops/s, p50 %.3f ms, p99 %.3f ms, %d errors, %d misses, %d redirects\n",
		cfg.Addr, res.Masters, res.Ops, res.Seconds, res.RPS, res.P50Ms, res.P99Ms, res.Errors, res.Misses, res.Redirects)
	return json.NewEncoder(os.Stdout).Encode(res)
}

// options are the comparison's command-line flags.
type options struct {
	quick                               bool
	suite                               string
	rounds, requests, requestsPipelined int
	clients, keys, valueSize            int
	pipelines, workloads                string
	mixTime, timeout, roundsBudget      time.Duration
	memSessions, memTTL                 int
	serverCPU, clientCPU                string
	noPin                               bool
	redisServer, redisBenchmark         string
	redisCli                            string
	shards                              int
	sessiond, taskset                   string
	redisArgs, sessiondArgs             string
	out                                 string
}

// replRoundsBudget is -rounds-budget's default for the replication
// suite, whose rounds run three servers per case and a slower cluster,
// and for the cluster suite, which starts two clusters per case.
const replRoundsBudget = 25 * time.Minute

// quickDefaults are the values -quick uses for flags not given
// explicitly: a smoke run that takes well under a minute.
var quickDefaults = map[string]string{
	"rounds": "1", "n": "20000", "np": "100000", "mix-time": "1s", "mem-sessions": "100000",
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.suite, "suite", bench.SuiteCompare, "compare: sessiond vs redis-server without persistence, and memory; "+
		"replication: sessiond single node and 3-node cluster vs redis-server with appendonly yes, appendfsync everysec; "+
		"cluster: 3-node sessiond cluster (cluster-enabled yes) vs 3-node Redis Cluster, redis-benchmark --cluster")
	fs.BoolVar(&o.quick, "quick", false, "smoke run: 1 round, -n 20000, -np 100000, -mix-time 1s, -mem-sessions 100000 (explicit flags win)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; each runs every workload on a fresh redis and a fresh sessiond, order alternating")
	fs.IntVar(&o.requests, "n", 150_000, "requests per redis-benchmark run at pipeline 1 (and mix operation cap)")
	fs.IntVar(&o.requestsPipelined, "np", 1_000_000, "requests per redis-benchmark run when pipelined (and mix operation cap)")
	fs.IntVar(&o.clients, "c", 50, "client connections")
	fs.StringVar(&o.pipelines, "pipelines", "1,16", "comma-separated pipeline depths")
	fs.IntVar(&o.keys, "r", 100_000, "random keys per dataset (redis-benchmark -r); prepopulated")
	fs.IntVar(&o.valueSize, "d", 64, "bytes of the SET/SETEX value")
	fs.StringVar(&o.workloads, "workloads", "all", "comma-separated subset of SET,GET,HSET,HGETALL,SETEX,EXPIRE,MIX,ZADD,SADD,LPUSH,LPOP,LOCK; "+
		"all means "+bench.ReplWorkloads+" for the replication suite, where GET and HGETALL run only at the deepest pipeline, "+
		"and "+bench.ClusterWorkloads+" for the cluster suite")
	fs.DurationVar(&o.mixTime, "mix-time", 3*time.Second, "time bound of each session-mix run")
	fs.DurationVar(&o.timeout, "timeout", 90*time.Second, "a run still going after this is stopped and reported failed")
	fs.DurationVar(&o.roundsBudget, "rounds-budget", 11*time.Minute, "start no round that would end the rounds after this (25m for the replication and cluster suites); 0 for no bound")
	fs.IntVar(&o.memSessions, "mem-sessions", 1_000_000, "sessions loaded for the memory comparison; 0 skips it")
	fs.IntVar(&o.memTTL, "mem-ttl", 3600, "TTL in seconds of the memory comparison's sessions")
	fs.StringVar(&o.serverCPU, "server-cpu", "0", "taskset -c CPU list for the servers")
	fs.StringVar(&o.clientCPU, "client-cpu", "1", "taskset -c CPU list for redis-benchmark and the mix generator")
	fs.BoolVar(&o.noPin, "no-pin", false, "do not pin with taskset")
	fs.StringVar(&o.redisServer, "redis-server", "redis-server", "redis-server binary")
	fs.StringVar(&o.redisBenchmark, "redis-benchmark", "redis-benchmark", "redis-benchmark binary")
	fs.StringVar(&o.redisCli, "redis-cli", "redis-cli", "redis-cli binary (the cluster suite creates the Redis Cluster with it)")
	fs.IntVar(&o.shards, "shards", 3, "cluster suite: Raft groups of the sessiond cluster; --shards N is passed to sessiond only when N > 1")
	fs.StringVar(&o.sessiond, "sessiond", "bin/sessiond", "sessiond binary (make build)")
	fs.StringVar(&o.taskset, "taskset", "taskset", "taskset binary (util-linux)")
	fs.StringVar(&o.redisArgs, "redis-args", "", "extra redis-server arguments, space separated")
	fs.StringVar(&o.sessiondArgs, "sessiond-args", "", "extra sessiond arguments, space separated (e.g. \"--maxmemory 0\")")
	fs.StringVar(&o.out, "out", "bench/results", "directory for the JSON and Markdown results")
}

// parseOptions parses args, applying -quick's defaults to flags the
// command line does not set.
func parseOptions(args []string) (*options, error) {
	var o options
	fs := flag.NewFlagSet("sessiond-bench", flag.ContinueOnError)
	o.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sessiond-bench [flags]      compare sessiond with redis-server (see bench/README.md)")
		fmt.Fprintln(fs.Output(), "       sessiond-bench -suite replication [flags]  single node and 3-node cluster vs redis-server with the AOF")
		fmt.Fprintln(fs.Output(), "       sessiond-bench -suite cluster [flags]  3-node sessiond cluster vs 3-node Redis Cluster")
		fmt.Fprintln(fs.Output(), "       sessiond-bench mix [flags]  run only the session-mix load generator (mix -h)")
		fmt.Fprintln(fs.Output(), "       sessiond-bench cluster-mix [flags]  the same against a cluster (cluster-mix -h)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if (o.suite == bench.SuiteReplication || o.suite == bench.SuiteCluster) && !set["rounds-budget"] {
		o.roundsBudget = replRoundsBudget
	}
	if o.quick {
		for name, v := range quickDefaults {
			if !set[name] {
				if err := fs.Set(name, v); err != nil {
					return nil, err
				}
			}
		}
	}
	if o.suite != bench.SuiteCompare && o.suite != bench.SuiteReplication && o.suite != bench.SuiteCluster {
		return nil, fmt.Errorf("-suite must be %s, %s or %s", bench.SuiteCompare, bench.SuiteReplication, bench.SuiteCluster)
	}
	if o.shards < 1 {
		return nil, errors.New("-shards must be positive")
	}
	if o.rounds < 1 || o.requests < 1 || o.requestsPipelined < 1 || o.clients < 1 || o.keys < 1 {
		return nil, errors.New("-rounds, -n, -np, -c and -r must be positive")
	}
	if o.mixTime <= 0 || o.mixTime >= o.timeout {
		return nil, errors.New("-mix-time must be positive and below -timeout")
	}
	if o.memSessions > 0 && o.memTTL < 1 {
		return nil, errors.New("-mem-ttl must be positive")
	}
	return &o, nil
}

// config turns the options into a bench.Config, resolving the binaries.
func (o *options) config() (bench.Config, error) {
	var cfg bench.Config
	var pipelines []int
	for _, p := range strings.Split(o.pipelines, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return cfg, fmt.Errorf("bad pipeline depth %q", p)
		}
		pipelines = append(pipelines, n)
	}
	names := o.workloads
	if all := strings.TrimSpace(names) == "" || strings.EqualFold(strings.TrimSpace(names), "all"); all {
		switch o.suite {
		case bench.SuiteReplication:
			names = bench.ReplWorkloads
		case bench.SuiteCluster:
			names = bench.ClusterWorkloads
		}
	}
	workloads, err := bench.SelectWorkloads(bench.Workloads(strings.Repeat("v", o.valueSize)), names)
	if err != nil {
		return cfg, err
	}
	paths := map[string]*string{"redis-server": &o.redisServer, "redis-benchmark": &o.redisBenchmark, "sessiond": &o.sessiond}
	if o.suite == bench.SuiteCluster {
		paths["redis-cli"] = &o.redisCli
	}
	if !o.noPin {
		paths["taskset"] = &o.taskset
	} else {
		o.taskset = ""
	}
	for name, p := range paths {
		found, err := exec.LookPath(*p)
		if err != nil {
			hint := ""
			if name == "sessiond" {
				hint = " (run `make build` first)"
			}
			return cfg, fmt.Errorf("%s: %w%s", name, err, hint)
		}
		if *p, err = filepath.Abs(found); err != nil {
			return cfg, err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return cfg, err
	}
	redis, sessiond := bench.RedisSpec(o.redisServer, strings.Fields(o.redisArgs)), bench.SessiondSpec(o.sessiond, strings.Fields(o.sessiondArgs))
	var clu bench.ClusterSpec
	shards, redisCli := 0, ""
	if o.suite == bench.SuiteReplication {
		redis, sessiond = bench.RedisAOFSpec(o.redisServer, strings.Fields(o.redisArgs)), bench.SessiondRaftSpec(o.sessiond, strings.Fields(o.sessiondArgs))
		clu = bench.SessiondClusterSpec(o.sessiond, strings.Fields(o.sessiondArgs))
		o.memSessions = 0
	}
	if o.suite == bench.SuiteCluster {
		// The Redis Cluster nodes' arguments come from the suite; Redis's
		// spec gives the binary and -redis-args.
		clu = bench.ClusterSpec{Name: bench.SessiondCluster, Binary: o.sessiond, Nodes: bench.ClusterNodes, Extra: strings.Fields(o.sessiondArgs)}
		shards, redisCli = o.shards, o.redisCli
		o.memSessions = 0
	}
	return bench.Config{
		Suite: o.suite, Redis: redis, Sessiond: sessiond, Cluster: clu, Shards: shards, RedisCli: redisCli,
		RedisBenchmark: o.redisBenchmark, Taskset: o.taskset,
		ServerCPU: o.serverCPU, ClientCPU: o.clientCPU, Self: self,
		Rounds: o.rounds, Clients: o.clients, Pipelines: pipelines, Keys: o.keys,
		ValueSize: o.valueSize, Requests: o.requests, RequestsPipelined: o.requestsPipelined,
		MixTime: o.mixTime, Timeout: o.timeout, RoundsBudget: o.roundsBudget, Workloads: workloads,
		MemSessions: o.memSessions, MemTTL: o.memTTL, Log: os.Stderr,
	}, nil
}

// runCompare runs the comparison, prints the Markdown and writes the
// results, also after an interruption (the report marks them partial).
func runCompare(ctx context.Context, args []string) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	cfg, err := o.config()
	if err != nil {
		return err
	}
	run := bench.Run
	switch cfg.Suite {
	case bench.SuiteReplication:
		run = bench.RunReplication
	case bench.SuiteCluster:
		run = bench.RunCluster
	}
	rep, runErr := run(ctx, cfg)
	fmt.Print(bench.Markdown(rep))
	path, err := bench.WriteFiles(o.out, rep)
	if err != nil {
		return errors.Join(runErr, fmt.Errorf("writing results: %w", err))
	}
	fmt.Fprintf(os.Stderr, "raw results: %s (and .md)\n", path)
	return runErr
}
