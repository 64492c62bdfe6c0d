package server

import (
	"sort"
	"strconv"
	"strings"
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
		for _, u := range s.local() {
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
	var want string
	if s.dir() != nil {
		// Not while this node runs a move (SESSIOND-MOVE): the group's
		// voters are changing.
		if !s.tryLockLeader() {
			return ""
		}
		busy := false
		for key := range s.mv.adding {
			busy = busy || strings.HasPrefix(key, strconv.Itoa(u.idx)+"/")
		}
		s.unlockLeader()
		if busy {
			return ""
		}
		want = s.preferredLeaders()[u.idx]
	} else {
		var ids []string
		for _, m := range g.Members() {
			ids = append(ids, m.ID)
		}
		if len(ids) < 2 {
			return ""
		}
		sort.Strings(ids)
		want = ids[u.idx%len(ids)]
	}
	if want == "" {
		return ""
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

// holders returns the voters of u's group: from its Raft configuration
// when this node holds it, else as its leader last reported them
// (directory.go), else as placed at start (placement.go).
func (s *Server) holders(u *unit) []string {
	if !u.remote {
		var out []string
		for _, m := range u.group.Members() {
			out = append(out, m.ID)
		}
		return out
	}
	return s.holdersOf(u, s.dir().group(u.idx))
}

// holdersOf is holders for a group held elsewhere, of which rg is the
// directory's view.
func (s *Server) holdersOf(u *unit, rg remoteGroup) []string {
	if vs := rg.voters(); len(vs) > 0 {
		return vs
	}
	return u.members
}

// preferredLeaders returns the node each group should be led by where
// groups are held by some nodes only: group by group, in order, the voter
// leading the fewest groups so far, ties going to the first at or after
// position ⌊g·N/G⌋ of the N nodes holding any group, sorted (so that
// without moves it is the first holder placement.go gives). It depends
// only on the groups' voters, so every node that sees the same
// configurations names the same leaders, and a handed-over group is not
// handed back.
func (s *Server) preferredLeaders() map[int]string {
	us := s.units()
	voters := make([][]string, len(us))
	all := map[string]bool{}
	for i, u := range us {
		voters[i] = s.holders(u)
		for _, v := range voters[i] {
			all[v] = true
		}
	}
	nodes := make([]string, 0, len(all))
	for id := range all {
		nodes = append(nodes, id)
	}
	sort.Strings(nodes)
	pos := make(map[string]int, len(nodes))
	for i, id := range nodes {
		pos[id] = i
	}
	led := map[string]int{}
	out := make(map[int]string, len(us))
	for i, vs := range voters {
		if len(vs) == 0 {
			continue
		}
		start := i * len(nodes) / len(us)
		best, bestDist := "", 0
		if d := s.dir(); d != nil {
			// A retired node (being drained) leads nothing it can avoid.
			var keep []string
			for _, v := range vs {
				if !d.retired(v) {
					keep = append(keep, v)
				}
			}
			if len(keep) > 0 {
				vs = keep
			}
		}
		for _, v := range vs {
			dist := (pos[v] - start + len(nodes)) % len(nodes)
			if best == "" || led[v] < led[best] || led[v] == led[best] && dist < bestDist {
				best, bestDist = v, dist
			}
		}
		out[i] = best
		led[best]++
	}
	return out
}
