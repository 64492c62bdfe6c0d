package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReplCases(t *testing.T) {
	all, err := SelectWorkloads(Workloads("v"), ReplWorkloads)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range ReplCases(all, []int{1, 16}) {
		got = append(got, c.Workload.Name+"/"+string(rune('0'+c.Pipeline%10)))
	}
	// GET, a read, only at the deepest depth (16 -> "6").
	want := "SET/1 HSET/1 SETEX/1 MIX/1 SET/6 GET/6 HSET/6 SETEX/6 MIX/6"
	if strings.Join(got, " ") != want {
		t.Fatalf("ReplCases = %s, want %s", strings.Join(got, " "), want)
	}
}

func TestSummarizeReplAndMarkdown(t *testing.T) {
	withNote := sample(1, Cluster3, "SET", 16, 40, 4, 40)
	withNote.Note = "leader changed"
	samples := []Sample{
		sample(1, RedisAOF, "SET", 16, 100, 1, 10),
		sample(1, Sessiond, "SET", 16, 120, 1, 12),
		withNote,
		sample(1, RedisAOF, "SET", 1, 50, 1, 2),
		sample(1, Sessiond, "SET", 1, 45, 1, 3),
		failed(1, Cluster3, "SET", 1, "no leader"),
		sample(1, RedisAOF, "GET", 16, 200, 1, 2),
		sample(1, Sessiond, "GET", 16, 180, 1, 2),
		sample(1, Cluster3, "GET", 16, 170, 1, 2),
	}
	rows := SummarizeRepl(samples)
	if len(rows) != 3 || rows[0].Workload != "SET" || rows[0].Pipeline != 1 || rows[1].Pipeline != 16 || rows[2].Workload != "GET" {
		t.Fatalf("rows out of order: %+v", rows)
	}
	if r := rows[1]; r.SessiondRatio == nil || *r.SessiondRatio != 1.2 || r.ClusterRatio == nil || *r.ClusterRatio != 0.4 ||
		r.ClusterP99 == nil || *r.ClusterP99 != 4 || len(r.Notes) != 1 {
		t.Fatalf("SET P16 row = %+v", r)
	}
	if rows[0].ClusterRatio != nil || rows[0].Cluster.OK != 0 {
		t.Fatalf("failed cluster run has a ratio: %+v", rows[0])
	}
	rep := &Report{
		Config:   Config{Suite: SuiteReplication, Cluster: SessiondClusterSpec("sessiond", nil), Clients: 50, Keys: 1000, ServerCPU: "0", ClientCPU: "1"},
		Samples:  samples,
		ReplRows: rows,
	}
	md := Markdown(rep)
	for _, want := range []string{
		"| SET | 16 | 100 | 120 | 1.20 | 40 | 0.40 | 1.000 | 1.000 | 4.000 | 10.000 | 12.000 | 40.000 |",
		"| SET | 1 | 50 | 45 | 0.90 | failed | – |",
		"- single node ≥ 1.0× redis-aof: lowest 0.90× (SET P1): not met",
		"- 3-node cluster ≥ 0.5× redis-aof: lowest 0.40× (SET P16): not met",
		"- sessiond-3 SET P1 (1 of 1 runs failed): no leader",
		"- SET P16, round 1 sessiond-3: leader changed",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q\n%s", want, md)
		}
	}
	if strings.Contains(md, "GET P16)") {
		t.Error("a read workload counted towards the write targets")
	}
}

// fakeNode is a cluster node backed by a fake server answering ROLE.
func fakeNode(t *testing.T, name, role string) *serverProc {
	t.Helper()
	f := startFake(t, func(cmd []string) string {
		return "*1\r\n$" + string(rune('0'+len(role))) + "\r\n" + role + "\r\n"
	})
	logf, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	logf.WriteString("node log line\n")
	return &serverProc{Name: name, Addr: f.addr, logf: logf, exited: make(chan struct{})}
}

func TestWaitLeader(t *testing.T) {
	ctx := context.Background()
	c := &cluster{nodes: []*serverProc{fakeNode(t, "n1", "slave"), fakeNode(t, "n2", "master"), fakeNode(t, "n3", "slave")}}
	leader, err := c.waitLeader(ctx, 5*time.Second)
	if err != nil || leader.Name != "n2" {
		t.Fatalf("waitLeader = %v, %v; want n2", leader, err)
	}

	c = &cluster{nodes: []*serverProc{fakeNode(t, "n1", "slave"), fakeNode(t, "n2", "slave")}}
	if _, err := c.waitLeader(ctx, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "no leader") {
		t.Fatalf("waitLeader without a master: %v", err)
	}

	close(c.nodes[1].exited)
	if _, err := c.waitLeader(ctx, 5*time.Second); err == nil || !strings.Contains(err.Error(), "n2 exited") {
		t.Fatalf("waitLeader with a dead node: %v", err)
	}
	if err := c.dead(); err == nil || !strings.Contains(err.Error(), "node log line") {
		t.Fatalf("dead() = %v", err)
	}
}

func TestFreePorts(t *testing.T) {
	ports, err := freePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 3 || ports[0] == ports[1] || ports[1] == ports[2] || ports[0] == ports[2] {
		t.Fatalf("freePorts(3) = %v, want three distinct ports", ports)
	}
}

func TestServerSpecsArgs(t *testing.T) {
	aof := strings.Join(RedisAOFSpec("redis-server", nil).Args(6379, "/d"), " ")
	if !strings.Contains(aof, "--appendonly yes --appendfsync everysec") {
		t.Errorf("redis AOF args = %s", aof)
	}
	raft := strings.Join(SessiondRaftSpec("sessiond", nil).Args(7001, "/d"), " ")
	if !strings.Contains(raft, "--raft-port ") || !strings.Contains(raft, "--appendfsync everysec") || strings.Contains(raft, "--raft-port 0") {
		t.Errorf("sessiond raft args = %s", raft)
	}
}
