package server

import (
	"crypto/sha1"
	"encoding/hex"
	"net"
	"sort"
	"strconv"
	"time"

	"sessiond/shard"
)

// Cluster mode (cluster-enabled yes): Redis Cluster's semantics over the
// node's Raft group. Every slot belongs to the one group; its leader is
// the master that serves them and its followers are the replicas. A key
// whose slot is served elsewhere is answered -MOVED, keys of several
// slots in one command -CROSSSLOT, as Redis Cluster does, so cluster
// clients (redis-cli -c, go-redis ClusterClient, redis-benchmark
// --cluster) route by themselves. CLUSTER's subcommands are in
// cmd_cluster.go.

// Redis Cluster's error replies.
const (
	errCrossSlot      = "CROSSSLOT Keys in request don't hash to the same slot"
	errReplicaWrite   = "READONLY You can't write against a read only replica."
	errClusterOff     = "ERR This instance has cluster support disabled"
	clusterHealthyAck = 5 * time.Second // a follower not heard from for longer is left out of the leader's map
)

// clusterOn reports whether cluster-enabled is yes on a node with a Raft
// group (every node OpenNode starts has one).
func (s *Server) clusterOn() bool { return s.replicated() && s.config().ClusterEnabled == "yes" }

// clusterRoute decides where a command runs in cluster mode. It answers
// and returns false when the command must not run here: -CROSSSLOT when
// its keys span slots, -MOVED when another node serves their slot (reads
// on a READONLY connection are served by a replica), -CLUSTERDOWN while
// no node serves it, -READONLY for a keyless write on a replica. A
// refused command inside MULTI fails the transaction, as in Redis; EXEC
// is checked over every queued command, unless Redis would answer it
// otherwise first: EXECABORT after a refused command, a null reply when
// a watched key has changed.
func (c *client) clusterRoute(cmd *command, args [][]byte) bool {
	if cmd.name == "exec" && c.multi == nil {
		return true
	}
	slot, write, ok := -1, cmd.has(flagWrite), true
	check := func(cmd *command, args [][]byte) {
		forKeys(cmd, args, func(k []byte) {
			switch s := shard.KeySlot(k); {
			case slot < 0:
				slot = s
			case s != slot:
				ok = false
			}
		})
	}
	exec := cmd.name == "exec"
	if exec {
		write = false
		for _, q := range c.multi.queued {
			if qc := c.lookup(q[0]); qc != nil {
				check(qc, q)
				write = write || qc.has(flagWrite)
			}
		}
	} else {
		check(cmd, args)
	}
	refuse := func(msg string) bool {
		if exec {
			if c.multi.dirty {
				return true // EXEC answers EXECABORT first, as in Redis
			}
			if c.watchBroken() {
				c.endMulti() // a changed watched key comes next
				c.settle()
				c.w.nullArray()
				return false
			}
			c.endMulti()
		} else {
			c.abortMulti()
		}
		c.settle()
		c.w.errorText(msg)
		return false
	}
	if !ok {
		return refuse(errCrossSlot)
	}
	if slot < 0 {
		// Keyless: FLUSHALL, DBSIZE, SCAN... act on the groups this node
		// leads, as a Redis Cluster master acts on its own slots.
		if write && cmd.parse != nil && !c.readonly && len(c.s.ledUnits()) == 0 {
			return refuse(errReplicaWrite)
		}
		return true
	}
	c.u = c.s.unitOfSlot(slot)
	if g := c.u.group; g != nil && (g.IsLeader() || c.readonly && !write) {
		return true
	}
	id, addr, known := c.s.leaderOf(c.u)
	if !known || id == c.s.selfID() {
		return refuse(errClusterDown)
	}
	return refuse("MOVED " + strconv.Itoa(slot) + " " + addr)
}

// watchBroken reports whether a key this connection WATCHes, in a group
// this node leads, has changed since: the EXEC would abort.
func (c *client) watchBroken() bool {
	for i := range c.watches {
		w := &c.watches[i]
		u := c.s.unitOfKey(w.Key)
		if u.remote || u.group != nil && !u.group.IsLeader() {
			continue // watched through another node: its leader decides
		}
		if u.store.WatchBroken(w) {
			return true
		}
	}
	return false
}

// clusterNode is one member of the cluster as CLUSTER SLOTS, SHARDS and
// NODES show it.
type clusterNode struct {
	name   string // 40 hex digits (see clusterName)
	host   string
	port   int
	cport  int    // the node's Raft port, shown as its cluster bus port
	master bool   // leads the group
	myself bool   //
	offset uint64 // applied log index, where known
	seen   int64  // Unix ms the node was last heard from; 0 for myself
}

// clusterName turns a Raft node ID into a Redis node name: IDs that are
// already 40 hex digits (the generated ones) are kept, others are hashed,
// so that every node derives the same name.
func clusterName(id string) string {
	if len(id) == 40 {
		if _, err := hex.DecodeString(id); err == nil {
			return id
		}
	}
	sum := sha1.Sum([]byte(id))
	return hex.EncodeToString(sum[:])
}

// clusterView is group u as this node sees it: the group's members with
// a known client address, master first, then replicas by name. The
// leader leaves out followers it has not heard from lately (Redis omits
// failed replicas from CLUSTER SLOTS too); a follower lists every member.
// ok is false while no leader is known: the group's slots are then
// unserved.
func (s *Server) clusterView(u *unit) (nodes []clusterNode, epoch uint64, ok bool) {
	if u.remote {
		return s.clusterViewRemote(u)
	}
	g := u.group
	st := g.Status()
	leaderID, _, known := g.Leader()
	leading := g.IsLeader()
	acks := map[string]replicaView{}
	for _, r := range s.replicas(u) {
		acks[r.id] = r
	}
	now := time.Now().UnixMilli()
	var reported map[string]uint64 // members' applied indexes, from the directory
	if d := s.dir(); d != nil {
		reported = d.group(u.idx).applied
	}
	for _, m := range g.Members() {
		host, port, err := net.SplitHostPort(m.ClientAddr)
		if err != nil {
			continue // address not in the log yet
		}
		n := clusterNode{name: clusterName(m.ID), host: host, master: known && m.ID == leaderID, myself: m.ID == g.NodeID()}
		n.port, _ = strconv.Atoi(port)
		if _, rp, err := net.SplitHostPort(m.RaftAddr); err == nil {
			n.cport, _ = strconv.Atoi(rp)
		}
		r, linked := acks[m.ID]
		switch {
		case n.myself:
			n.offset = st.AppliedIndex
		case n.master:
			n.seen = now - max(int64(st.LastContact/time.Millisecond), 0)
			n.offset = reported[m.ID]
		case linked:
			n.offset, n.seen = r.offset, r.lastAck
		default:
			n.seen = now
			n.offset = reported[m.ID] // 0 where every node holds every group
		}
		if leading && !n.myself && (!linked || now-n.seen > clusterHealthyAck.Milliseconds()) {
			continue // a follower the leader does not hear from: not serving
		}
		if d := s.dir(); d != nil && !leading && !n.myself && !n.master && !d.alive(m.ID) {
			continue // a follower no node has heard from lately (the directory): down
		}
		nodes = append(nodes, n)
	}
	sort.SliceStable(nodes, func(i, j int) bool {
		if nodes[i].master != nodes[j].master {
			return nodes[i].master
		}
		return nodes[i].name < nodes[j].name
	})
	ok = known && len(nodes) > 0 && nodes[0].master
	return nodes, st.Term, ok
}

// clusterViewRemote is clusterView for a group this node holds no replica
// of, as the directory sees it: its members whose client address is
// known, master first.
func (s *Server) clusterViewRemote(u *unit) (nodes []clusterNode, epoch uint64, ok bool) {
	d := s.dir()
	rg := d.group(u.idx)
	now := time.Now().UnixMilli()
	for _, id := range s.holdersOf(u, rg) {
		if id == s.selfID() {
			// A report from before this node's replica moved away
			// (SESSIOND-LEAVE): it holds none, whatever the report
			// says, and shows itself as a master of no slots.
			continue
		}
		addr, _ := d.clientAddr(id) // "" when not heard from yet
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			continue // not heard from yet
		}
		at, alive := d.lastSeen(id)
		master := id == rg.leader
		if !alive && !master {
			continue // a replica that has not answered lately: down
		}
		n := clusterNode{name: clusterName(id), host: host, master: master, offset: rg.applied[id], seen: now}
		if alive {
			n.seen = at.UnixMilli()
		}
		n.port, _ = strconv.Atoi(port)
		if _, rp, err := net.SplitHostPort(d.peerAddr(id)); err == nil {
			n.cport, _ = strconv.Atoi(rp)
		}
		nodes = append(nodes, n)
	}
	sort.SliceStable(nodes, func(i, j int) bool {
		if nodes[i].master != nodes[j].master {
			return nodes[i].master
		}
		return nodes[i].name < nodes[j].name
	})
	ok = rg.leader != "" && len(nodes) > 0 && nodes[0].master
	return nodes, rg.term, ok
}

// groupView is one shard group in the cluster view.
type groupView struct {
	u     *unit
	nodes []clusterNode // master first
	ok    bool          // the group has a leader with a known address
}

// nodeView is one node in the cluster view, over every group.
type nodeView struct {
	clusterNode
	slots     [][2]int // the ranges of the groups it leads
	replicaOf string   // a node leading none: the first group's master
}

// clusterViewAll is the whole cluster as this node sees it.
type clusterViewAll struct {
	groups []groupView
	nodes  []nodeView // masters by their first slot, then the others by name
	epoch  uint64     // the highest term of any group
}

// clusterViews builds the cluster view from each group's (clusterView).
// A node that leads groups is a master of their slots; a node that leads
// none is shown as a replica of the master of the first group it
// replicates (every node does when every node holds every group: the
// first group's master), since Redis's model has each replica follow one
// master.
func (s *Server) clusterViews() clusterViewAll {
	var cv clusterViewAll
	byName := map[string]*nodeView{}
	follows := map[string]string{} // node -> the master of the first group it replicates
	var order []string
	for _, u := range s.units() {
		nodes, epoch, ok := s.clusterView(u)
		cv.groups = append(cv.groups, groupView{u: u, nodes: nodes, ok: ok})
		cv.epoch = max(cv.epoch, epoch)
		for _, n := range nodes {
			if _, seen := follows[n.name]; ok && !n.master && !seen {
				follows[n.name] = nodes[0].name
			}
			nv := byName[n.name]
			if nv == nil {
				nv = &nodeView{clusterNode: n}
				nv.master = false
				byName[n.name] = nv
				order = append(order, n.name)
			}
			if n.master && ok {
				nv.master = true
				nv.slots = append(nv.slots, [2]int{u.lo, u.hi})
			}
		}
	}
	if d := s.dir(); d != nil {
		// A node holding no group (retired, or joining) is still in the
		// cluster: a master of no slots, as in Redis (redis-cli expects
		// a myself line).
		me := clusterName(s.selfID())
		if _, ok := byName[me]; !ok {
			host, port, _ := net.SplitHostPort(d.client)
			n := clusterNode{name: me, host: host, myself: true, master: true}
			n.port, _ = strconv.Atoi(port)
			if _, rp, err := net.SplitHostPort(d.stream.Addr().String()); err == nil {
				n.cport, _ = strconv.Atoi(rp)
			}
			byName[me] = &nodeView{clusterNode: n}
			order = append(order, me)
		}
	}
	first := ""
	if g := cv.groups[0]; g.ok {
		first = g.nodes[0].name
	}
	for _, name := range order {
		nv := byName[name]
		if len(nv.slots) == 0 && name != first && !(nv.myself && nv.master) {
			nv.replicaOf = first
			if m, ok := follows[name]; ok {
				nv.replicaOf = m
			}
		}
		cv.nodes = append(cv.nodes, *nv)
	}
	sort.SliceStable(cv.nodes, func(i, j int) bool {
		a, b := cv.nodes[i], cv.nodes[j]
		if (len(a.slots) > 0) != (len(b.slots) > 0) {
			return len(a.slots) > 0
		}
		if len(a.slots) > 0 {
			return a.slots[0][0] < b.slots[0][0]
		}
		return a.name < b.name
	})
	return cv
}
