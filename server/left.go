package server

import (
	"maps"
	"time"
)

// Nodes removed for good. SESSIOND-LEAVE (drainNode) tells the node it
// removes that it is retired (SESSIOND-RETIRE), but a node that is down
// cannot hear it; were it to come back it would take replicas again
// (replace.go). So every removal is also recorded as a tombstone, the
// node's ID with the time of the removal, which every node keeps (dir/left)
// and spreads in its directory reports. A node that finds itself there
// retires; a node listed there is never a move target. A tombstone applies
// only to a node whose dir was first used before the removal (its
// incarnation, which it reports): the same ID started again on an empty
// dir is a new node and may join.

// leftNodes returns the tombstones this node knows.
func (s *Server) leftNodes() map[string]int64 {
	s.mv.leftMu.Lock()
	defer s.mv.leftMu.Unlock()
	return maps.Clone(s.mv.left)
}

// noteLeft adds the tombstones of left to this node's, keeping the later
// time of an ID listed in both, and records them if anything changed.
func (s *Server) noteLeft(left map[string]int64) {
	s.mv.leftMu.Lock()
	defer s.mv.leftMu.Unlock()
	changed := false
	for id, at := range left {
		if at > s.mv.left[id] {
			if s.mv.left == nil {
				s.mv.left = map[string]int64{}
			}
			s.mv.left[id] = at
			changed = true
		}
	}
	if changed && s.host != nil {
		if err := s.host.saveLeft(s.mv.left); err != nil {
			s.log.Error("moves: recording the nodes removed failed", "err", err)
		}
	}
}

// removedAt reports whether node id, whose dir was first used at inc,
// was removed since.
func (s *Server) removedAt(id string, inc int64) bool {
	s.mv.leftMu.Lock()
	at, ok := s.mv.left[id]
	s.mv.leftMu.Unlock()
	return ok && inc <= at
}

// markLeft records that node id is being removed now (drainNode).
func (s *Server) markLeft(id string) {
	s.noteLeft(map[string]int64{id: time.Now().UnixNano()})
}

// learnLeft takes in the tombstones of the peers' fresh reports, and
// retires this node if one names it.
func (s *Server) learnLeft(d *directory) {
	for _, r := range d.fresh() {
		if len(r.Left) > 0 {
			s.noteLeft(r.Left)
		}
	}
	if s.host == nil || s.mv.retired.Load() || !s.removedAt(d.self, s.mv.inc) {
		return
	}
	if err := s.host.mark("retired"); err != nil {
		s.log.Error("moves: recording that this node was removed failed", "err", err)
	}
	s.mv.retired.Store(true)
	s.log.Warn("moves: this node was removed from the cluster (SESSIOND-LEAVE) while it was away; it takes no replicas")
}
