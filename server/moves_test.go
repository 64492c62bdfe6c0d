package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"sessiond/replication"
	"sessiond/shard"
)

// TestPlanJoin checks which replicas a joining node takes: its share,
// each from the node holding the most.
func TestPlanJoin(t *testing.T) {
	for _, c := range []struct {
		name   string
		l      layoutReply
		self   string
		want   []move
		counts map[string]int
	}{
		{
			name: "four nodes, four groups of three: the fifth takes two",
			l: layoutReply{Shards: 4, Replicas: 3, Groups: [][]string{
				{"n1", "n2", "n3"}, {"n2", "n3", "n4"}, {"n3", "n4", "n1"}, {"n4", "n1", "n2"}}},
			self: "n5",
			want: []move{{group: 0, from: "n1"}, {group: 1, from: "n2"}},
		},
		{
			name: "already balanced: nothing",
			l: layoutReply{Shards: 3, Replicas: 1, Groups: [][]string{
				{"n1"}, {"n2"}, {"n3"}}},
			self: "n4",
		},
		{
			name: "a node that already took one takes the rest",
			l: layoutReply{Shards: 4, Replicas: 3, Groups: [][]string{
				{"n5", "n2", "n3"}, {"n2", "n3", "n4"}, {"n3", "n4", "n1"}, {"n4", "n1", "n2"}}},
			self: "n5",
			want: []move{{group: 1, from: "n2"}},
		},
		{
			name: "a group left short of replicas is filled first, taking from nobody",
			l: layoutReply{Shards: 4, Replicas: 3, Groups: [][]string{
				{"n1", "n2", "n3"}, {"n2", "n3"}, {"n3", "n4", "n1"}, {"n4", "n1", "n2"}}},
			self: "n5",
			want: []move{{group: 1}, {group: 0, from: "n1"}},
		},
		{
			name: "one group of three on four nodes: the fourth takes none",
			l:    layoutReply{Shards: 1, Replicas: 3, Groups: [][]string{{"n1", "n2", "n3"}}},
			self: "n4",
		},
		{
			// Zones a a b c: the fifth node, in zone b, takes from n1
			// (holding the most) group 3 (n4 n1 n2: c a a, so c a b)
			// rather than group 0 (n1 n2 n3: a a b, so a b b); then,
			// of n2 n3 n4 (three each), from n3 its group 0 (a zone b
			// replica for another).
			name: "zones: of the most loaded node's groups, one the new node's zone keeps spread",
			l: layoutReply{Shards: 4, Replicas: 3, Groups: [][]string{
				{"n1", "n2", "n3"}, {"n2", "n3", "n4"}, {"n3", "n4", "n1"}, {"n4", "n1", "n2"}},
				Nodes: []layoutNode{{ID: "n1", Zone: "a"}, {ID: "n2", Zone: "a"}, {ID: "n3", Zone: "b"}, {ID: "n4", Zone: "c"}, {ID: "n5", Zone: "b"}}},
			self: "n5",
			want: []move{{group: 3, from: "n1"}, {group: 0, from: "n3"}},
		},
		{
			// Spread over a b c already, the fifth node in zone b
			// takes only from n3, b's node: from n1 or n4 it would
			// leave two replicas in zone b. The layout came from
			// another node, which does not list n5 yet (withZone).
			name: "zones: only moves that keep every group spread",
			l: *(&layoutReply{Shards: 4, Replicas: 3, Groups: [][]string{
				{"n1", "n3", "n4"}, {"n2", "n3", "n4"}, {"n1", "n3", "n4"}, {"n4", "n2", "n3"}},
				Nodes: []layoutNode{{ID: "n1", Zone: "a"}, {ID: "n2", Zone: "a"}, {ID: "n3", Zone: "b"}, {ID: "n4", Zone: "c"}}}).withZone("n5", "b"),
			self: "n5",
			want: []move{{group: 0, from: "n3"}, {group: 1, from: "n3"}},
		},
	} {
		got := planJoin(&c.l, c.self)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestMoveTarget: a replica goes to a running, not retired node without
// one, in a zone the group's other voters are not in if there is one,
// then holding the fewest groups, ties from position g on.
func TestMoveTarget(t *testing.T) {
	nodes := func(zones ...string) []layoutNode {
		var out []layoutNode
		for i, z := range zones {
			out = append(out, layoutNode{ID: fmt.Sprint("n", i+1), Client: "c", Alive: true, Zone: z})
		}
		return out
	}
	for _, c := range []struct {
		name     string
		l        layoutReply
		g        int
		voters   []string
		from     string
		want     string
		wantDown bool
	}{
		{
			name: "fewest groups", from: "n1", voters: []string{"n1", "n2"},
			l:    layoutReply{Nodes: nodes("", "", "", ""), Groups: [][]string{{"n1", "n2"}, {"n3"}}},
			want: "n4", // n3 holds one

		},
		{
			name: "ties from position g", g: 1, from: "n1", voters: []string{"n1", "n2"},
			l:    layoutReply{Nodes: nodes("", "", "", ""), Groups: [][]string{{"n1", "n2"}}},
			want: "n3", // n3 and n4 tie; from position 1 the order is n2 n3 n4 n1
		},
		{
			name: "a new zone first, though it holds more", from: "n1", voters: []string{"n1", "n2", "n3"},
			l: layoutReply{Nodes: nodes("a", "b", "c", "b", "a"), Groups: [][]string{
				{"n1", "n2", "n3"}, {"n5", "n2"}, {"n5"}}},
			want: "n5", // n4 (zone b, like n2) holds none, n5 (zone a, n1's, leaving) holds two
		},
		{
			// n3 is down and was never heard from: it may be in zone c.
			name: "a voter of unknown zone: fewest groups", from: "n2", voters: []string{"n1", "n2", "n3"},
			l: func() layoutReply {
				ns := nodes("a", "a", "", "c", "a")
				ns[2].Alive = false
				return layoutReply{Nodes: ns, Groups: [][]string{{"n1", "n2", "n3"}, {"n4"}}}
			}(),
			want: "n5",
		},
		{
			// Were "" a zone, n4's would be new to the group.
			name: "a running node without a zone: no zones at all", from: "n1", voters: []string{"n1", "n2", "n3"},
			l: layoutReply{Nodes: nodes("a", "b", "c", "", "b"), Groups: [][]string{
				{"n1", "n2", "n3"}, {"n4"}, {"n4"}}},
			want: "n5",
		},
		{
			name: "retired and down nodes are passed over", from: "n1", voters: []string{"n1"},
			l: func() layoutReply {
				ns := nodes("", "", "")
				ns[1].Retired = true
				ns[2].Alive = false
				return layoutReply{Nodes: ns, Groups: [][]string{{"n1"}}}
			}(),
			want: "", wantDown: true,
		},
	} {
		to, down := c.l.moveTarget(c.g, c.voters, c.from)
		if to.ID != c.want || down != c.wantDown {
			t.Errorf("%s: %q (down %v), want %q (down %v)", c.name, to.ID, down, c.want, c.wantDown)
		}
	}
}

// TestPreferredLeaders checks that leaderships spread over the voters and
// follow the placement when nothing moved.
func TestPreferredLeaders(t *testing.T) {
	ids := []string{"n1", "n2", "n3", "n4"}
	place := placement(ids, 4, 3)
	specs := make([]Unit, 4)
	for i := range specs {
		specs[i] = Unit{Remote: true, Members: place[i]}
	}
	s := &Server{}
	us, slots := newUnits(specs, s.notifyHook)
	s.slotUnit = slots
	s.tab.Store(newUnitTable(us))
	d := &directory{s: s, self: "n9", reports: map[string]dirPeer{}, peers: map[string]string{}}
	s.dirp.Store(d)
	got := s.preferredLeaders()
	for i := range 4 {
		if got[i] != place[i][0] {
			t.Errorf("group %d: %s, want the first holder %s", i, got[i], place[i][0])
		}
	}
	// After moves: n5 holds groups 0 and 1 instead of n1 and n2.
	report := func(id string, idx int, voters ...string) {
		r := d.reports[id]
		r.report.ID = id
		gs := dirGroupState{Idx: idx, Term: 2, Leader: id}
		for _, v := range voters {
			gs.Members = append(gs.Members, dirMember{ID: v, Voter: true})
		}
		r.report.Groups = append(r.report.Groups, gs)
		r.at = time.Now()
		d.reports[id] = r
	}
	report("n2", 0, "n5", "n2", "n3")
	report("n3", 1, "n5", "n3", "n4")
	report("n3", 2, "n3", "n4", "n1")
	report("n4", 3, "n4", "n1", "n2")
	got = s.preferredLeaders()
	led := map[string]int{}
	for i := range 4 {
		led[got[i]]++
		if !slices.Contains(s.holders(s.units()[i]), got[i]) {
			t.Errorf("group %d: preferred %s is not a voter", i, got[i])
		}
	}
	for id, n := range led {
		if n > 1 {
			t.Errorf("%s would lead %d groups: %v", id, n, got)
		}
	}
}

// TestPartialJoinAndLeave adds a fifth node to four nodes whose four
// groups have three replicas each: it takes its share of replicas (two
// groups) from the nodes that held the most, each group keeping three
// voters; every key stays readable through every node. Then a node is
// removed: its replicas move to the others and it holds nothing.
func TestPartialJoinAndLeave(t *testing.T) {
	tc := startPartial(t, 4, 4, 3, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c1 := tc.client(tc.nodes[0])
	want := tc.writeKeys(ctx, 200)

	n5 := tc.addJoiner("n5")
	waitFor(t, "n5 to take its replicas", func() bool {
		return n5.node.Server.mv.joined.Load() && len(n5.node.Server.local()) == 2
	})
	tc.waitVoters(3)
	counts := tc.heldCounts()
	if counts["n5"] != 2 || counts["n1"]+counts["n2"]+counts["n3"]+counts["n4"] != 10 {
		t.Fatalf("replicas held after the join: %v", counts)
	}
	for k, v := range map[string]string{"after-join-a": "1", "after-join-b": "2", "after-join-c": "3"} {
		retryDown(t, "SET via n5", func() error { return tc.client(n5).Set(ctx, k, v, 0).Err() })
		want[k] = v
	}
	tc.convergeHeld()
	tc.readAll(ctx, want)

	// Remove n2 by sending SESSIOND-LEAVE to every other node at once, as
	// redis-cli --cluster del-node sends CLUSTER FORGET: its replicas go to
	// other nodes, and no group ends with more than three.
	errs := make(chan error, len(tc.nodes))
	for _, tn := range tc.nodes {
		if tn.id == "n2" {
			continue
		}
		go func() { errs <- tc.client(tn).Do(ctx, "SESSIOND-LEAVE", "n2").Err() }()
	}
	for range len(tc.nodes) - 1 {
		if err := <-errs; err != nil {
			t.Fatalf("SESSIOND-LEAVE n2: %v", err)
		}
	}
	waitFor(t, "n2 to drop its replicas", func() bool { return len(tc.nodes[1].node.Server.local()) == 0 })
	tc.waitVoters(3)
	counts = tc.heldCounts()
	if counts["n2"] != 0 {
		t.Fatalf("n2 still holds replicas: %v", counts)
	}
	for _, tn := range tc.nodes {
		if tn.id != "n2" && (counts[tn.id] < 2 || counts[tn.id] > 3) {
			t.Errorf("replicas held after the leave: %v", counts)
		}
	}
	retryDown(t, "SET after leave", func() error { return c1.Set(ctx, "after-leave", "x", 0).Err() })
	want["after-leave"] = "x"
	tc.convergeHeld()
	tc.readAll(ctx, want)
}

// waitFor polls cond for up to 60 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling, bounded
	}
}

// addJoiner starts node id with --join pointing at the first node (and no
// --peers) and returns it; it does not wait for the join.
func (tc *testCluster) addJoiner(id string) *testNode {
	tc.t.Helper()
	st, err := replication.Listen("127.0.0.1:0", "")
	if err != nil {
		tc.t.Fatal(err)
	}
	tn := &testNode{id: id, dir: tc.t.TempDir(), raftAddr: st.Addr().String(), stream: st}
	tc.nodes = append(tc.nodes, tn)
	joiner := len(tc.nodes) - 1
	prev := tc.nodeCfg
	tc.nodeCfg = func(i int, c *Config) {
		if prev != nil {
			prev(i, c)
		}
		if i == joiner {
			c.Peers, c.Join = "", tc.nodes[0].addr
		}
	}
	tc.open(tn)
	return tn
}

// writeKeys sets n keys k<i>=v<i> through the first node and returns
// them.
func (tc *testCluster) writeKeys(ctx context.Context, n int) map[string]string {
	tc.t.Helper()
	c := tc.client(tc.nodes[0])
	want := map[string]string{}
	for i := range n {
		k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
		retryDown(tc.t, "SET", func() error { return c.Set(ctx, k, v, 0).Err() })
		want[k] = v
	}
	return want
}

// waitVoters waits until every group's leader has n voters and the
// running nodes hold, between them, exactly each group's voters.
func (tc *testCluster) waitVoters(n int) {
	tc.t.Helper()
	waitFor(tc.t, fmt.Sprintf("%d voters per group, held by exactly them", n), func() bool {
		for _, u := range tc.nodes[0].node.Server.units() {
			var voters []string
			for _, tn := range tc.nodes {
				if tn.node == nil {
					continue
				}
				if lu := tn.node.Server.units()[u.idx]; !lu.remote && lu.group.IsLeader() {
					for _, m := range lu.group.Members() {
						voters = append(voters, m.ID)
					}
				}
			}
			if len(voters) != n {
				return false
			}
			for _, tn := range tc.nodes {
				if tn.node == nil {
					continue
				}
				if !tn.node.Server.units()[u.idx].remote != slices.Contains(voters, tn.id) {
					return false
				}
			}
		}
		return true
	})
}

// heldCounts returns how many groups each running node holds.
func (tc *testCluster) heldCounts() map[string]int {
	out := map[string]int{}
	for _, tn := range tc.nodes {
		if tn.node != nil {
			out[tn.id] = len(tn.node.Server.local())
		}
	}
	return out
}

// convergeHeld waits until each group's holders, as they are now, have
// applied as much as its leader and hold the same data.
func (tc *testCluster) convergeHeld() {
	tc.t.Helper()
	groups := len(tc.nodes[0].node.Server.units())
	for g := range groups {
		waitFor(tc.t, fmt.Sprintf("group %d to converge", g), func() bool {
			var want uint64
			var digests []string
			var applied []uint64
			for _, tn := range tc.nodes {
				if tn.node == nil {
					continue
				}
				u := tn.node.Server.units()[g]
				if u.remote {
					continue
				}
				if u.group.IsLeader() {
					want = u.group.AppliedIndex()
				}
				applied = append(applied, u.group.AppliedIndex())
				digests = append(digests, u.store.Digest())
			}
			if want == 0 || len(digests) == 0 {
				return false
			}
			for i := range digests {
				if applied[i] < want || digests[i] != digests[0] {
					return false
				}
			}
			return true
		})
	}
}

// readAll reads every key of want through every running node.
func (tc *testCluster) readAll(ctx context.Context, want map[string]string) {
	tc.t.Helper()
	for _, tn := range tc.nodes {
		if tn.node == nil {
			continue
		}
		c := tc.client(tn)
		for k, v := range want {
			var got string
			retryDown(tc.t, "GET "+k+" via "+tn.id, func() error {
				var err error
				got, err = c.Get(ctx, k).Result()
				return err
			})
			if got != v {
				tc.t.Errorf("%s: %s=%q, want %q", tn.id, k, got, v)
			}
		}
	}
}

// joinIdle starts three nodes holding one group of two replicas (so one
// node holds nothing) and a fourth that joins; it returns the holders,
// the idle node and the new one. The new node takes no replica (one
// group of two over four nodes is below one each).
func joinIdle(t *testing.T) (tc *testCluster, holders []*testNode, idle, n4 *testNode) {
	tc = startPartial(t, 3, 1, 2, Config{})
	for _, tn := range tc.nodes {
		if len(tn.node.Server.local()) > 0 {
			holders = append(holders, tn)
		} else {
			idle = tn
		}
	}
	if len(holders) != 2 || idle == nil {
		t.Fatalf("placement: %d holders", len(holders))
	}
	n4 = tc.addJoiner("n4")
	waitFor(t, "n4 to join", func() bool { return n4.node.Server.mv.joined.Load() })
	return tc, holders, idle, n4
}

// TestPendingReplicaElected hands a group's leadership to a replica that
// was just added and has not started serving: it serves at once, and
// writes through a node holding nothing keep working (found by review:
// such a leader once waited for a write that could not come).
func TestPendingReplicaElected(t *testing.T) {
	tc, holders, idle, n4 := joinIdle(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	retryDown(t, "SET", func() error { return tc.client(idle).Set(ctx, "k", "v", 0).Err() })
	if _, err := idle.node.Server.moveReplica(idle.addr, 0, "n4", n4.raftAddr, n4.addr, "", ""); err != nil {
		t.Fatal(err)
	}
	for _, h := range holders {
		if u := h.node.Server.units()[0]; !u.remote && u.group.IsLeader() {
			if err := u.group.TransferLeadershipTo("n4"); err != nil {
				t.Fatal(err)
			}
		}
	}
	retryDown(t, "SET after the hand-over", func() error { return tc.client(idle).Set(ctx, "k2", "v2", 0).Err() })
	waitFor(t, "n4 to serve the group", func() bool { return len(n4.node.Server.local()) == 1 })
	if v := tc.client(n4).Get(ctx, "k").Val(); v != "v" {
		t.Fatalf("GET k via n4: %q", v)
	}
}

// TestRestartLearnsJoinedNode moves a replica to a node that joined, makes
// it the group's leader, and restarts a node that holds nothing: it must
// learn of the joined node from its peers (its --peers do not name it)
// and reach the group through it.
func TestRestartLearnsJoinedNode(t *testing.T) {
	tc, holders, idle, n4 := joinIdle(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	retryDown(t, "SET", func() error { return tc.client(idle).Set(ctx, "k", "v", 0).Err() })
	if _, err := idle.node.Server.moveReplica(idle.addr, 0, "n4", n4.raftAddr, n4.addr, holders[0].id, holders[0].addr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n4 to serve the group", func() bool { return len(n4.node.Server.local()) == 1 })
	waitFor(t, "holders[0] to drop its replica", func() bool { return len(holders[0].node.Server.local()) == 0 })
	waitFor(t, "n4 to lead the group", func() bool {
		if n4.node.Server.local()[0].group.IsLeader() {
			return true
		}
		if l := holders[1].node.Server.units()[0]; !l.remote && l.group.IsLeader() {
			l.group.TransferLeadershipTo("n4")
		}
		return false
	})
	tc.stop(idle)
	tc.open(idle)
	waitFor(t, "the restarted node to learn n4", func() bool {
		_, ok := idle.node.Server.dir().peerList()["n4"]
		return ok
	})
	var got string
	retryDown(t, "GET via the restarted node", func() error {
		var err error
		got, err = tc.client(idle).Get(ctx, "k").Result()
		return err
	})
	if got != "v" {
		t.Fatalf("GET k: %q", got)
	}
}

// wantVoters fails the test unless group idx's leader, once there is
// one, has n voters.
func (tc *testCluster) wantVoters(idx, n int) {
	tc.t.Helper()
	var vs []string
	waitFor(tc.t, "a leader", func() bool { vs = tc.groupVoters(idx); return vs != nil })
	if len(vs) != n {
		tc.t.Fatalf("group %d voters after the moves: %v, want %d", idx, vs, n)
	}
}

// groupVoters returns group idx's voters as its current leader among
// tc's running nodes knows them (nil while none leads).
func (tc *testCluster) groupVoters(idx int) []string {
	for _, tn := range tc.nodes {
		if tn.node == nil {
			continue
		}
		if u := tn.node.Server.units()[idx]; !u.remote && u.group.IsLeader() {
			var out []string
			for _, m := range u.group.Members() {
				out = append(out, m.ID)
			}
			return out
		}
	}
	return nil
}

// TestMoveStaleTargetKeepsReplicas: a coordinator that planned on a
// layout from before another move (a drain running while a node joins:
// the joined node, holding the fewest groups, is the drain's natural
// target) asks to move a replica to a node that is already a voter. The
// group must keep its two replicas; moveOnLeader skips the add (to is a
// voter) and still removes from, leaving one.
func TestMoveStaleTargetKeepsReplicas(t *testing.T) {
	tc, holders, idle, n4 := joinIdle(t)
	s := idle.node.Server
	// The join: n4 takes holders[0]'s replica.
	if _, err := s.moveReplica(idle.addr, 0, "n4", n4.raftAddr, n4.addr, holders[0].id, holders[0].addr); err != nil {
		t.Fatal(err)
	}
	// A drain of holders[1] planned on the layout from before the join
	// ({holders[0], holders[1]}): n4 is not among the voters it saw.
	if _, err := s.moveReplica(idle.addr, 0, "n4", n4.raftAddr, n4.addr, holders[1].id, holders[1].addr); err != nil {
		t.Fatal(err)
	}
	tc.wantVoters(0, 2)
}

// TestMoveAfterLeaderHandOverNoExtraReplica: two coordinators replace
// the same leaving node (CLUSTER FORGET sent to every node), which leads
// the group. The first one's move adds its target and removes the
// leader, which hands leadership over and answers ErrNotLeader (onLeader
// then forwards). The second coordinator's move reaches the new leader
// first: the leaving node is still a voter there, so it adds a second
// replacement. The group must end with two voters.
func TestMoveAfterLeaderHandOverNoExtraReplica(t *testing.T) {
	tc, holders, idle, n4 := joinIdle(t)
	var leader *testNode
	waitFor(t, "a leader among the holders", func() bool {
		for _, h := range holders {
			if u := h.node.Server.units()[0]; !u.remote && u.group.IsLeader() {
				leader = h
				return true
			}
		}
		return false
	})
	ls := leader.node.Server
	// Coordinator 1, on the leader: replace the leader by idle.
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := ls.moveOnLeader(ls.units()[0], idle.id, idle.raftAddr, idle.addr, leader.id)
		if errors.Is(err, replication.ErrNotLeader) {
			break // handed over; onLeader would forward now
		}
		if err == nil {
			t.Fatal("the leader removed itself without handing over")
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // retrying as moveReplica does, bounded
	}
	// Coordinator 2 reaches the new leader first: replace the old leader by n4.
	if _, err := n4.node.Server.moveReplica(n4.addr, 0, "n4", n4.raftAddr, n4.addr, leader.id, leader.addr); err != nil {
		t.Fatal(err)
	}
	// Coordinator 1's forwarded move.
	if _, err := idle.node.Server.moveReplica(idle.addr, 0, idle.id, idle.raftAddr, idle.addr, leader.id, leader.addr); err != nil {
		t.Fatal(err)
	}
	tc.wantVoters(0, 2)
}

// TestPartialReplaceDeadNode removes a node that died for good: its
// replicas are rebuilt on the other nodes from the groups' leaders, so
// every group is back to three voters, all running, and no key is lost
// (ElastiCache's replacing of a failed node).
func TestPartialReplaceDeadNode(t *testing.T) {
	tc := startPartial(t, 4, 4, 3, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c1 := tc.client(tc.nodes[0])
	want := tc.writeKeys(ctx, 100)
	tc.stop(tc.nodes[1])
	if err := c1.Do(ctx, "SESSIOND-LEAVE", "n2").Err(); err != nil {
		t.Fatalf("SESSIOND-LEAVE of the dead n2: %v", err)
	}
	tc.waitVoters(3)
	for _, tn := range tc.nodes {
		if tn.node != nil && len(tn.node.Server.local()) != 4 {
			t.Errorf("%s holds %d groups, want all 4 (three nodes, four groups of three)", tn.id, len(tn.node.Server.local()))
		}
	}
	tc.convergeHeld()
	tc.readAll(ctx, want)
}

// dropOnApply applies like LocalApplier, then, the first time, takes
// every held group out of the unit table as dropUnit does, as if the
// directory dropped this node's replicas while the eviction's Apply ran.
type dropOnApply struct {
	LocalApplier
	s *Server
}

func (a *dropOnApply) Apply(ctx context.Context, op *shard.Op) (shard.Result, error) {
	res, err := a.LocalApplier.Apply(ctx, op)
	if op.Kind == shard.KindEvict {
		for _, u := range a.s.local() {
			a.s.swapUnit(&unit{idx: u.idx, lo: u.lo, hi: u.hi, remote: true, gone: make(chan struct{})})
		}
	}
	return res, err
}

// TestEvictionsSurviveUnitSwap: performEvictions re-reads s.local() on
// every turn; once the node has dropped its last replica mid-loop,
// next%len(s.local()) divides by zero and the process panics.
func TestEvictionsSurviveUnitSwap(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxMemory = 1 // below used_memory_startup: the loop keeps going
	cfg.MaxMemoryPolicy = "allkeys-random"
	st := shard.New(shard.Config{Clock: cfg.Clock})
	ap := &dropOnApply{LocalApplier: LocalApplier{Store: st}}
	s, err := NewSharded(cfg, []Unit{{Store: st, Applier: ap}})
	if err != nil {
		t.Fatal(err)
	}
	ap.s = s
	for i := range 50 {
		op := shard.Op{Kind: shard.KindSet, Key: []byte(fmt.Sprint("k", i)), Args: [][]byte{[]byte("v")}}
		st.Apply(&op)
	}
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("performEvictions panicked after the unit table changed: %v", r)
		}
	}()
	s.performEvictions()
}

// TestJoinFillsShortGroup shrinks a group to two replicas by hand (the
// per-group SESSIOND-LEAVE), then adds a node: it first brings that group
// back to three, then takes its share from the others.
func TestJoinFillsShortGroup(t *testing.T) {
	tc := startPartial(t, 4, 4, 3, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	g := -1
	for _, u := range tc.nodes[1].node.Server.local() {
		g = u.idx // a group n2 holds
	}
	if err := tc.client(tc.nodes[0]).Do(ctx, "SESSIOND-LEAVE", "n2", g).Err(); err != nil {
		t.Fatalf("SESSIOND-LEAVE n2 %d: %v", g, err)
	}
	waitFor(t, "the group to shrink", func() bool { return len(tc.groupVoters(g)) == 2 })
	n5 := tc.addJoiner("n5")
	waitFor(t, "n5 to join", func() bool { return n5.node.Server.mv.joined.Load() })
	tc.waitVoters(3)
	if u := n5.node.Server.units()[g]; u.remote {
		t.Fatalf("n5 did not take a replica of the short group %d", g)
	}
}

// TestPartialMovesKeepAcknowledgedWrites writes through every node of
// four (four groups of three replicas) while a fifth node joins (with a
// node cut off for part of it) and then another node leaves, so replicas
// move under load and failover: every acknowledged
// write must read back through every node, and each group's holders must
// end with the same data.
func TestPartialMovesKeepAcknowledgedWrites(t *testing.T) {
	tc := startPartial(t, 4, 4, 3, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	wr := tc.startWriters(ctx)
	acks := wr.acks

	waitAcks(t, acks, 200)
	n5 := tc.addJoiner("n5")
	// Cut n4 off its peers' Raft traffic while the join runs: the groups
	// it leads elect others, and the moves go on through them.
	tc.nodes[3].stream.Isolate(true)
	waitAcks(t, acks, acks.len()+200)
	tc.nodes[3].stream.Isolate(false)
	waitFor(t, "n5 to take its replicas", func() bool {
		return n5.node.Server.mv.joined.Load() && len(n5.node.Server.local()) == 2
	})
	waitAcks(t, acks, acks.len()+200)
	if err := tc.client(tc.nodes[2]).Do(ctx, "SESSIOND-LEAVE", "n2").Err(); err != nil {
		t.Fatalf("SESSIOND-LEAVE n2: %v", err)
	}
	waitAcks(t, acks, acks.len()+200)
	unk := wr.stop()

	tc.waitVoters(3)
	tc.convergeHeld()
	acks.mu.Lock()
	want := maps.Clone(acks.acks)
	acks.mu.Unlock()
	tc.readAll(ctx, want)
	t.Logf("%d acknowledged writes survived the moves on every node; %d answered outcome-unknown", len(want), unk)
}

// TestPartialMovesLinearizable records SETs and GETs of one key per group,
// sent through every node of four (four groups of three replicas), while
// a fifth node joins and another leaves, and checks the history with
// porcupine: replicas moving and leaderships changing hands must not let
// a read miss an acknowledged write.
func TestPartialMovesLinearizable(t *testing.T) {
	tc := startPartial(t, 4, 4, 3, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var keys []string
	for g := range 4 {
		keys = append(keys, keyIn("reg", g, 4))
	}
	stop := make(chan struct{})
	r := tc.startRegisterClients(ctx, keys, 8, 2000, stop)
	n5 := tc.addJoiner("n5")
	waitFor(t, "n5 to take its replicas", func() bool {
		return n5.node.Server.mv.joined.Load() && len(n5.node.Server.local()) == 2
	})
	if err := tc.client(tc.nodes[0]).Do(ctx, "SESSIOND-LEAVE", "n2").Err(); err != nil {
		t.Fatalf("SESSIOND-LEAVE n2: %v", err)
	}
	close(stop) // the clients ran through both changes (unless they ran out of operations first)
	r.check(t, 200)
}

// TestMoveLockEndsWithTheServer: a SESSIOND-MOVE waiting for the one
// running before it gives up when the server shuts down (Close waits for
// every connection), and the lock is free again once given back.
func TestMoveLockEndsWithTheServer(t *testing.T) {
	if moveLockWait >= internalCallTimeout {
		t.Fatalf("moveLockWait %v: a move could run after its coordinator gave up (%v)", moveLockWait, internalCallTimeout)
	}
	s := &Server{}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mv.leaderTok = make(chan struct{}, 1)
	if err := s.lockLeader(); err != nil {
		t.Fatalf("free lock: %v", err)
	}
	if s.tryLockLeader() {
		t.Fatal("tryLockLeader took a held lock")
	}
	got := make(chan error, 1)
	go func() { got <- s.lockLeader() }()
	s.cancel()
	select {
	case err := <-got:
		if !errors.Is(err, replication.ErrClosed) {
			t.Fatalf("waiting on a held lock at shutdown: %v, want ErrClosed", err)
		}
	case <-time.After(moveLockWait / 2):
		t.Fatal("lockLeader still waiting after the server's shutdown")
	}
	s.unlockLeader()
	if !s.tryLockLeader() {
		t.Fatal("lock not free after unlockLeader")
	}
}

// TestDrainedNodeShowsItself: a node whose replicas moved away, while a
// peer's report still lists it among a group's members, shows itself in
// CLUSTER NODES as a master of no slots (redis-cli --cluster check needs
// its myself line), not as that group's replica.
func TestDrainedNodeShowsItself(t *testing.T) {
	s := &Server{nodeIDSelf: "n2"}
	us, slots := newUnits([]Unit{{Remote: true, Members: []string{"n1", "n2", "n3"}}}, s.notifyHook)
	s.slotUnit = slots
	s.tab.Store(newUnitTable(us))
	port, err := replication.Listen("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	stream, err := port.Stream(0)
	if err != nil {
		t.Fatal(err)
	}
	d := &directory{s: s, self: "n2", client: "127.0.0.1:7002", stream: stream, reports: map[string]dirPeer{}, peers: map[string]string{}}
	s.dirp.Store(d)
	for i, id := range []string{"n1", "n3"} {
		r := dirReport{ID: id, Client: fmt.Sprintf("127.0.0.1:700%d", 2*i+1)}
		gs := dirGroupState{Idx: 0, Term: 2, Leader: "n1"}
		for _, m := range []string{"n1", "n2", "n3"} { // n2 since left: a stale report
			gs.Members = append(gs.Members, dirMember{ID: m, Voter: true})
		}
		r.Groups = append(r.Groups, gs)
		d.reports[id] = dirPeer{report: r, at: time.Now()}
	}
	var mine []nodeView
	for _, n := range s.clusterViews().nodes {
		if n.name == clusterName("n2") {
			mine = append(mine, n)
		}
	}
	if len(mine) != 1 || !mine[0].myself || !mine[0].master || len(mine[0].slots) != 0 {
		t.Fatalf("the drained node's own lines: %+v, want one myself master of no slots", mine)
	}
}
