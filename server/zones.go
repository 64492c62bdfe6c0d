package server

import (
	"slices"
)

// Failure domains. A node may be given a zone (--zone, e.g. the
// availability zone it runs in); it reports it in its directory reports.
// Where groups are held by some nodes only, the replicas of a group are
// then spread over as many zones as there are, so that losing a whole
// zone takes at most one replica of each group (with R ≤ zones) and every
// group keeps its quorum:
//
//   - a move's target (a replaced or leaving node's replica) is a node in
//     a zone the group's other replicas are not in, when one is running
//     (moveTarget);
//   - a joining node takes, of the groups of the node holding the most,
//     one that its zone does not make less spread (planJoin);
//   - each group's leader checks, once per directory poll, whether two of
//     its voters share a zone while a running node of a zone the group is
//     not in could hold it; it then moves one of the two there
//     (spreadZones). The placement at start knows no zones, so this is
//     also what spreads a new cluster's groups, within seconds of start.
//
// Zones apply only once every running node has one (zones): a cluster
// without zones, or one being given zones in a rolling restart, places
// replicas as before.

// zones returns each node's zone in the layout, or every zone "" unless
// every running node that is not retired has a zone: while zones are
// being given, one node at a time in a rolling restart, the nodes without
// one would otherwise count as a zone of their own and the first nodes
// given one would draw every group's replica.
func (l *layoutReply) zones() map[string]string {
	out := make(map[string]string, len(l.Nodes))
	for _, n := range l.Nodes {
		if n.Alive && !n.Retired && n.Zone == "" {
			clear(out)
			return out
		}
		out[n.ID] = n.Zone
	}
	return out
}

// withZone returns l with node id in zone z (a node that asked another
// for the layout may not be in it yet); l is not changed.
func (l *layoutReply) withZone(id, z string) *layoutReply {
	c := *l
	c.Nodes = slices.Clone(l.Nodes)
	for i := range c.Nodes {
		if c.Nodes[i].ID == id {
			c.Nodes[i].Zone = z
			return &c
		}
	}
	c.Nodes = append(c.Nodes, layoutNode{ID: id, Zone: z})
	return &c
}

// zone returns node id's zone as it last reported it ("" when unknown).
func (d *directory) zone(id string) string {
	if id == d.self {
		return d.s.config().Zone
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reports[id].report.Zone
}

// spreadZones starts, on a group this node leads, one move that spreads
// the group's voters over more zones (see above), if one can; it reports
// whether it started one. The caller holds s.mv.replacing, which the move
// releases.
func (s *Server) spreadZones(d *directory) bool {
	self := s.selfID()
	var l *layoutReply
	for _, u := range s.local() {
		if !u.group.IsLeader() {
			continue
		}
		voters := s.holders(u)
		if l == nil {
			l = s.layout()
		}
		zone := l.zones()
		// A group with a voter down is left to replaceFailed (it might
		// bring back the very zone a move would spread away from); one
		// with a voter of unknown zone, until it is known.
		if slices.ContainsFunc(voters, func(v string) bool { return !d.alive(v) || zone[v] == "" }) {
			continue
		}
		// A voter sharing its zone with another one (not this node, so
		// that the leader does not remove itself), holding the most.
		counts := l.counts()
		from := ""
		for _, v := range voters {
			if v == self {
				continue
			}
			if !slices.ContainsFunc(voters, func(o string) bool { return o != v && zone[o] == zone[v] }) {
				continue
			}
			if from == "" || counts[v] > counts[from] {
				from = v
			}
		}
		if from == "" {
			continue
		}
		to, _ := l.moveTarget(u.idx, voters, from)
		if to.ID == "" || slices.ContainsFunc(voters, func(o string) bool { return o != from && zone[o] == to.Zone }) {
			continue // no running node of a zone the group is not in
		}
		s.log.Info("moves: spreading a group over more zones", "group", u.idx, "from", from, "zone", zone[from], "to", to.ID, "to_zone", to.Zone)
		// The old holder is up: told, it drops its copy at once, asked
		// (a node that drops one unasked was replaced while away, and
		// takes its share back).
		fromNode, _ := l.node(from)
		s.autoMove(u, to, from, fromNode.Client, "spreading a group over zones")
		return true
	}
	return false
}
