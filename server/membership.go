package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"sessiond/replication"
)

// Membership at run time. A new node started with --join host:port (and
// an empty dir) does not bootstrap a group of its own: it asks the node at
// host:port, which forwards to the leader, to add it (SESSIOND-JOIN), and
// then catches up from the log or a snapshot like any follower.
// SESSIOND-LEAVE (or CLUSTER FORGET in cluster mode) removes a node.

// parseJoin parses --join: "host:port,host:port,...", client addresses of
// existing nodes. Empty means none.
func parseJoin(v string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(v, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("join: %q is not host:port", a)
		}
		out = append(out, a)
	}
	return out, nil
}

// joinRetry is how long a joining node waits between attempts.
const joinRetry = 500 * time.Millisecond

// runJoin asks the cluster at one of addrs to add this node to every
// shard group, until it is a member of each with a known leader or the
// server stops. A group it has once been a voter of is never asked
// again: a moment without a known leader does not reopen it, and a
// SESSIOND-LEAVE that removes the node while this loop still runs for
// other groups must not be undone by it.
func (s *Server) runJoin(addrs []string) {
	defer s.wg.Done()
	voted := map[int]bool{}
	for i := 0; s.ctx.Err() == nil; i++ {
		var pending []*unit
		for _, u := range s.local() {
			if isVoter(u) || removed(u) {
				voted[u.idx] = true
			}
			if !voted[u.idx] && !joined(u) {
				pending = append(pending, u)
			}
		}
		if len(pending) == 0 {
			s.log.Info("joined the cluster", "node", s.selfID())
			return
		}
		addr := addrs[i%len(addrs)]
		for _, u := range pending {
			if err := s.askJoin(addr, u); err != nil {
				s.log.Warn("join: asking failed; retrying", "via", addr, "group", u.idx, "err", err)
			}
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(joinRetry):
		}
	}
}

// joined reports whether this node is a voter of u's group with a leader.
func joined(u *unit) bool {
	g := u.group
	if _, _, ok := g.Leader(); !ok && !g.IsLeader() {
		return false
	}
	return isVoter(u)
}

// removed reports whether this node has been in u's group and is not
// any more: it applied entries of the group's log, and its latest
// configuration leaves it out (a SESSIOND-LEAVE it learned of).
func removed(u *unit) bool {
	g := u.group
	if g.AppliedIndex() == 0 {
		return false
	}
	for _, m := range g.Servers() {
		if m.ID == g.NodeID() {
			return false
		}
	}
	return true
}

// isVoter reports whether this node is a voter of u's group.
func isVoter(u *unit) bool {
	g := u.group
	for _, m := range g.Members() {
		if m.ID == g.NodeID() {
			return true
		}
	}
	return false
}

// askJoin sends SESSIOND-JOIN id raft-addr client-addr [group] to addr.
func (s *Server) askJoin(addr string, u *unit) error {
	g := u.group
	args := []string{"SESSIOND-JOIN", g.NodeID(), g.RaftAddr(), g.ClientAddr()}
	if s.sharded() {
		args = append(args, strconv.Itoa(u.idx))
	}
	_, err := s.internalCall(addr, args...)
	return err
}

// internalCallTimeout bounds one internal command (a SESSIOND-JOIN waits
// up to joinCatchUp for the node to catch up).
const internalCallTimeout = 10 * time.Second

// internalCall sends one command to the node at addr (a client address),
// authenticating first when requirepass is set, and returns its reply: a
// simple or bulk string, or an integer as text. An error reply is an
// error carrying its text.
func (s *Server) internalCall(addr string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(s.ctx, internalCallTimeout)
	defer cancel()
	return callNode(ctx, addr, s.config().RequirePass, args...)
}

// callNode is internalCall for a caller without a server (a node asking
// for the layout before it opens, node.go).
func callNode(ctx context.Context, addr, password string, args ...string) (string, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	if deadline, ok := ctx.Deadline(); ok {
		nc.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	r := bufio.NewReader(nc)
	send := func(args ...string) (string, error) {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := nc.Write([]byte(b.String())); err != nil {
			return "", err
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		line = strings.TrimSuffix(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "+") || strings.HasPrefix(line, ":"):
			return line[1:], nil
		case strings.HasPrefix(line, "$"):
			n, err := strconv.Atoi(line[1:])
			if err != nil || n < 0 || n > dirMaxReport {
				return "", fmt.Errorf("bad reply %q", line)
			}
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(r, buf); err != nil {
				return "", err
			}
			return string(buf[:n]), nil
		}
		return "", errors.New(strings.TrimPrefix(line, "-"))
	}
	if password != "" {
		if _, err := send("AUTH", password); err != nil {
			return "", fmt.Errorf("AUTH: %w", err)
		}
	}
	return send(args...)
}

// cmdSessiondJoin adds a node to a shard group: SESSIOND-JOIN id
// raft-addr client-addr [group] (default the first). It runs on the
// group's leader (a follower forwards it) and answers once the node is a
// voter and its client address is in the log.
func cmdSessiondJoin(c *client, args [][]byte) {
	if c.s.partial() && len(args) < 5 {
		c.w.errorText("ERR sessiond: name the shard group: where groups are held by some nodes only (--replicas), a node takes replicas one group at a time (start it with --join, and it asks for them itself)")
		return
	}
	if !c.groupArgAny(args, 4) {
		return
	}
	u := c.u
	id, raftAddr, clientAddr := string(args[1]), string(args[2]), string(args[3])
	for _, a := range []string{raftAddr, clientAddr} {
		if _, _, err := net.SplitHostPort(a); err != nil {
			c.w.errorText("ERR invalid address '" + a + "'")
			return
		}
	}
	if id == "" || strings.ContainsAny(id, " ,=\t\r\n") {
		c.w.errorText("ERR invalid node id")
		return
	}
	c.onLeader(args, func() error { return c.s.admit(u, id, raftAddr, clientAddr) })
}

// joinCatchUp bounds how long one SESSIOND-JOIN waits for the new node to
// catch up before it answers TRYAGAIN (the joining node asks again).
const joinCatchUp = 5 * time.Second

// errCatchingUp answers a SESSIOND-JOIN whose node is still catching up.
var errCatchingUp = errors.New("TRYAGAIN sessiond: the node is catching up; ask again")

// admit adds a node on the leader: first as a non-voter, so that the
// quorum does not grow before the node has the log; once its follower
// link acknowledges what was applied when it was added, as a voter. Its
// client address goes into the log for CLUSTER SLOTS/NODES.
func (s *Server) admit(u *unit, id, raftAddr, clientAddr string) error {
	g := u.group
	for _, m := range g.Members() {
		if m.ID == id && m.RaftAddr == raftAddr {
			return g.RecordNode(id, clientAddr) // already a voter
		}
	}
	if err := g.AddNonvoter(id, raftAddr); err != nil {
		if errors.Is(err, replication.ErrAddressConflict) {
			return fmt.Errorf("ERR node %s is already a member at another address; SESSIOND-LEAVE it first", id)
		}
		return err
	}
	if err := g.RecordNode(id, clientAddr); err != nil {
		return err
	}
	target := g.AppliedIndex()
	start := time.Now()
	deadline := start.Add(joinCatchUp)
	for {
		if !g.IsLeader() {
			return replication.ErrNotLeader
		}
		for _, r := range s.replicas(u) {
			// An acknowledgement sent after the node was added, on its
			// link, for the index applied then.
			if r.id == id && r.offset >= target && r.lastAck >= start.UnixMilli() {
				// Only while it is still the non-voter added above: one
				// removed meanwhile (SESSIOND-LEAVE) is not added back,
				// even when the removal lands between check and change.
				err := g.PromoteNonvoter(id, raftAddr)
				if errors.Is(err, replication.ErrNotNonvoter) {
					return fmt.Errorf("ERR node %s left the group while it was being added", id)
				}
				return err
			}
		}
		if time.Now().After(deadline) {
			return errCatchingUp
		}
		select {
		case <-s.ctx.Done():
			return replication.ErrClosed
		case <-time.After(20 * time.Millisecond): // polling the follower's acknowledgements, bounded
		}
	}
}

// cmdSessiondLeave removes a node: SESSIOND-LEAVE node [group], where
// node is its Raft ID or its 40-hex cluster name; without a group, from
// every shard group. Removing the leader hands leadership over first. A
// node already removed is answered OK, so the command can be sent to
// every node.
func cmdSessiondLeave(c *client, args [][]byte) {
	if len(args) == 2 {
		c.leave(string(args[1]))
		return
	}
	if !c.groupArgAny(args, 2) {
		return
	}
	c.leaveGroup(string(args[1]))
}

// cmdClusterForget is CLUSTER FORGET node: SESSIOND-LEAVE in Redis's
// words (the node is removed from the group, not only forgotten here).
// As redis-cli --cluster del-node sends it to every remaining node, a node
// already removed is answered OK.
func cmdClusterForget(c *client, args [][]byte) {
	if name := string(args[2]); name == c.s.selfID() || name == clusterName(c.s.selfID()) {
		c.w.errorText("ERR I tried hard but I can't forget myself...")
		return
	}
	c.leave(string(args[2]))
}

// leave removes node name from every shard group, through each group's
// leader, and answers OK or the first error.
func (c *client) leave(name string) {
	if c.s.partial() {
		c.drain(name)
		return
	}
	replies := c.eachUnit(c.s.units(), func() { c.leaveGroup(name) })
	c.w.firstErrorOrOK(replies)
}

// leaveGroup removes node name from the current group (c.u) through its
// leader.
func (c *client) leaveGroup(name string) {
	id, ok := c.s.nodeID(name)
	if !ok {
		c.w.errorText("ERR Unknown node " + name)
		return
	}
	u := c.u
	member := false
	if u.remote {
		rg := c.s.dir().group(u.idx)
		_, member = rg.member(id)
		member = member || rg.config == nil // not known yet: ask the leader
	} else {
		for _, m := range u.group.Servers() {
			member = member || m.ID == id
		}
	}
	if !member {
		c.w.ok() // already removed
		return
	}
	c.onLeader(c.groupArgs("SESSIOND-LEAVE", id), func() error { return u.group.RemoveServer(id) })
}

// nodeID finds a node by Raft ID or cluster name among the groups'
// servers and the nodes their logs recorded (removed ones included).
func (s *Server) nodeID(name string) (string, bool) {
	var ids []string
	for _, u := range s.local() {
		ids = append(ids, u.group.RecordedIDs()...)
		for _, m := range u.group.Servers() {
			ids = append(ids, m.ID)
		}
	}
	if d := s.dir(); d != nil {
		for id := range d.peerList() {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		if id == name || clusterName(id) == name {
			return id, true
		}
	}
	return "", false
}

// onLeader runs change on the leader of the current group (c.u) and
// answers OK or its error: here when this node leads, else by forwarding
// args. A change that finds leadership moved (a leader that removed
// itself hands it over) is forwarded to the new leader.
func (c *client) onLeader(args [][]byte, change func() error) {
	c.onLeaderReply(args, func() (string, error) { return "OK", change() })
}

// onLeaderReply is onLeader for a change whose success answers the status
// it returns.
func (c *client) onLeaderReply(args [][]byte, change func() (string, error)) {
	g := c.u.group
	if c.u.remote {
		// Held elsewhere: only its leader can change it.
		c.forward(args, true, func() { c.w.errorText(errClusterDown) })
		return
	}
	if g == nil {
		c.w.errorText("ERR this node has no Raft group")
		return
	}
	local := func() {
		status, err := change()
		switch {
		case err == nil:
			c.w.simple(status)
		case errors.Is(err, replication.ErrNotLeader) && !c.inLocalRetry:
			c.forward(args, true, func() { c.replicationError(err) })
		default:
			c.replicationError(err)
		}
	}
	if g.IsLeader() {
		local()
		return
	}
	c.forward(args, true, local)
}
