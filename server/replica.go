package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sessiond/replication"
	"sessiond/shard"
)

// Replication at the RESP edge: routing commands to the Raft leader,
// follower links (REPLCONF), WAIT, ROLE, INFO replication / raft, and
// DEBUG DIGEST. With no replication group (s.group == nil) the server is
// a standalone master and none of this runs.

// forwardWait bounds how long a command waits for a leader to appear (an
// election) before it is answered CLUSTERDOWN.
const forwardWait = 3 * time.Second

// forwarderName is the client name a node's forwarding connections carry:
// a node never forwards a command that arrived on one (no loops); it
// answers errNotLeaderForwarded and the forwarding node retries.
const forwarderName = "sessiond-forwarder"

// errNotLeaderForwarded is the reply a forwarded command gets from a node
// that lost the leadership meanwhile; the forwarding node retries and
// never relays it.
const errNotLeaderForwarded = "TRYAGAIN sessiond: not the leader"

// Client-visible replication errors.
const (
	errClusterDown    = "CLUSTERDOWN The cluster is down"
	errUnknownOutcome = "ERR write outcome unknown: the leader changed before the write was confirmed; it may or may not have been applied"
)

// replicaLink is what the leader knows of a follower: the connection it
// keeps open with REPLCONF and acknowledges applied entries on.
type replicaLink struct {
	unit    int // the shard group it follows (REPLCONF group)
	id      string
	ip      string
	port    int
	offset  atomic.Uint64 // applied index the follower acknowledged
	lastAck atomic.Int64  // Unix ms of the last ACK

	recorded  string      // the client address last recorded in the log for it (under Server.mu)
	recordTry int64       // Unix ms of the last attempt to record it (under Server.mu)
	unsure    atomic.Bool // its address may not be in the log yet: ACKs retry recordReplica
}

// ackBoard lets WAIT sleep until some follower acknowledges.
type ackBoard struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next acknowledgement.
func (a *ackBoard) wait() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ch == nil {
		a.ch = make(chan struct{})
	}
	return a.ch
}

func (a *ackBoard) signal() {
	a.mu.Lock()
	if a.ch != nil {
		close(a.ch)
		a.ch = nil
	}
	a.mu.Unlock()
}

// routeRemote reports whether a data command must go to the leader
// instead of being executed here, and if so sends it there.
func (c *client) routeRemote(cmd *command, args [][]byte) bool {
	queue := c.fwdNext
	c.fwdNext = false
	g := c.u.group
	if !c.u.remote && (g == nil || g.IsLeader() ||
		c.readonly && !cmd.has(flagWrite) || // READONLY: a replica read, answered locally
		c.s.clusterOn()) { // clusterRoute let it through: it runs here
		if queue {
			// This node took the leadership since dispatch found the
			// command forwardable (and left the queue unsettled).
			c.settle()
		}
		return false
	}
	fwd, pre := args, 0
	if c.s.sharded() && cmd.first <= 0 {
		// A keyless command (DBSIZE, FLUSHALL...) names no key the leader
		// could find the group by: name the group.
		fwd, pre = append([][]byte{[]byte("sessiond-in"), []byte(strconv.Itoa(c.u.idx))}, args...), 2
	}
	if queue && c.queueForward(cmd, fwd, pre) {
		return true
	}
	c.forward(fwd, cmd.has(flagWrite), func() { c.execData(cmd, args) })
	return true
}

// cmdSessiondIn is SESSIOND-IN group command [arg ...]: a keyless data
// command forwarded for one shard group (routeRemote), run in that group
// only.
func cmdSessiondIn(c *client, args [][]byte) {
	if !c.groupArg(args[:2], 1) {
		return
	}
	inner := args[2:]
	cmd := c.lookup(inner[0])
	if cmd == nil || cmd.parse == nil || cmd.first > 0 || !cmd.arityOK(len(inner)) {
		c.w.errorText("ERR sessiond-in: not a keyless data command")
		return
	}
	c.execData(cmd, inner)
}

// forward sends a command to the leader of the command's group (c.u) and
// relays its reply, waiting up to forwardWait for a leader. A write whose request may have reached the
// leader but whose reply was lost is answered errUnknownOutcome, never
// retried. If this node turns out to be the leader, local runs the
// command here (once).
func (c *client) forward(args [][]byte, write bool, local func()) {
	c.settle()
	c.forwardNow(args, write, local)
}

// forwardNow is forward for a connection whose earlier replies are
// written (settle, or settle itself relaying a queued command again).
func (c *client) forwardNow(args [][]byte, write bool, local func()) {
	s := c.s
	u := c.u
	if c.fwdConn {
		c.w.errorText(errNotLeaderForwarded)
		return
	}
	s.stats.fwdCommands.Add(1)
	deadline := time.Now().Add(forwardWait)
	proto := 2
	if c.w.resp3 {
		proto = 3
	}
	for {
		id, addr, ok := s.leaderOf(u)
		switch {
		case ok && id == s.selfID():
			if u.group != nil && u.group.Ready() && !c.inLocalRetry {
				c.inLocalRetry = true
				local()
				c.inLocalRetry = false
				return
			}
		case ok:
			ctx, cancel := context.WithDeadline(s.ctx, time.Now().Add(forwardIOTimeout))
			mark := len(c.w.b)
			out, sent, err := c.forwardOnce(ctx, addr, proto, args)
			cancel()
			s.stats.fwdBatches.Add(1)
			if err == nil {
				if bytes.HasPrefix(out[mark:], notLeaderReply) {
					c.w.b = out[:mark]
					s.leaderGone(u)
					break // the leader moved: ask again
				}
				c.w.b = out
				if write {
					// WAIT here cannot see that group's replicas.
					c.lastWrite, c.lastUnit, c.lastFwd = 0, nil, true
				}
				return
			}
			c.w.b = c.w.b[:mark]
			if sent && write {
				s.log.Warn("forwarded write lost", "leader", addr, "err", err)
				c.w.errorText(errUnknownOutcome)
				return
			}
			s.leaderGone(u)
		}
		if time.Now().After(deadline) || s.ctx.Err() != nil {
			c.w.errorText(errClusterDown)
			return
		}
		time.Sleep(2 * time.Millisecond) // polling for an election result, bounded by deadline
	}
}

// leaderOf returns the leader of u's group and its client address: as
// Raft tells a member, or as the directory tells a node that holds no
// replica of the group.
func (s *Server) leaderOf(u *unit) (id, addr string, ok bool) {
	if u.remote {
		return s.dir().leader(u.idx)
	}
	return u.group.Leader()
}

// leaderGone notes that a forward to u's leader found it gone or no
// longer leading: a node holding no replica of the group asks its peers
// again at once.
func (s *Server) leaderGone(u *unit) {
	if u.remote {
		s.dir().kick()
	}
}

// forwardExec sends a transaction queued on a follower to the leader as
// one SESSIOND-EXEC command: the WATCHed keys' versions (which WATCH took
// from the leader; versions are the same on every replica at the same
// log index, and an older one could only make EXEC abort, never succeed
// wrongly), then the queued commands.
func (c *client) forwardExec(queued [][][]byte, watches []shard.Watch) {
	args := [][]byte{[]byte("sessiond-exec"), strconv.AppendInt(nil, int64(len(watches)), 10)}
	for _, w := range watches {
		exp := "0"
		if w.Expired {
			exp = "1"
		}
		args = append(args, w.Key, strconv.AppendUint(nil, w.Version, 10),
			strconv.AppendUint(nil, w.Seq, 10), []byte(exp))
	}
	for _, q := range queued {
		args = append(args, strconv.AppendInt(nil, int64(len(q)), 10))
		args = append(args, q...)
	}
	c.forwardAlone = true
	c.forward(args, true, func() { cmdSessiondExec(c, args) })
	c.forwardAlone = false
}

// cmdSessiondExec runs a transaction a follower forwarded (see
// forwardExec) as if it had been queued on this connection.
func cmdSessiondExec(c *client, args [][]byte) {
	bad := func() { c.w.errorText("ERR malformed sessiond-exec") }
	n, ok := shard.ParseInt(args[1])
	rest := args[2:]
	if !ok || n < 0 || int64(len(rest)) < 4*n {
		bad()
		return
	}
	var watches []shard.Watch
	for i := int64(0); i < n; i++ {
		ver, err1 := strconv.ParseUint(string(rest[1]), 10, 64)
		seq, err2 := strconv.ParseUint(string(rest[2]), 10, 64)
		if err1 != nil || err2 != nil {
			bad()
			return
		}
		watches = append(watches, shard.Watch{Key: rest[0], Version: ver, Seq: seq, Expired: string(rest[3]) == "1"})
		rest = rest[4:]
	}
	var queued [][][]byte
	for len(rest) > 0 {
		k, ok := shard.ParseInt(rest[0])
		if !ok || k < 1 || int64(len(rest)-1) < k {
			bad()
			return
		}
		queued = append(queued, rest[1:1+k])
		rest = rest[1+k:]
	}
	if c.multi != nil {
		c.w.errorText("ERR MULTI calls can not be nested")
		return
	}
	c.multi = &multiState{queued: queued}
	c.watches = watches
	cmdExec(c, nil)
}

// forwardOnce sends args to the leader at addr. A forwarded transaction
// goes over a connection of its own that is closed afterwards: commands
// queued in it (HELLO, CLIENT SETNAME, READONLY...) run on the leader's
// side of that connection and must not leak into the shared pool.
func (c *client) forwardOnce(ctx context.Context, addr string, proto int, args [][]byte) ([]byte, bool, error) {
	if !c.forwardAlone {
		return c.s.up.muxDo(ctx, addr, proto, args, c.w.b)
	}
	uc, err := c.s.up.pin(ctx, addr, proto)
	if err != nil {
		return c.w.b, false, err
	}
	defer uc.release(false)
	return uc.do(ctx, args, c.w.b)
}

// forwardIOTimeout bounds one forwarded request.
const forwardIOTimeout = 10 * time.Second

// replicationError answers an Applier or read-barrier error. On a
// forwarding node's connection, "not appended" is answered so that the
// forwarding node retries elsewhere.
func (c *client) replicationError(err error) {
	switch {
	case errors.Is(err, replication.ErrNotLeader) && c.fwdConn:
		c.w.errorText(errNotLeaderForwarded)
	case errors.Is(err, replication.ErrUnknownOutcome):
		c.w.errorText(errUnknownOutcome)
	case errors.Is(err, replication.ErrNotLeader), errors.Is(err, replication.ErrClosed):
		c.w.errorText(errClusterDown)
	default:
		c.w.err(err)
	}
}

// readyForRead waits until a read may be answered from the local store:
// always for READONLY connections and standalone servers; on a leader
// after its read barrier.
func (c *client) readBarrier() error {
	g := c.u.group
	if g == nil || (c.readonly || c.s.clusterOn()) && !g.IsLeader() || g.LeaseReadOK() {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.s.ctx, forwardWait)
	defer cancel()
	return g.ReadBarrier(ctx)
}

func cmdReadonly(c *client, _ [][]byte) {
	c.readonly = true
	c.w.ok()
}

func cmdReadwrite(c *client, _ [][]byte) {
	c.readonly = false
	c.w.ok()
}

// cmdReplconf takes a follower's announcements and acknowledgements:
// REPLCONF listening-port <port> | ip-address <ip> | node-id <id> |
// capa <x> | ack <offset> (no reply, as in Redis).
func cmdReplconf(c *client, args [][]byte) {
	if len(args)%2 == 0 {
		c.w.errorText("ERR syntax error")
		return
	}
	for i := 1; i < len(args); i += 2 {
		opt, val := strings.ToLower(string(args[i])), string(args[i+1])
		switch opt {
		case "ack", "fack":
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil || c.replica == nil {
				return
			}
			c.replica.offset.Store(n)
			c.replica.lastAck.Store(time.Now().UnixMilli())
			c.s.units()[c.replica.unit].acks.signal()
			if c.replica.unsure.Load() {
				c.recordReplica()
			}
			return
		case "listening-port":
			p, err := strconv.Atoi(val)
			if err != nil || p < 0 || p > 65535 {
				c.w.errorText("ERR value is not an integer or out of range")
				return
			}
			c.setReplica(func(r *replicaLink) { r.port = p })
		case "ip-address":
			c.setReplica(func(r *replicaLink) { r.ip = val })
		case "node-id":
			c.setReplica(func(r *replicaLink) { r.id = val })
		case "group": // sessiond's own: the shard group the link follows
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 || n >= len(c.s.units()) {
				c.w.errorText("ERR invalid shard group")
				return
			}
			c.setReplica(func(r *replicaLink) { r.unit = n })
		case "capa", "rdb-only", "rdb-filter-only", "getack":
		default:
			c.w.errorText("ERR Unrecognized REPLCONF option: " + string(args[i]))
			return
		}
	}
	c.recordReplica()
	c.w.ok()
}

// recordReplica has the leader record a linked follower's client address
// in the log (once per link and address; a failed attempt is retried on a
// later ACK, at most once a second), so that every node can list it in
// CLUSTER SLOTS and NODES.
func (c *client) recordReplica() {
	c.s.mu.Lock()
	r := c.replica
	var g *replication.Group
	if r != nil {
		g = c.s.units()[r.unit].group
	}
	var id, addr string
	now := time.Now().UnixMilli()
	if r != nil && r.id != "" && r.port != 0 {
		id, addr = r.id, net.JoinHostPort(r.ip, strconv.Itoa(r.port))
		switch {
		case r.recorded == addr:
			id = ""
			r.unsure.Store(false)
		case now-r.recordTry < 1000:
			id = "" // tried within the last second: a later ACK retries
		default:
			r.recordTry = now
			r.unsure.Store(true)
		}
	}
	c.s.mu.Unlock()
	if id == "" || g == nil || !g.IsLeader() {
		return
	}
	c.s.wg.Add(1)
	go func() {
		defer c.s.wg.Done()
		if err := g.RecordNode(id, addr); err != nil {
			c.s.log.Debug("recording a follower's address failed", "node", id, "err", err)
			return
		}
		c.s.mu.Lock()
		r.recorded = addr
		r.unsure.Store(false)
		c.s.mu.Unlock()
	}()
}

// setReplica marks the connection as a follower's link and changes its
// announced fields under s.mu (INFO reads them from other goroutines).
func (c *client) setReplica(change func(*replicaLink)) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.replica == nil {
		r := &replicaLink{}
		if h, _, err := net.SplitHostPort(c.addr); err == nil {
			r.ip = h
		}
		r.lastAck.Store(time.Now().UnixMilli())
		c.replica = r
	}
	change(c.replica)
}

// replicaView is a copy of a replicaLink's fields.
type replicaView struct {
	id, ip  string
	port    int
	offset  uint64
	lastAck int64
}

// replicas returns the followers of group u linked to this node.
func (s *Server) replicas(u *unit) []replicaView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []replicaView
	for _, c := range s.clients {
		if r := c.replica; r != nil && r.port != 0 && r.unit == u.idx {
			out = append(out, replicaView{id: r.id, ip: r.ip, port: r.port,
				offset: r.offset.Load(), lastAck: r.lastAck.Load()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// cmdWait answers WAIT numreplicas timeout: how many followers have
// applied this connection's last write (the write is already on a
// majority's log when it was acknowledged).
func cmdWait(c *client, args [][]byte) {
	n, ok := shard.ParseInt(args[1])
	if !ok {
		c.w.errorText("ERR value is not an integer or out of range")
		return
	}
	ms, ok := c.timeoutMS(args[2])
	if !ok {
		return
	}
	u := c.lastUnit
	if u == nil {
		u = c.s.roleUnit() // no write yet: any group this node leads
	}
	g := u.group
	if g == nil && !u.remote && !c.lastFwd {
		c.w.int(0)
		return
	}
	if g == nil || !g.IsLeader() || c.lastFwd {
		c.w.errorText("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.")
		return
	}
	count := func() int64 {
		var k int64
		for _, r := range c.s.replicas(u) {
			if r.offset >= c.lastWrite {
				k++
			}
		}
		return k
	}
	var timeout <-chan time.Time
	if ms > 0 {
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		timeout = t.C
	}
	if count() < n && g.LastIndex() <= c.lastWrite {
		// Followers apply the write once they learn it is committed: from
		// the next AppendEntries, which an idle group sends only every
		// CommitTimeout. An empty op, appended now, sends one at once.
		// Only when nothing follows the write in the log yet, and one at
		// a time per group, so that WAITs in a loop on a missing replica
		// do not fill the log.
		if u.nudging.CompareAndSwap(false, true) {
			nudge := shard.Op{Kind: shard.KindReap, Now: c.now()}
			if p, err := g.Submit(&nudge); err == nil {
				go func() {
					p.Wait() // its outcome does not matter, but it must be waited for
					u.nudging.Store(false)
				}()
			} else {
				u.nudging.Store(false)
			}
		}
	}
	for {
		ch := u.acks.wait()
		k := count()
		if k >= n {
			c.w.int(k)
			return
		}
		select {
		case <-ch:
		case <-timeout:
			c.w.int(count())
			return
		case <-c.s.ctx.Done():
			c.w.int(count())
			return
		}
	}
}

// cmdRole answers ROLE in Redis's format; offsets are Raft log indexes.
// A node that leads a shard group is a master (of the first it leads), any
// other a replica of the first group's leader.
func cmdRole(c *client, _ [][]byte) {
	u := c.s.roleUnit()
	g := u.group
	if !u.remote && (g == nil || g.IsLeader()) {
		var off uint64
		if g != nil {
			off = g.AppliedIndex()
		}
		reps := c.s.replicas(u)
		c.w.array(3)
		c.w.bulk("master")
		c.w.int(int64(off))
		c.w.array(len(reps))
		for _, r := range reps {
			c.w.array(3)
			c.w.bulk(r.ip)
			c.w.bulk(strconv.Itoa(r.port))
			c.w.bulk(strconv.FormatUint(r.offset, 10))
		}
		return
	}
	host, port, state := c.s.masterAddr(u)
	c.w.array(5)
	c.w.bulk("slave")
	c.w.bulk(host)
	c.w.int(int64(port))
	c.w.bulk(state)
	c.w.int(int64(u.appliedIndex()))
}

// appliedIndex is the applied log index of u's group here (0 for a
// group other nodes hold).
func (u *unit) appliedIndex() uint64 {
	if u.group == nil {
		return 0
	}
	return u.group.AppliedIndex()
}

// roleUnit is the group whose role ROLE and INFO replication report: the
// first group this node leads, else the first it holds, else (a node that
// holds none, --replicas) the first group.
func (s *Server) roleUnit() *unit {
	if led := s.ledUnits(); len(led) > 0 {
		return led[0]
	}
	if local := s.local(); len(local) > 0 {
		return local[0]
	}
	return s.units()[0]
}

// masterAddr returns the leader of group u's client host and port as a
// follower sees it, and the link state ROLE reports.
func (s *Server) masterAddr(u *unit) (string, int, string) {
	_, addr, ok := s.leaderOf(u)
	if !ok {
		return "?", 0, "connect"
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0, "connect"
	}
	port, _ := strconv.Atoi(p)
	state := "connecting"
	if u.linkUp.Load() || u.remote {
		state = "connected"
	}
	return h, port, state
}

func (s *Server) infoReplicationRaft(b *infoBuilder) {
	u := s.roleUnit()
	g := u.group
	var st replication.Status
	if g != nil {
		st = g.Status()
	} else {
		st.LastContact = -1
	}
	if g != nil && g.IsLeader() {
		reps := s.replicas(u)
		b.kv("role", "master")
		b.kv("connected_slaves", len(reps))
		now := time.Now().UnixMilli()
		for i, r := range reps {
			b.kv(fmt.Sprintf("slave%d", i), fmt.Sprintf("ip=%s,port=%d,state=online,offset=%d,lag=%d",
				r.ip, r.port, r.offset, (now-r.lastAck)/1000))
		}
	} else {
		host, port, _ := s.masterAddr(u)
		b.kv("role", "slave")
		b.kv("master_host", host)
		b.kv("master_port", port)
		link := "down"
		if u.linkUp.Load() && st.LastContact >= 0 && st.LastContact < 5*time.Second || u.remote && port != 0 {
			link = "up"
		}
		b.kv("master_link_status", link)
		last := int64(-1)
		if st.LastContact >= 0 {
			last = int64(st.LastContact / time.Second)
		}
		b.kv("master_last_io_seconds_ago", last)
		b.kv("master_sync_in_progress", 0)
		b.kv("slave_read_repl_offset", st.AppliedIndex)
		b.kv("slave_repl_offset", st.AppliedIndex)
		b.kv("slave_priority", 100)
		b.kv("slave_read_only", 1)
		b.kv("replica_announced", 1)
		b.kv("connected_slaves", 0)
	}
	b.kv("master_failover_state", "no-failover")
	b.kv("master_replid", s.runID("replid"))
	b.kv("master_replid2", strings.Repeat("0", 40))
	b.kv("master_repl_offset", st.AppliedIndex)
	b.kv("second_repl_offset", "-1")
	b.kv("repl_backlog_active", "0")
	b.kv("repl_backlog_size", "1048576")
	b.kv("repl_backlog_first_byte_offset", "0")
	b.kv("repl_backlog_histlen", "0")
}

// infoRaft is the INFO raft section (sessiond's own). Its raft_* fields
// describe the first shard group; with several, raft_shards and one
// raft_groupN line per group follow.
func (s *Server) infoRaft(b *infoBuilder) {
	if !s.replicated() {
		b.kv("raft_enabled", 0)
		return
	}
	local := s.local()
	if len(local) == 0 {
		b.kv("raft_enabled", 1)
		b.kv("raft_node_id", s.selfID())
		b.kv("raft_shards", len(s.units()))
		b.kv("raft_groups_held", 0)
		return
	}
	g := local[0].group
	st := g.Status()
	b.kv("raft_enabled", 1)
	b.kv("raft_node_id", g.NodeID())
	b.kv("raft_addr", g.RaftAddr())
	b.kv("raft_state", strings.ToLower(st.State))
	b.kv("raft_term", st.Term)
	b.kv("raft_leader_id", st.LeaderID)
	b.kv("raft_leader_addr", st.LeaderAddr)
	b.kv("raft_commit_index", st.CommitIndex)
	b.kv("raft_applied_index", st.AppliedIndex)
	b.kv("raft_last_index", st.LastIndex)
	b.kv("raft_snapshot_index", st.SnapshotIndex)
	lc := int64(-1)
	if st.LastContact >= 0 {
		lc = st.LastContact.Milliseconds()
	}
	b.kv("raft_last_contact_ms", lc)
	b.kv("raft_voters", strings.Join(st.Voters, ","))
	b.kv("raft_proposed_entries", st.Entries)
	b.kv("raft_proposed_ops", st.Ops)
	b.kv("raft_appendfsync", st.Fsync.String())
	rc := "lease"
	if st.Linearizable {
		rc = "linearizable"
	}
	b.kv("raft_read_consistency", rc)
	b.kv("raft_forwarded_commands", s.stats.fwdCommands.Load())
	b.kv("raft_forwarded_batches", s.stats.fwdBatches.Load())
	if !s.sharded() && !s.partial() {
		return
	}
	b.kv("raft_shards", len(s.units()))
	if s.partial() {
		b.kv("raft_groups_held", len(s.local()))
	}
	for _, u := range s.local() {
		st := u.group.Status()
		line := fmt.Sprintf("slots=%d-%d,state=%s,term=%d,leader=%s,commit=%d,applied=%d,last_contact_ms=%d",
			u.lo, u.hi, strings.ToLower(st.State), st.Term, st.LeaderID, st.CommitIndex, st.AppliedIndex, max(st.LastContact.Milliseconds(), -1))
		if s.partial() {
			// Who holds it: the voters, and the non-voters catching up
			// to be added (moves.go).
			var voters, nonvoters []string
			for _, m := range u.group.Servers() {
				if m.Voter {
					voters = append(voters, m.ID)
				} else {
					nonvoters = append(nonvoters, m.ID)
				}
			}
			line += ",voters=" + strings.Join(voters, ";") + ",nonvoters=" + strings.Join(nonvoters, ";")
		}
		b.kv(fmt.Sprintf("raft_group%d", u.idx), line)
	}
}

// runFollowerLink keeps a REPLCONF link to group u's leader while this
// node follows it, acknowledging the applied index whenever it moves (and
// once a second), so the leader can answer WAIT and list its replicas.
func (s *Server) runFollowerLink(u *unit) {
	defer s.wg.Done()
	// The link ends with the server or when u leaves the table (moves.go).
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	go func() {
		select {
		case <-u.gone:
			cancel()
		case <-ctx.Done():
		}
	}()
	for ctx.Err() == nil {
		g := u.group
		id, addr, ok := g.Leader()
		if !ok || id == g.NodeID() {
			u.linkUp.Store(false)
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		err := s.followerLink(ctx, u, id, addr)
		u.linkUp.Store(false)
		if err != nil && ctx.Err() == nil {
			s.log.Debug("replica link ended", "leader", addr, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

func (s *Server) followerLink(ctx context.Context, u *unit, leaderID, addr string) error {
	d := net.Dialer{Timeout: 2 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	w := bufio.NewWriter(nc)
	r := bufio.NewReader(nc)
	cfg := s.config()
	send := func(args ...string) error {
		fmt.Fprintf(w, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(w, "$%d\r\n%s\r\n", len(a), a)
		}
		return w.Flush()
	}
	expectOK := func() error {
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.HasPrefix(line, "+") {
			return fmt.Errorf("leader refused link: %s", strings.TrimSpace(line))
		}
		return nil
	}
	if cfg.RequirePass != "" {
		if err := send("AUTH", cfg.RequirePass); err != nil {
			return err
		}
		if err := expectOK(); err != nil {
			return err
		}
	}
	ip := cfg.AnnounceIP
	if ip == "" {
		if h, _, err := net.SplitHostPort(nc.LocalAddr().String()); err == nil {
			ip = h
		}
	}
	hello := []string{"REPLCONF", "listening-port", strconv.Itoa(s.tcpPort(cfg)), "ip-address", ip,
		"node-id", u.group.NodeID()}
	if s.sharded() {
		hello = append(hello, "group", strconv.Itoa(u.idx))
	}
	if err := send(hello...); err != nil {
		return err
	}
	if err := expectOK(); err != nil {
		return err
	}
	u.linkUp.Store(true)
	var last uint64
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if id, _, ok := u.group.Leader(); !ok || id != leaderID {
			return nil
		}
		if a := u.group.AppliedIndex(); a != last || last == 0 {
			last = a
			nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if err := send("REPLCONF", "ACK", strconv.FormatUint(a, 10)); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-u.applied:
		case <-tick.C:
			last = 0 // re-acknowledge once a second even when idle
		}
	}
}

// notifyApplied wakes the group's follower link after its FSM applied
// entries. It never blocks (Group calls it from the FSM goroutine).
func (u *unit) notifyApplied() {
	select {
	case u.applied <- struct{}{}:
	default:
	}
}

// cmdDebug implements DEBUG DIGEST, DEBUG DIGEST-VALUE and, sessiond's
// own, DEBUG RAFT-SNAPSHOT (take a Raft snapshot now).
func cmdDebug(c *client, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	switch {
	case sub == "digest" && len(args) == 2:
		c.w.simple(c.s.digest())
	case sub == "digest-group" && len(args) == 3:
		n, ok := shard.ParseInt(args[2])
		us := c.s.units()
		if !ok || n < 0 || n >= int64(len(us)) {
			c.w.errorText("ERR invalid shard group")
			return
		}
		if us[n].remote {
			c.w.errorText("ERR sessiond: shard group " + strconv.Itoa(int(n)) + " is not held by this node")
			return
		}
		c.w.simple(us[n].store.Digest())
	case sub == "digest-value":
		c.w.array(len(args) - 2)
		for _, k := range args[2:] {
			if u := c.s.unitOfKey(k); u.remote {
				c.w.errorText("ERR sessiond: the key's shard group is not held by this node")
				continue
			}
			c.w.simple(c.s.unitOfKey(k).store.DigestValue(k))
		}
	case sub == "raft-snapshot" && len(args) == 2:
		if !c.s.replicated() {
			c.w.errorText("ERR replication is not enabled")
			return
		}
		for _, u := range c.s.local() {
			if err := u.group.Snapshot(); err != nil {
				c.w.err(err)
				return
			}
		}
		c.w.ok()
	case sub == "help":
		lines := []string{
			"DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"DIGEST",
			"    Output a hex signature representing the current DB content.",
			"DIGEST-GROUP <n>",
			"    Output the signature of shard group <n>'s data (sessiond).",
			"DIGEST-VALUE <key> [<key> ...]",
			"    Output a hex signature of the values of all the specified keys.",
			"RAFT-SNAPSHOT",
			"    Take a Raft snapshot now (sessiond).",
			"HELP",
			"    Print this help.",
		}
		c.w.array(len(lines))
		for _, l := range lines {
			c.w.simple(l)
		}
	default:
		c.w.errorText("ERR unknown subcommand '" + string(args[1]) + "'. Try DEBUG HELP.")
	}
}

// replicationCommands are the commands this file implements.
func replicationCommands(run func(*command, runFunc) *command) []*command {
	return []*command{
		run(def("readonly", 1, flagLoading|flagStale|flagFast, noKeys, "@fast @connection"), cmdReadonly),
		run(def("readwrite", 1, flagLoading|flagStale|flagFast, noKeys, "@fast @connection"), cmdReadwrite),
		run(def("replconf", -1, flagAdmin|flagNoScript|flagLoading|flagStale|flagAllowBusy, noKeys, "@admin @slow @dangerous"), cmdReplconf),
		run(def("wait", 3, flagNoScript, noKeys, "@slow @connection"), cmdWait),
		run(def("role", 1, flagNoScript|flagLoading|flagStale|flagFast, noKeys, "@admin @fast @dangerous"), cmdRole),
		run(def("sessiond-in", -3, flagWrite|flagNoScript, noKeys, "@write @slow"), cmdSessiondIn),
		run(def("sessiond-deliver", -3, flagPubSub|flagNoScript|flagLoading|flagStale, noKeys, "@pubsub @slow"), cmdSessiondDeliver),
		run(def("sessiond-scriptload", -2, flagNoScript|flagWrite, noKeys, "@scripting @slow"), cmdSessiondScriptLoad),
		run(def("sessiond-watchkey", 2, flagNoScript|flagFast, noKeys, "@transaction @fast"), cmdSessiondWatchKey),
		run(def("sessiond-exec", -3, flagWrite|flagNoScript, noKeys, "@write @slow @transaction"), cmdSessiondExec),
		run(def("sessiond-join", -4, flagAdmin|flagNoScript|flagStale, noKeys, "@admin @slow @dangerous"), cmdSessiondJoin),
		run(def("sessiond-leave", -2, flagAdmin|flagNoScript|flagStale, noKeys, "@admin @slow @dangerous"), cmdSessiondLeave),
		run(def("sessiond-drop", 2, flagAdmin|flagNoScript|flagStale, noKeys, "@admin @slow @dangerous"), cmdSessiondDrop),
		run(def("sessiond-move", 6, flagAdmin|flagNoScript|flagStale, noKeys, "@admin @slow @dangerous"), cmdSessiondMove),
		run(def("sessiond-retire", 1, flagAdmin|flagNoScript|flagStale, noKeys, "@admin @slow @dangerous"), cmdSessiondRetire),
		run(def("sessiond-layout", 1, flagAdmin|flagNoScript|flagStale|flagLoading, noKeys, "@admin @slow"), cmdSessiondLayout),
		run(def("sessiond-failover", -2, flagAdmin|flagNoScript|flagStale, noKeys, "@admin @slow @dangerous"), cmdSessiondFailover),
		run(def("debug", -2, flagAdmin|flagNoScript|flagLoading|flagStale, noKeys, "@admin @slow @dangerous"), cmdDebug),
	}
}
