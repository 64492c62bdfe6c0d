package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessiond/replication"
	"sessiond/ttl"
)

// testCluster is a cluster of in-process nodes: real TCP on 127.0.0.1:0,
// real raft-boltdb under t.TempDir().
type testCluster struct {
	t       *testing.T
	nodes   []*testNode
	peers   string
	tune    func(*replication.Config)
	cfg     Config
	nodeCfg func(i int, c *Config) // per-node changes, may be nil
}

type testNode struct {
	id       string
	dir      string
	raftAddr string
	stream   *replication.Port
	node     *Node
	addr     string // client address
	done     chan error
}

// fastRaft shortens Raft's timers for tests (still generous for a loaded
// 2-core machine).
func fastRaft(rc *replication.Config) {
	rc.HeartbeatTimeout = 400 * time.Millisecond
	rc.ElectionTimeout = 400 * time.Millisecond
	rc.LeaderLeaseTimeout = 200 * time.Millisecond
}

// startCluster starts n nodes that form one group.
func startCluster(t *testing.T, n int, cfg Config, tune func(*replication.Config)) *testCluster {
	return startClusterWith(t, n, cfg, nil, tune)
}

// startClusterWith is startCluster with per-node configuration changes.
func startClusterWith(t *testing.T, n int, cfg Config, nodeCfg func(i int, c *Config), tune func(*replication.Config)) *testCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-node test skipped in -short mode")
	}
	tc := &testCluster{t: t, tune: tune, cfg: cfg, nodeCfg: nodeCfg}
	var peers []string
	for i := 0; i < n; i++ {
		st, err := replication.Listen("127.0.0.1:0", "")
		if err != nil {
			t.Fatal(err)
		}
		tn := &testNode{id: fmt.Sprintf("n%d", i+1), dir: t.TempDir(), raftAddr: st.Addr().String(), stream: st}
		tc.nodes = append(tc.nodes, tn)
		peers = append(peers, tn.id+"="+tn.raftAddr)
	}
	tc.peers = strings.Join(peers, ",")
	for _, tn := range tc.nodes {
		tc.open(tn)
	}
	t.Cleanup(func() {
		for _, tn := range tc.nodes {
			tc.stop(tn)
		}
	})
	return tc
}

// open starts tn (again) on its directory and Raft address.
func (tc *testCluster) open(tn *testNode) {
	t := tc.t
	t.Helper()
	if tn.stream == nil {
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, err := replication.Listen(tn.raftAddr, "")
			if err == nil {
				tn.stream = st
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("re-listen on %s: %v", tn.raftAddr, err)
			}
			time.Sleep(20 * time.Millisecond) // the port is still held by the old listener
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := tc.cfg
	cfg.NodeID, cfg.Dir, cfg.Peers = tn.id, tn.dir, tc.peers
	if tc.nodeCfg != nil {
		for i, o := range tc.nodes {
			if o == tn {
				tc.nodeCfg(i, &cfg)
			}
		}
	}
	tune := func(rc *replication.Config) {
		fastRaft(rc)
		if tc.tune != nil {
			tc.tune(rc)
		}
	}
	n, err := OpenNode(cfg, ln, NodeOptions{Port: tn.stream, Tune: tune})
	if err != nil {
		ln.Close()
		t.Fatalf("open %s: %v", tn.id, err)
	}
	tn.node, tn.addr, tn.done = n, ln.Addr().String(), make(chan error, 1)
	go func() { tn.done <- n.Server.Serve(ln) }()
}

// stop shuts tn down abruptly (no leadership transfer), like a crash
// that loses nothing already written to the log.
func (tc *testCluster) stop(tn *testNode) {
	if tn.node == nil {
		return
	}
	held := tn.node.Server.HeldGroups() // groups taken at run time too (moves.go)
	tn.node.Server.Close()
	for _, g := range append(held, tn.node.Groups...) {
		if g != nil {
			g.Close()
		}
	}
	<-tn.done
	tn.node, tn.stream = nil, nil
}

// leader waits for a node that leads and is ready, and returns it.
func (tc *testCluster) leader() *testNode {
	tc.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, tn := range tc.nodes {
			if tn.node != nil && tn.node.Group != nil && tn.node.Group.Ready() {
				return tn
			}
		}
		time.Sleep(10 * time.Millisecond) // polling for an election, bounded
	}
	tc.t.Fatal("no leader within 20s")
	return nil
}

// groupLeader waits for the node that leads shard group i and is ready,
// and returns it.
func (tc *testCluster) groupLeader(i int) *testNode {
	tc.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, tn := range tc.nodes {
			if tn.node != nil && tn.node.Groups[i] != nil && tn.node.Groups[i].Ready() {
				return tn
			}
		}
		time.Sleep(10 * time.Millisecond) // polling for an election, bounded
	}
	tc.t.Fatalf("no leader of group %d within 20s", i)
	return nil
}

// follower returns a running node other than l.
func (tc *testCluster) follower(l *testNode) *testNode {
	for _, tn := range tc.nodes {
		if tn != l && tn.node != nil {
			return tn
		}
	}
	tc.t.Fatal("no follower running")
	return nil
}

// client returns a go-redis client of tn that never retries by itself.
func (tc *testCluster) client(tn *testNode) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: tn.addr, MaxRetries: -1, DisableIdentity: true,
		ReadTimeout: 15 * time.Second, WriteTimeout: 15 * time.Second, PoolSize: 4})
	tc.t.Cleanup(func() { c.Close() })
	return c
}

// converge waits until every running node has applied what the leader
// has and their digests agree, and returns the digest.
func (tc *testCluster) converge() string {
	tc.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last []string
	for time.Now().Before(deadline) {
		last = last[:0]
		l := tc.leader()
		ok := true
		for i := range l.node.Groups {
			want := tc.groupLeader(i).node.Groups[i].AppliedIndex()
			for _, tn := range tc.nodes {
				if tn.node != nil && tn.node.Groups[i].AppliedIndex() < want {
					ok = false
				}
			}
		}
		for _, tn := range tc.nodes {
			if tn.node != nil {
				last = append(last, tn.id+":"+tn.node.Server.digest())
			}
		}
		if ok {
			d := l.node.Server.digest()
			same := true
			for _, tn := range tc.nodes {
				if tn.node != nil && tn.node.Server.digest() != d {
					same = false
				}
			}
			if same {
				return d
			}
		}
		time.Sleep(20 * time.Millisecond) // polling for replication, bounded
	}
	tc.t.Fatalf("nodes did not converge: %v", last)
	return ""
}

// ackLog records acknowledged writes.
type ackLog struct {
	mu   sync.Mutex
	acks map[string]string
}

func (a *ackLog) add(k, v string) {
	a.mu.Lock()
	a.acks[k] = v
	a.mu.Unlock()
}

func (a *ackLog) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.acks)
}

// writerRun is one writer per node SETting unique keys through its
// node, recording those acknowledged OK (acks) and those answered
// outcome-unknown.
type writerRun struct {
	acks    *ackLog
	unknown atomic.Int64
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// startWriters starts a writer on every node of tc until stop (or ctx
// ends).
func (tc *testCluster) startWriters(ctx context.Context) *writerRun {
	r := &writerRun{acks: &ackLog{acks: make(map[string]string)}}
	ctx, r.cancel = context.WithCancel(ctx)
	for w, tn := range tc.nodes {
		c := tc.client(tn)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for i := 0; i < 100000 && ctx.Err() == nil; i++ {
				k := fmt.Sprintf("w%d:%d", w, i)
				v := fmt.Sprintf("v%d", i)
				err := c.Set(ctx, k, v, 0).Err()
				switch {
				case err == nil:
					r.acks.add(k, v)
				case strings.Contains(err.Error(), "outcome unknown"):
					r.unknown.Add(1)
				}
			}
		}()
	}
	return r
}

// stop ends the writers, waits for them, and returns how many writes were
// answered outcome-unknown.
func (r *writerRun) stop() int64 {
	r.cancel()
	r.wg.Wait()
	return r.unknown.Load()
}

// waitAcks waits until at least n writes are acknowledged.
func waitAcks(t *testing.T, acks *ackLog, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for acks.len() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writes acknowledged within 60s", acks.len(), n)
		}
		time.Sleep(5 * time.Millisecond) // polling for progress, bounded
	}
}

// TestClusterFailoverKeepsAcknowledgedWrites kills the leader while
// clients write through every node, restarts it, partitions the next
// leader and heals it: every acknowledged write must survive on every
// node, and the nodes must end with identical data.
func TestClusterFailoverKeepsAcknowledgedWrites(t *testing.T) {
	tc := startCluster(t, 3, Config{}, nil)
	tc.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	wr := tc.startWriters(ctx)
	acks := wr.acks

	waitAcks(t, acks, 200)
	old := tc.leader()
	tc.stop(old) // kill the leader mid-write
	n := acks.len()
	waitAcks(t, acks, n+200) // a new leader took over
	tc.open(old)             // restart it
	waitAcks(t, acks, acks.len()+100)

	l := tc.leader()
	l.stream.Isolate(true) // partition the leader
	n = acks.len()
	waitAcks(t, acks, n+200) // the majority elected another and goes on
	l.stream.Isolate(false)  // heal
	waitAcks(t, acks, acks.len()+100)
	unk := wr.stop()

	tc.converge()
	for _, tn := range tc.nodes {
		c := tc.client(tn)
		acks.mu.Lock()
		for k, v := range acks.acks {
			got, err := c.Get(ctx, k).Result()
			if err != nil || got != v {
				t.Errorf("%s: acknowledged %s=%s, read %q, %v", tn.id, k, v, got, err)
			}
		}
		acks.mu.Unlock()
	}
	t.Logf("%d acknowledged writes survived on all nodes; %d answered outcome-unknown", acks.len(), unk)
}

// TestClusterFollowerForwardsAndReadonly checks that any node takes
// writes, READONLY reads locally on a follower, and ROLE/WAIT/INFO.
func TestClusterFollowerForwardsAndReadonly(t *testing.T) {
	tc := startCluster(t, 3, Config{}, nil)
	l := tc.leader()
	f := tc.follower(l)
	ctx := context.Background()
	fc := tc.client(f)
	if err := fc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET through follower: %v", err)
	}
	if got, err := fc.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET through follower = %q, %v", got, err)
	}
	if n, err := fc.HSet(ctx, "h", "a", "1", "b", "2").Result(); err != nil || n != 2 {
		t.Fatalf("HSET through follower = %d, %v", n, err)
	}
	// WAIT on the leader after a write: both followers apply it.
	lc := tc.client(l)
	if err := lc.Set(ctx, "w", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := lc.Do(ctx, "WAIT", 2, 10000).Int64(); err != nil || n != 2 {
		t.Fatalf("WAIT 2 = %d, %v", n, err)
	}
	// After WAIT, a READONLY follower connection sees the write locally.
	conn := fc.Conn()
	defer conn.Close()
	if err := conn.ReadOnly(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := conn.Get(ctx, "w").Result(); err != nil || got != "1" {
		t.Fatalf("READONLY GET on follower = %q, %v", got, err)
	}
	if err := conn.ReadWrite(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	role, err := fc.Do(ctx, "ROLE").Slice()
	if err != nil || len(role) != 5 || role[0] != "slave" || role[3] != "connected" {
		t.Fatalf("follower ROLE = %v, %v", role, err)
	}
	_, lport, _ := net.SplitHostPort(l.addr)
	if fmt.Sprint(role[2]) != lport {
		t.Errorf("follower ROLE master port %v, leader listens on %s", role[2], lport)
	}
	lrole, err := lc.Do(ctx, "ROLE").Slice()
	if err != nil || len(lrole) != 3 || lrole[0] != "master" || len(lrole[2].([]any)) != 2 {
		t.Fatalf("leader ROLE = %v, %v", lrole, err)
	}
	info, err := lc.Info(ctx, "replication").Result()
	if err != nil || !strings.Contains(info, "role:master") || !strings.Contains(info, "connected_slaves:2") {
		t.Fatalf("leader INFO replication:\n%s %v", info, err)
	}
	finfo, err := fc.Info(ctx, "replication", "raft").Result()
	if err != nil || !strings.Contains(finfo, "role:slave") || !strings.Contains(finfo, "master_link_status:up") ||
		!strings.Contains(finfo, "raft_state:follower") || !strings.Contains(finfo, "raft_leader_id:"+l.id) {
		t.Fatalf("follower INFO replication raft:\n%s %v", finfo, err)
	}
	if _, err := fc.Do(ctx, "WAIT", 1, 0).Result(); err == nil || !strings.Contains(err.Error(), "replica") {
		t.Errorf("WAIT on a follower: %v, want Redis's replica error", err)
	}
}

// TestClusterWatchOnLaggingFollower: WATCH on a follower takes the key's
// version from the leader, so a transaction that follows the
// connection's own write through a follower that has not applied it yet
// (its Raft traffic cut) commits, as in Redis, instead of aborting on a
// stale version; and a change by another client still aborts it.
func TestClusterWatchOnLaggingFollower(t *testing.T) {
	// n3 waits a minute for the leader's heartbeats: cut off, it still
	// knows the leader (and forwards to it) and never stands for
	// election, so it cannot be the leader.
	tc := startCluster(t, 3, Config{}, func(rc *replication.Config) {
		if rc.NodeID == "n3" {
			rc.HeartbeatTimeout, rc.ElectionTimeout = time.Minute, time.Minute
		}
	})
	l := tc.leader()
	f := tc.nodes[2]
	if f == l {
		t.Fatal("n3 leads, though it never stands for election")
	}
	ctx := context.Background()
	fc, lc := tc.client(f), tc.client(l)
	// n3 learns the nodes' client addresses (to forward to the leader)
	// from the log: let it catch up before it is cut off.
	if err := fc.Set(ctx, "lag", "0", 0).Err(); err != nil {
		t.Fatal(err)
	}
	tc.converge()
	f.stream.Isolate(true)
	defer f.stream.Isolate(false)
	if err := fc.Set(ctx, "lag", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	err := fc.Watch(ctx, func(tx *redis.Tx) error {
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "lag", "2", 0)
			return nil
		})
		return err
	}, "lag")
	if err != nil {
		t.Fatalf("EXEC after the connection's own write, through a lagging follower: %v, want it to commit", err)
	}
	if v, err := lc.Get(ctx, "lag").Result(); err != nil || v != "2" {
		t.Fatalf("GET on the leader: %q %v, want 2", v, err)
	}
	err = fc.Watch(ctx, func(tx *redis.Tx) error {
		if err := lc.Set(ctx, "lag", "other", 0).Err(); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "lag", "3", 0)
			return nil
		})
		return err
	}, "lag")
	if !errors.Is(err, redis.TxFailedErr) {
		t.Fatalf("EXEC after another client's change: %v, want abort", err)
	}
}

// TestClusterWatchAcrossNodes: a key WATCHed on one node and changed
// through another aborts the EXEC; an unchanged one commits, also when
// the transaction is sent to a follower.
func TestClusterWatchAcrossNodes(t *testing.T) {
	tc := startCluster(t, 3, Config{}, nil)
	l := tc.leader()
	ctx := context.Background()
	for _, tn := range tc.nodes {
		c := tc.client(tn)
		var other *testNode
		for _, o := range tc.nodes {
			if o != tn {
				other = o
				break
			}
		}
		oc := tc.client(other)
		key := "watched:" + tn.id
		if err := c.Set(ctx, key, "0", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.Do(ctx, "WAIT", 2, 10000).Err(); err != nil && tn == l {
			t.Fatal(err)
		}
		tc.converge()
		// Changed elsewhere between WATCH and EXEC: abort.
		err := c.Watch(ctx, func(tx *redis.Tx) error {
			if err := oc.Set(ctx, key, "other", 0).Err(); err != nil {
				return err
			}
			tc.converge()
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, "mine", 0)
				return nil
			})
			return err
		}, key)
		if !errors.Is(err, redis.TxFailedErr) {
			t.Fatalf("%s: EXEC after a change through %s: %v, want abort", tn.id, other.id, err)
		}
		// Unchanged: commits.
		err = c.Watch(ctx, func(tx *redis.Tx) error {
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, "mine", 0)
				p.Incr(ctx, key+":n")
				return nil
			})
			return err
		}, key)
		if err != nil {
			t.Fatalf("%s: EXEC of an unchanged watch: %v", tn.id, err)
		}
		if got, _ := oc.Get(ctx, key).Result(); got != "mine" {
			t.Fatalf("%s: after EXEC %s = %q", tn.id, key, got)
		}
	}
}

// compactingRaft makes groups snapshot and truncate their log after a
// few writes, so that a follower cut off for a while must catch up from
// a snapshot.
func compactingRaft(rc *replication.Config) {
	rc.SnapshotThreshold = 50
	rc.TrailingLogs = 10
	rc.MaxBatchOps = 4
}

// TestClusterSnapshotCatchUp: a follower down while the log is compacted
// past its position catches up from a snapshot and ends identical.
func TestClusterSnapshotCatchUp(t *testing.T) {
	tc := startCluster(t, 3, Config{}, compactingRaft)
	l := tc.leader()
	f := tc.follower(l)
	ctx := context.Background()
	lc := tc.client(l)
	for i := 0; i < 50; i++ {
		lc.Set(ctx, fmt.Sprintf("before:%d", i), i, 0)
	}
	tc.converge()
	tc.stop(f)
	// Writes continue while the follower is down, with big hashes and
	// TTLs; the leader snapshots and truncates its log.
	for i := 0; i < 600; i++ {
		if err := lc.Set(ctx, fmt.Sprintf("during:%d", i), i, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			args := []any{}
			for j := 0; j < 200; j++ {
				args = append(args, fmt.Sprintf("f%d", j), strings.Repeat("x", j))
			}
			if err := lc.HSet(ctx, fmt.Sprintf("big:%d", i), args...).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if i == 300 {
			if err := lc.Do(ctx, "DEBUG", "RAFT-SNAPSHOT").Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := lc.Do(ctx, "DEBUG", "RAFT-SNAPSHOT").Err(); err != nil {
		t.Fatal(err)
	}
	tc.open(f)
	d := tc.converge()
	if got := f.node.Server.Store().Digest(); got != d {
		t.Fatalf("follower digest %s, leader %s", got, d)
	}
	if st := f.node.Group.Status(); st.SnapshotIndex == 0 && st.AppliedIndex < 600 {
		t.Fatalf("follower status %+v", st)
	}
	if n, _ := tc.client(f).DBSize(ctx).Result(); n != 50+600+6 {
		t.Fatalf("DBSIZE on the caught-up follower = %d", n)
	}
}

// TestClusterSlowerClockNeverResurrects: a leader whose clock runs ahead
// lets a key expire; after it dies, a new leader whose clock is 10 s
// behind must not show the key again, because the old leader's time went
// through the log (the reap of the key, which carries its time).
func TestClusterSlowerClockNeverResurrects(t *testing.T) {
	base := time.Unix(1_800_000_000, 0)
	clocks := []*ttl.FakeClock{ttl.NewFakeClock(base), ttl.NewFakeClock(base), ttl.NewFakeClock(base)}
	tc := startClusterWith(t, 3, Config{}, func(i int, c *Config) { c.Clock = clocks[i] }, nil)
	l := tc.leader()
	var li int
	for i, tn := range tc.nodes {
		if tn == l {
			li = i
		}
	}
	clocks[li].Advance(10 * time.Second)
	ctx := context.Background()
	lc := tc.client(l)
	if err := lc.Set(ctx, "sess", "v", time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	if err := lc.HSet(ctx, "h", "keep", "1", "gone", "2").Err(); err != nil {
		t.Fatal(err)
	}
	if err := lc.Do(ctx, "HPEXPIRE", "h", 1000, "FIELDS", 1, "gone").Err(); err != nil {
		t.Fatal(err)
	}
	tc.converge()
	clocks[li].Advance(2 * time.Second) // both deadlines pass on the leader only
	want := base.Add(12 * time.Second).UnixMilli()
	deadline := time.Now().Add(20 * time.Second)
	for _, tn := range tc.nodes {
		for tn.node.Server.Store().LastNow() < want {
			if time.Now().After(deadline) {
				t.Fatalf("%s never applied the leader's time", tn.id)
			}
			time.Sleep(10 * time.Millisecond) // polling for the reaper's op, bounded
		}
	}
	tc.stop(l)
	nl := tc.leader()
	nc := tc.client(nl)
	if n, err := nc.Exists(ctx, "sess").Result(); err != nil || n != 0 {
		t.Fatalf("new leader (clock 10 s behind): EXISTS sess = %d, %v", n, err)
	}
	if got, err := nc.HGetAll(ctx, "h").Result(); err != nil || len(got) != 1 || got["keep"] != "1" {
		t.Fatalf("new leader: HGETALL h = %v, %v", got, err)
	}
}

// TestClusterGracefulLeaderStop: a leader stopped the SIGTERM way hands
// its leadership over first, so clients of the other nodes see no error.
func TestClusterGracefulLeaderStop(t *testing.T) {
	tc := startCluster(t, 3, Config{}, nil)
	l := tc.leader()
	var clients []*redis.Client
	for _, tn := range tc.nodes {
		if tn != l {
			clients = append(clients, tc.client(tn))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	var acked sync.Map
	for ci, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("g%d:%d", ci, i)
				if err := c.Set(ctx, k, "v", 0).Err(); err != nil {
					errs <- fmt.Errorf("SET %s through a follower: %w", k, err)
					return
				}
				acked.Store(k, true)
			}
		}()
	}
	count := func() int {
		n := 0
		acked.Range(func(any, any) bool { n++; return true })
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for count() < 100 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling for progress, bounded
	}
	if err := l.node.Shutdown(); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
	<-l.done
	l.node, l.stream = nil, nil
	before := count()
	for count() < before+100 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling for progress, bounded
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if count() < before+100 {
		t.Fatalf("writes stalled after the leader stopped: %d then %d", before, count())
	}
}

// TestClusterFollowerExecKeepsPoolClean: connection-state commands queued
// in a transaction sent to a follower (HELLO 3, CLIENT SETNAME) must not
// change the pooled connections the follower forwards other clients'
// commands on.
func TestClusterFollowerExecKeepsPoolClean(t *testing.T) {
	tc := startCluster(t, 3, Config{}, nil)
	f := tc.follower(tc.leader())
	ctx := context.Background()
	fc := tc.client(f)
	if err := fc.HSet(ctx, "h", "a", "1").Err(); err != nil {
		t.Fatal(err)
	}
	conn := fc.Conn()
	defer conn.Close()
	for i := 0; i < 3; i++ {
		_, err := conn.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Do(ctx, "CLIENT", "SETNAME", "renamed")
			p.Set(ctx, "k", "v", 0)
			return nil
		})
		if err != nil {
			t.Fatalf("MULTI through a follower: %v", err)
		}
	}
	// The leader-side connection that ran CLIENT SETNAME is closed, not
	// pooled for other clients' commands.
	lc := tc.client(tc.leader())
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := lc.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(list, "name=renamed ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a forwarded transaction's renamed connection stayed open on the leader:\n%s", list)
		}
		time.Sleep(10 * time.Millisecond) // polling for the close, bounded
	}
	for i := 0; i < 20; i++ {
		got, err := fc.HGetAll(ctx, "h").Result()
		if err != nil || got["a"] != "1" {
			t.Fatalf("HGETALL through the follower after forwarded transactions: %v, %v", got, err)
		}
		if n, err := fc.Set(ctx, fmt.Sprint("after", i), "x", 0).Result(); err != nil || n != "OK" {
			t.Fatalf("SET through the follower: %q, %v", n, err)
		}
	}
}
