package server

import (
	"bytes"
)

// notLeaderReply is errNotLeaderForwarded as it arrives.
var notLeaderReply = []byte("-" + errNotLeaderForwarded)

// fwdMaxBytes bounds the arguments of one batch: past it the batch goes
// out before more is queued, so that a batch of large values cannot fill
// the socket buffers both ways while neither side reads.
const fwdMaxBytes = 256 << 10

// Pipelined forwarding. A connection to a node that does not lead the
// group of its commands (a follower, or a node holding no replica of the
// group) used to forward each command and wait for its reply before
// reading the next: a pipeline of 16 cost 16 round trips to the leader.
// Now the data commands of a pipeline that go to one leader are queued
// (fwdBatch) like in-flight writes, handed together to the leader's
// shared connection at the next settle (upstream_mux.go, which also
// batches them with other clients'), and their replies relayed in order,
// so the leader sees the pipeline as a pipeline.
//
// The replies keep their order with the connection's other in-flight
// entries (settle). A failure keeps forward's contract: a command the
// connection lost before it could have been sent, or any read, is
// forwarded again on its own (forwardNow, which waits for a new leader);
// a write that may have reached the leader is answered errUnknownOutcome.
// A command a leader refused with errNotLeaderForwarded (it lost the
// leadership) is forwarded again on its own, after the replies before it.

// fwdCmd is one queued command.
type fwdCmd struct {
	cmd   *command
	args  [][]byte // what is sent (copied)
	pre   int      // leading args naming the group (sessiond-in): args[pre:] run locally
	write bool
	u     *unit
}

// fwdBatch is the commands a connection queued for one leader.
type fwdBatch struct {
	addr  string
	proto int
	q     []fwdCmd
	bytes int // of the queued commands' arguments

	flushed bool
	reqs    []*muxReq // q's requests on the shared connection (upstream_mux.go)
	err     error     // the pool is closed (nothing was sent)
}

// forwardable reports whether cmd, about to run in group c.u, will be
// forwarded by routeRemote and may be queued instead of waited for.
func (c *client) forwardable(cmd *command, args [][]byte) bool {
	if cmd == nil || cmd.parse == nil || cmd.run != nil || c.multi != nil || !c.authed || c.ps != nil ||
		c.forwardAlone || c.inLocalRetry || c.early || len(c.inflight) >= c.inflightMax() || !cmd.arityOK(len(args)) {
		return false
	}
	u := c.u
	if !u.remote {
		g := u.group
		if g == nil || g.IsLeader() || c.readonly && !cmd.has(flagWrite) {
			return false
		}
	}
	s := c.s
	if s.clusterOn() || c.fwdConn {
		return false
	}
	if s.sharded() {
		if cmd.fan != fanNone {
			return false // fanned out over the groups, part by part
		}
		if cmd.first > 0 && len(c.keyUnits(cmd, args)) > 1 {
			return false // refused across groups
		}
	}
	return true
}

// queueForward queues fwd (cmd's args, with pre leading args naming the
// group) for the leader of c.u's group. It returns false, queuing
// nothing, when no other node is known to lead the group.
func (c *client) queueForward(cmd *command, fwd [][]byte, pre int) bool {
	id, addr, ok := c.s.leaderOf(c.u)
	if !ok || id == c.s.selfID() {
		return false
	}
	proto := 2
	if c.w.resp3 {
		proto = 3
	}
	if b := c.fwd; b != nil && (b.addr != addr || b.proto != proto || b.bytes >= fwdMaxBytes) {
		c.settle() // another leader, or a full batch: the batch so far goes first
	}
	if c.fwd == nil {
		c.fwd = &fwdBatch{addr: addr, proto: proto}
	}
	args, n := copyArgs(fwd)
	c.fwd.bytes += n
	c.fwd.q = append(c.fwd.q, fwdCmd{cmd: cmd, args: args, pre: pre, write: cmd.has(flagWrite), u: c.u})
	c.inflight = append(c.inflight, inflight{cmd: cmd, fwd: len(c.fwd.q)}) // cmd: for commandstats
	if cmd.has(flagWrite) {
		c.batchWrote = true
	}
	return true
}

// flush hands every queued command at once to the leader's shared
// connection.
func (b *fwdBatch) flush(c *client) {
	b.flushed = true
	m := c.s.up.mux(upstreamKey{addr: b.addr, proto: b.proto})
	if m == nil {
		b.err = errUpstreamClosed
		return
	}
	b.reqs = make([]*muxReq, len(b.q))
	for i := range b.q {
		b.reqs[i] = &muxReq{enc: upstreamAppendCommand(nil, b.q[i].args), done: make(chan struct{})}
	}
	m.submitAll(c.s.ctx, b.reqs)
	c.s.stats.fwdBatches.Add(1)
	c.s.stats.fwdCommands.Add(int64(len(b.q)))
}

// fwdReply writes the reply of queued command j (replies are taken in
// order): the leader's, relayed, or what forward would answer on a
// failure.
func (c *client) fwdReply(j int) {
	b := c.fwd
	if !b.flushed {
		b.flush(c)
	}
	q := &b.q[j]
	saved := c.u
	c.u = q.u
	defer func() { c.u = saved }()
	local := func() { c.execData(q.cmd, q.args[q.pre:]) }
	sent, err := false, b.err
	if err == nil {
		r := b.reqs[j]
		select {
		case <-r.done:
			sent, err = r.sent, r.err
		case <-c.s.ctx.Done():
			sent, err = true, c.s.ctx.Err()
		}
		if err == nil {
			if bytes.HasPrefix(r.reply, notLeaderReply) {
				c.s.leaderGone(q.u)
				c.forwardNow(q.args, q.write, local)
				return
			}
			c.w.b = append(c.w.b, r.reply...)
			if q.write {
				c.lastWrite, c.lastUnit, c.lastFwd = 0, nil, true
			}
			return
		}
		c.s.leaderGone(q.u)
	}
	if q.write && sent {
		c.s.log.Warn("forwarded write lost", "leader", b.addr, "err", err)
		c.w.errorText(errUnknownOutcome)
		return
	}
	c.forwardNow(q.args, q.write, local)
}
