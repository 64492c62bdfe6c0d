package server

import (
	"time"
)

// Replacing failed nodes. Where groups are held by some nodes only
// (--replicas below the number of nodes), a node that stays unreachable
// for replace-after (default 5 minutes; 0: never) has its replicas
// replaced, as ElastiCache replaces a failed node: the leader of each
// group it held adds the running node holding the fewest groups, lets it
// catch up, promotes it and removes the failed node (moveOnLeader, one
// replica at a time). Every group is then back at R live replicas without
// anyone running SESSIOND-LEAVE. Unlike SESSIOND-LEAVE the failed node is
// not retired: if it comes back, it drops the replicas it lost (moves.go)
// and then takes its share again from the nodes holding the most
// (takeShare), so that the load spreads back over every node.
//
// Unreachable means the node has not answered the leader's directory for
// that long (for a node it never heard from, since it began to ask it; a
// node it has only heard of is not counted): a node cut off by a
// partition counts as failed too.
// Raft keeps this safe: a replaced node that comes back is no longer a
// voter, and its copy is dropped.

// DefaultReplaceAfter is replace-after's default.
const DefaultReplaceAfter = 5 * time.Minute

// minReplaceAfter is the shortest replace-after that is used: a peer's
// reports may be missed for up to dirStale (with one exchange taking up
// to dirTimeout) while it is up.
const minReplaceAfter = dirStale + dirTimeout

// autoMoves runs, once per directory poll, the moves a node starts by
// itself: taking its share back after it was replaced, and, on the groups
// it leads, one replacement of a failed node's replica or else one move
// spreading a group over more zones (zones.go). Moves run in the
// background, one at a time, so polling goes on while a new replica
// catches up.
func (s *Server) autoMoves(d *directory) {
	if s.host == nil || s.ctx.Err() != nil {
		return
	}
	s.rebalanceReturned(d)
	if !s.mv.replacing.CompareAndSwap(false, true) {
		return
	}
	if !s.replaceFailed(d) && !s.spreadZones(d) {
		s.mv.replacing.Store(false)
	}
}

// replaceFailed starts the replacement of a failed node's replica (see
// above) on a group this node leads, if one is due; it reports whether it
// started one. The caller holds s.mv.replacing, which the move releases.
func (s *Server) replaceFailed(d *directory) bool {
	after := s.config().ReplaceAfter
	if after <= 0 {
		return false
	}
	after = max(after, minReplaceAfter) // a slow poll must not look like a failure
	self := s.selfID()
	for _, u := range s.local() {
		if !u.group.IsLeader() {
			continue
		}
		voters := s.holders(u)
		for _, v := range voters {
			if v == self || d.silentFor(v) < after {
				continue
			}
			to, _ := s.layout().moveTarget(u.idx, voters, v)
			bit := uint64(1) << u.idx // MaxShards is 64
			if to.ID == "" {
				if s.mv.noTarget.Load()&bit == 0 {
					s.mv.noTarget.Or(bit)
					s.log.Warn("moves: a node has been unreachable for replace-after, but no running node can take its replica",
						"group", u.idx, "node", v, "replace_after", after)
				}
				continue
			}
			s.mv.noTarget.And(^bit)
			s.log.Warn("moves: replacing the replica of a node unreachable for replace-after",
				"group", u.idx, "node", v, "by", to.ID, "replace_after", after)
			s.autoMove(u, to, v, "", "replacing a failed node's replica")
			return true
		}
	}
	return false
}

// rebalanceReturned starts takeShare once this node, not retired, has
// dropped a replica no one asked it to drop (it was replaced while away),
// and has no other replica to take or drop: the layout it plans from is
// then its own directory's, which no longer lists it where it was
// replaced.
func (s *Server) rebalanceReturned(d *directory) {
	if !s.mv.replaced.Load() || s.mv.retired.Load() || !s.mv.joined.Load() || s.mv.rebalancing.Load() {
		return
	}
	s.mv.mu.Lock()
	busy := len(s.mv.pending) > 0 || len(s.mv.excluded) > 0
	s.mv.mu.Unlock()
	if busy || !s.mv.replaced.CompareAndSwap(true, false) {
		return
	}
	s.mv.rebalancing.Store(true)
	s.background(func() { // the directory's poll goroutine is counted: Close still waits
		defer s.mv.rebalancing.Store(false)
		s.takeShare([]string{d.client}, false)
	})
}

// autoMove runs, in the background, the move of u's replica from node
// from (client address fromClient, "" when it is down) to node to that
// this leader decided on by itself (why says which rule), then releases
// s.mv.replacing. A failure is logged; the next directory poll decides
// again.
func (s *Server) autoMove(u *unit, to layoutNode, from, fromClient, why string) {
	s.background(func() { // the directory's poll goroutine is counted: Close still waits
		defer s.mv.replacing.Store(false)
		already, err := s.moveOnLeader(u, to.ID, to.Raft, to.Client, from)
		if err != nil {
			s.log.Warn("moves: "+why+" failed; trying again", "group", u.idx, "from", from, "to", to.ID, "err", err)
			return
		}
		if !already {
			s.tellDrop(u.idx, from, fromClient)
			s.log.Info("moves: "+why+": done", "group", u.idx, "from", from, "to", to.ID)
		}
	})
}
