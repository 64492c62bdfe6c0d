package bench

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"sessiond/shard"
)

func TestRedisClusterArgs(t *testing.T) {
	got := strings.Join(redisClusterArgs(7001, 17005, "/d"), " ")
	for _, want := range []string{"--port 7001", "--cluster-enabled yes", "--cluster-config-file /d/nodes.conf",
		"--cluster-port 17005", "--appendonly yes", "--appendfsync everysec", "--save  --", "--dir /d"} {
		if !strings.Contains(got, want) {
			t.Errorf("redisClusterArgs = %q, missing %q", got, want)
		}
	}
}

func TestSessiondClusterArgs(t *testing.T) {
	ports := []int{17001, 17002, 17003}
	peers := "--peers n1=127.0.0.1:17001,n2=127.0.0.1:17002,n3=127.0.0.1:17003"
	for _, tt := range []struct {
		shards     int
		wantShards bool
	}{{1, false}, {3, true}} {
		args := sessiondClusterArgs(1, 7002, ports, "/d2", tt.shards)
		got := strings.Join(args, " ")
		for _, want := range []string{"--node-id n2", "--port 7002", "--raft-port 17002", "--dir /d2", peers,
			"--appendfsync everysec", "--cluster-enabled yes"} {
			if !strings.Contains(got, want) {
				t.Errorf("shards %d: args %q, missing %q", tt.shards, got, want)
			}
		}
		if has := slices.Contains(args, "--shards"); has != tt.wantShards {
			t.Errorf("shards %d: args %q: --shards present = %v", tt.shards, got, has)
		}
		if tt.wantShards && !strings.HasSuffix(got, "--shards 3") {
			t.Errorf("shards %d: args %q do not end with --shards 3", tt.shards, got)
		}
	}
}

func TestClusterCreateArgs(t *testing.T) {
	got := pinned("taskset", "1", clusterCreateArgs("redis-cli", []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}))
	want := []string{"taskset", "-c", "1", "redis-cli", "--cluster", "create", "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3",
		"--cluster-replicas", "0", "--cluster-yes"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := pinned("", "1", []string{"x"}); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("unpinned: got %q", got)
	}
}

func TestClusterBenchArgs(t *testing.T) {
	b := benchmarkRun{Binary: "redis-benchmark", Taskset: "taskset", CPU: "1", Host: "127.0.0.1", Port: 7001,
		Clients: 50, Requests: 1000, Pipeline: 16, Keys: 10, Command: taggedCommand([]string{"GET", "str:" + randInt})}
	got := clusterBenchArgs(b)
	want := []string{"taskset", "-c", "1", "redis-benchmark", "--cluster", "-h", "127.0.0.1", "-p", "7001",
		"-c", "50", "-n", "1000", "-P", "16", "-r", "10", "--csv", "GET", "str:{tag}:__rand_int__"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestTaggedCommand(t *testing.T) {
	cmd := []string{"HSET", "sess:" + randInt, "user_id", "u1"}
	got := taggedCommand(cmd)
	if want := []string{"HSET", "sess:{tag}:__rand_int__", "user_id", "u1"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if cmd[1] != "sess:"+randInt {
		t.Fatalf("taggedCommand modified its argument: %q", cmd)
	}
}

func TestClusterKeys(t *testing.T) {
	for _, tt := range []struct{ keys, masters, want int }{{100_000, 3, 33_334}, {9, 3, 3}, {1, 3, 1}, {10, 0, 10}} {
		if got := clusterKeys(tt.keys, tt.masters); got != tt.want {
			t.Errorf("clusterKeys(%d, %d) = %d, want %d", tt.keys, tt.masters, got, tt.want)
		}
	}
}

// slotsReply builds a CLUSTER SLOTS reply from [start, end, host, port]
// ranges.
func slotsReply(ranges ...[4]any) Reply {
	rep := Reply{Kind: '*'}
	for _, r := range ranges {
		node := Reply{Kind: '*', Elems: []Reply{{Kind: '$', Str: r[2].(string)}, {Kind: ':', Int: int64(r[3].(int))}, {Kind: '$', Str: "id"}}}
		rep.Elems = append(rep.Elems, Reply{Kind: '*', Elems: []Reply{
			{Kind: ':', Int: int64(r[0].(int))}, {Kind: ':', Int: int64(r[1].(int))}, node}})
	}
	return rep
}

func TestParseClusterSlots(t *testing.T) {
	m, err := parseClusterSlots(slotsReply([4]any{0, 5460, "127.0.0.1", 7001}, [4]any{5461, 10922, "", 7002},
		[4]any{10923, 16383, "127.0.0.1", 7003}), "10.0.0.9")
	if err != nil {
		t.Fatal(err)
	}
	if n := m.covered(); n != shard.SlotCount {
		t.Fatalf("covered %d slots", n)
	}
	if want := []string{"127.0.0.1:7001", "10.0.0.9:7002", "127.0.0.1:7003"}; !slices.Equal(m.masters, want) {
		t.Fatalf("masters %q, want %q", m.masters, want)
	}
	if m.addr[5460] != "127.0.0.1:7001" || m.addr[5461] != "10.0.0.9:7002" || m.addr[16383] != "127.0.0.1:7003" {
		t.Fatalf("range edges: %q %q %q", m.addr[5460], m.addr[5461], m.addr[16383])
	}
	// "foo" hashes to slot 12182 (Redis Cluster specification example).
	if got := m.owner("foo"); got != "127.0.0.1:7003" {
		t.Fatalf("owner(foo) = %q", got)
	}

	partial, err := parseClusterSlots(slotsReply([4]any{0, 99, "h", 1}), "h")
	if err != nil || partial.covered() != 100 {
		t.Fatalf("partial map: covered %d, %v", partial.covered(), err)
	}
	for name, bad := range map[string]Reply{
		"not an array":  {Kind: '$'},
		"end past last": slotsReply([4]any{0, 16384, "h", 1}),
		"end before":    slotsReply([4]any{10, 9, "h", 1}),
		"short range":   {Kind: '*', Elems: []Reply{{Kind: '*', Elems: []Reply{{Kind: ':'}}}}},
	} {
		if _, err := parseClusterSlots(bad, "h"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestInfoString(t *testing.T) {
	info := "cluster_enabled:1\r\ncluster_state:fail\r\ncluster_slots_assigned:16384\r\n"
	if v, ok := infoString(info, "cluster_state"); !ok || v != "fail" {
		t.Fatalf("cluster_state = %q, %v", v, ok)
	}
	if _, ok := infoString(info, "cluster_size"); ok {
		t.Fatal("found a missing field")
	}
}

func TestMovedTarget(t *testing.T) {
	if a, ok := movedTarget("MOVED 3999 127.0.0.1:6381"); !ok || a != "127.0.0.1:6381" {
		t.Fatalf("got %q, %v", a, ok)
	}
	for _, msg := range []string{"ASK 3999 127.0.0.1:6381", "MOVED x 127.0.0.1:6381", "ERR MOVED", "MOVED 1"} {
		if _, ok := movedTarget(msg); ok {
			t.Errorf("%q taken for MOVED", msg)
		}
	}
}

func TestKeysByMaster(t *testing.T) {
	m, err := parseClusterSlots(slotsReply([4]any{0, 8191, "h", 1}, [4]any{8192, 16383, "h", 2}), "h")
	if err != nil {
		t.Fatal(err)
	}
	by := keysByMaster(m, 1000)
	total := 0
	for addr, idx := range by {
		total += len(idx)
		for _, i := range idx {
			if got := m.owner(paddedKey(sessPrefix, i)); got != addr {
				t.Fatalf("key %d listed under %s, served by %s", i, addr, got)
			}
		}
	}
	if total != 1000 || len(by) != 2 {
		t.Fatalf("%d keys over %d masters", total, len(by))
	}
}

func TestMasterHint(t *testing.T) {
	base := errors.New("redis-benchmark: Invalid cluster: 1 node(s).")
	if err := masterHint(base, 3); err != base {
		t.Fatalf("three masters: %v", err)
	}
	err := masterHint(base, 1)
	if !errors.Is(err, base) || !strings.Contains(err.Error(), "1 master") || !strings.Contains(err.Error(), "-shards") {
		t.Fatalf("one master: %v", err)
	}
}

func TestClusterCases(t *testing.T) {
	ws, err := SelectWorkloads(Workloads("v"), ClusterWorkloads)
	if err != nil {
		t.Fatal(err)
	}
	cases := ClusterCases(ws, []int{1, 16})
	var got []string
	for _, c := range cases {
		got = append(got, c.Workload.Name+"/"+strings.Repeat("P", c.Pipeline/16+1))
	}
	want := []string{"SET/P", "GET/P", "HSET/P", "MIX/P", "SET/PP", "GET/PP", "HSET/PP", "MIX/PP"}
	if !slices.Equal(got, want) {
		t.Fatalf("cases %q, want %q", got, want)
	}
}

func TestSummarizeClusterAndTargets(t *testing.T) {
	samples := []Sample{
		{Round: 1, Server: RedisCluster, Workload: "SET", Pipeline: 1, Measure: Measure{RPS: 100, P50Ms: 1, P99Ms: 2}},
		{Round: 1, Server: SessiondCluster, Workload: "SET", Pipeline: 1, Measure: Measure{RPS: 60, P50Ms: 2, P99Ms: 4}},
		{Round: 1, Server: RedisCluster, Workload: "GET", Pipeline: 1, Measure: Measure{RPS: 100, P50Ms: 1, P99Ms: 2}},
		{Round: 1, Server: SessiondCluster, Workload: "GET", Pipeline: 1, Measure: Measure{RPS: 90, P50Ms: 1, P99Ms: 2}},
		{Round: 1, Server: RedisCluster, Workload: "HSET", Pipeline: 16, Measure: Measure{RPS: 100, P50Ms: 1, P99Ms: 2}},
		{Round: 1, Server: SessiondCluster, Workload: "HSET", Pipeline: 16, Error: "redis-benchmark: Invalid cluster: 1 node(s)."},
		{Round: 1, Server: "other", Workload: "HSET", Pipeline: 16, Measure: Measure{RPS: 1}},
	}
	rows := SummarizeCluster(samples)
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	if r := rows[0]; r.Workload != "SET" || r.RPSRatio == nil || *r.RPSRatio != 0.6 || *r.P99Ratio != 2 {
		t.Fatalf("SET row %+v", r)
	}
	if r := rows[2]; r.Workload != "HSET" || r.RPSRatio != nil || r.Sessiond.OK != 0 || r.Redis.Runs != 1 {
		t.Fatalf("HSET row %+v", r)
	}
	lines := clusterTargetLines(rows)
	if len(lines) != 2 || !strings.Contains(lines[0], "lowest 0.60× (SET P1): met") || !strings.Contains(lines[1], "lowest 0.90× (GET P1): not met") {
		t.Fatalf("targets %q", lines)
	}
	rep := &Report{Config: Config{Suite: SuiteCluster, Cluster: ClusterSpec{Nodes: 3}, Shards: 1}, Samples: samples, ClusterRows: rows}
	md := Markdown(rep)
	for _, want := range []string{"| SET | 1 | 100 | 60 | 0.60 |", "| HSET | 16 | 100 | failed | – |",
		"- sessiond-cluster HSET P16 (1 of 1 runs failed): redis-benchmark: Invalid cluster", "1 Raft group(s)"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
}
