package server

import (
	"sort"
	"time"
)

// Leader spreading. Elections put leaderships wherever they land; with
// several shard groups that can leave one node leading all of them (and
// doing all the writes) while the others only follow. Each node checks
// the groups it leads every balanceInterval and hands a group to its
// preferred leader, the (i mod voters)-th of group i's voters by ID (the
// first of its holders when groups are held by some nodes only),
// once that node is linked and caught up. So leaderships spread evenly
// after start-up, and return to a failed node once it is back.

// balanceInterval is how often a node looks at the groups it leads.
const balanceInterval = time.Second

// balanceLag is how far (in log entries) a preferred leader may be behind
// for a transfer: Raft's transfer waits for it to catch up, but a node
// far behind would stall the group's writes meanwhile.
const balanceLag = 1024

// runBalancer hands over leaderships until the server closes.
func (s *Server) runBalancer() {
	defer s.wg.Done()
	t := time.NewTicker(balanceInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		for _, u := range s.local {
			if s.ctx.Err() != nil {
				return
			}
			if to := s.preferredLeader(u); to != "" {
				if err := u.group.TransferLeadershipTo(to); err != nil {
					s.log.Debug("leader spreading: transfer failed", "group", u.idx, "to", to, "err", err)
				} else {
					s.log.Info("leader spreading: handed over", "group", u.idx, "to", to)
				}
			}
		}
	}
}

// preferredLeader returns the node group u should be handed to, or ""
// when this node does not lead it, is its preferred leader, or the
// preferred one is not linked, recently heard from and caught up.
func (s *Server) preferredLeader(u *unit) string {
	g := u.group
	if !g.Ready() {
		return ""
	}
	var ids []string
	for _, m := range g.Members() {
		ids = append(ids, m.ID)
	}
	if len(ids) < 2 {
		return ""
	}
	sort.Strings(ids)
	want := ids[u.idx%len(ids)]
	if u.members != nil {
		want = u.members[0] // placement.go: the first holder
	}
	if want == g.NodeID() {
		return ""
	}
	applied := g.AppliedIndex()
	now := time.Now().UnixMilli()
	for _, r := range s.replicas(u) {
		if r.id == want && now-r.lastAck < 2*balanceInterval.Milliseconds() && r.offset+balanceLag >= applied {
			return want
		}
	}
	return ""
}
