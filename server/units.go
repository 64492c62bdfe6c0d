package server

import (
	"crypto/sha1"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"sessiond/replication"
	"sessiond/shard"
)

// Shard groups. The 16384 hash slots are split into G contiguous ranges
// (--shards G); each range is a shard group: a Raft group of its own with
// a store of its own. A node holds a replica of R of the groups (every
// group unless --replicas is below the number of nodes, placement.go);
// every command can run here or be forwarded to its group's leader. A
// unit is one group as this node sees it: held here (a store and a Raft
// group) or remote (only where to forward).

// NumSlots is the number of hash slots, as in Redis Cluster.
const NumSlots = 16384

// MaxShards bounds --shards: each group is a Raft instance with its own
// heartbeats and log.
const MaxShards = 64

// Unit is what New needs for one shard group: the store the group's
// log applies to and the Applier writes go through (a
// *replication.Group, or nil to apply locally).
type Unit struct {
	Store   *shard.Store
	Applier Applier
	// Remote marks a group this node holds no replica of: Store and
	// Applier stay nil and its commands are forwarded.
	Remote bool
	// Members are the nodes that hold the group, preferred leader first,
	// when not every node does (--replicas); nil otherwise.
	Members []string
}

// unit is one shard group on this node.
type unit struct {
	idx     int
	lo, hi  int                // the group's slots, inclusive
	group   *replication.Group // nil on a standalone server and for a remote group
	store   *shard.Store       // nil for a remote group
	applier Applier            // nil for a remote group
	remote  bool               // held by other nodes only: its commands are forwarded
	members []string           // the nodes that hold it, preferred leader first; nil: every node

	acks    ackBoard      // WAIT sleeps on followers' acknowledgements
	applied chan struct{} // the FSM applied entries (wakes the follower link)
	linkUp  atomic.Bool   // the follower link to the group's leader is established
	nudging atomic.Bool   // a WAIT's empty entry is in flight (cmdWait)

	gone     chan struct{} // closed when the unit leaves the table (moves.go)
	goneOnce sync.Once
	muted    atomic.Bool // its store's events are not delivered (a replica catching up)

	holdersCache atomic.Pointer[holdersSnap] // relayFrom's view of its holders (pubsub_relay.go)
}

// retire marks the unit replaced: its follower link ends.
func (u *unit) retire() { u.goneOnce.Do(func() { close(u.gone) }) }

// SlotRange returns the slots [lo, hi] of group i of n: the range
// `redis-cli --cluster create` gives the i-th of n masters (each range
// ends at the rounded multiple of 16384/n, the last at 16383).
func SlotRange(i, n int) (lo, hi int) {
	end := func(j int) int {
		if j == n-1 {
			return NumSlots - 1
		}
		per := float64(NumSlots) / float64(n)
		return int(math.Round(float64(j)*per + per - 1))
	}
	if i > 0 {
		lo = end(i-1) + 1
	}
	return lo, end(i)
}

// newUnits makes the server's units from specs, in slot order, and the
// slot-to-unit table.
func newUnits(specs []Unit, notify func(*unit) func()) ([]*unit, []uint8) {
	us := make([]*unit, len(specs))
	for i, sp := range specs {
		u := &unit{idx: i, store: sp.Store, applier: sp.Applier, remote: sp.Remote, members: sp.Members,
			gone: make(chan struct{})}
		u.lo, u.hi = SlotRange(i, len(specs))
		if g, ok := sp.Applier.(*replication.Group); ok {
			u.group = g
			u.applied = make(chan struct{}, 1)
			g.OnApply(notify(u))
		}
		us[i] = u
	}
	table := make([]uint8, NumSlots)
	for _, u := range us {
		for sl := u.lo; sl <= u.hi; sl++ {
			table[sl] = uint8(u.idx)
		}
	}
	return us, table
}

// unitTable is the server's shard groups at one moment: one unit per
// group in slot order, and those held here. A unit's holding never
// changes; when this node takes or drops a replica of a group at run time
// (moves.go), a new unit replaces the old one in a new table. A command
// that took the old unit finishes with it: a dropped group's writes then
// fail like those of a group shut down.
type unitTable struct {
	units []*unit
	local []*unit // the units held here (all but the remote ones)
}

func newUnitTable(us []*unit) *unitTable {
	t := &unitTable{units: us}
	for _, u := range us {
		if !u.remote {
			t.local = append(t.local, u)
		}
	}
	return t
}

// units returns every shard group, in slot order.
func (s *Server) units() []*unit { return s.tab.Load().units }

// local returns the shard groups held here, in slot order.
func (s *Server) local() []*unit { return s.tab.Load().local }

// notifyHook is what a held group's Raft calls after it applies entries.
func (s *Server) notifyHook(u *unit) func() { return u.notifyApplied }

// replicated reports whether the server's writes go through Raft.
func (s *Server) replicated() bool { return s.raft }

// partial reports whether some groups are held by other nodes only.
func (s *Server) partial() bool { return s.dir() != nil }

// sharded reports whether the keyspace is split over several groups.
func (s *Server) sharded() bool { return len(s.units()) > 1 }

// unitOfSlot returns the group that holds slot (0 <= slot < NumSlots).
func (s *Server) unitOfSlot(slot int) *unit {
	us := s.units()
	if len(us) == 1 {
		return us[0]
	}
	return us[s.slotUnit[slot]]
}

// unitOfKey returns the group that holds key.
func (s *Server) unitOfKey(key []byte) *unit {
	us := s.units()
	if len(us) == 1 {
		return us[0]
	}
	return us[s.slotUnit[shard.KeySlot(key)]]
}

// cmdUnit returns the group a command runs in: its first key's, or the
// first group for a command without keys.
func (s *Server) cmdUnit(cmd *command, args [][]byte) *unit {
	us := s.units()
	if len(us) == 1 || cmd == nil || cmd.first <= 0 || cmd.first >= len(args) {
		return us[0]
	}
	if cmd.keyRange != nil {
		u := us[0]
		done := false
		forKeys(cmd, args, func(k []byte) {
			if !done {
				u, done = us[s.slotUnit[shard.KeySlot(k)]], true
			}
		})
		return u
	}
	return us[s.slotUnit[shard.KeySlot(args[cmd.first])]]
}

// storeCounters are the store counters INFO reports, summed over the
// groups.
type storeCounters struct {
	expiredKeys, expiredFields, evictedKeys, hits, misses int64
}

// storeStats sums the groups' store counters.
func (s *Server) storeStats() storeCounters {
	var t storeCounters
	for _, u := range s.local() {
		ss := u.store.Stats()
		t.expiredKeys += ss.ExpiredKeys.Load()
		t.expiredFields += ss.ExpiredFields.Load()
		t.evictedKeys += ss.EvictedKeys.Load()
		t.hits += ss.Hits.Load()
		t.misses += ss.Misses.Load()
	}
	return t
}

// keyCounts sums the groups' keys and keys with a deadline (it locks
// every stripe of every store in turn).
func (s *Server) keyCounts() (keys, volatile int) {
	for _, u := range s.local() {
		k, v := u.store.Len()
		keys += k
		volatile += v
	}
	return keys, volatile
}

// ledUnits returns the groups this node leads (every group on a
// standalone server).
func (s *Server) ledUnits() []*unit {
	var out []*unit
	for _, u := range s.local() {
		if u.group == nil || u.group.IsLeader() {
			out = append(out, u)
		}
	}
	return out
}

// selfID returns this node's Raft ID ("" on a standalone server).
func (s *Server) selfID() string { return s.nodeIDSelf }

// digest is DEBUG DIGEST's answer: the store's digest with one group; with
// several, a SHA-1 over the digests of the groups held here in slot order
// (equal on two nodes holding the same groups exactly when every group's
// data is).
func (s *Server) digest() string {
	t := s.tab.Load() // one view: a replica may be taken or dropped meanwhile
	if len(t.local) == 0 {
		return strings.Repeat("0", 40) // holds no data, as Redis's empty dataset
	}
	if len(t.units) == 1 {
		return t.units[0].store.Digest()
	}
	h := sha1.New()
	for _, u := range t.local {
		h.Write([]byte(u.store.Digest()))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// eachUnit runs fn once per group of us, with c.u set to it, and returns
// the reply fn wrote for each (its in-flight writes settled), leaving the
// connection's reply buffer as it was. Commands that span groups (the
// fan-out ones, membership changes) are made of such runs.
func (c *client) eachUnit(us []*unit, fn func()) [][]byte {
	c.settle()
	saved := c.u
	mark := len(c.w.b)
	out := make([][]byte, len(us))
	for i, u := range us {
		c.u = u
		fn()
		c.settle()
		out[i] = append([]byte(nil), c.w.b[mark:]...)
		c.w.b = c.w.b[:mark]
	}
	c.u = saved
	return out
}

// firstErrorOrOK writes the first error among replies, else +OK.
func (w *replyWriter) firstErrorOrOK(replies [][]byte) {
	for _, r := range replies {
		if len(r) > 0 && r[0] == '-' {
			w.b = append(w.b, r...)
			return
		}
	}
	w.ok()
}

// groupArgs is a sessiond-internal command for the current group (c.u):
// name, args, then the group's index when the node has several.
func (c *client) groupArgs(name string, args ...string) [][]byte {
	out := [][]byte{[]byte(name)}
	for _, a := range args {
		out = append(out, []byte(a))
	}
	if c.s.sharded() || c.s.partial() {
		out = append(out, []byte(strconv.Itoa(c.u.idx)))
	}
	return out
}

// groupArg sets c.u from the optional shard group index at args[i] of a
// sessiond-internal command (see groupArgs); it answers an error and
// returns false when the index is malformed or unknown here.
func (c *client) groupArg(args [][]byte, i int) bool {
	if !c.groupArgAny(args, i) {
		return false
	}
	if c.u.remote {
		c.w.errorText("ERR sessiond: shard group " + strconv.Itoa(c.u.idx) + " is not held by this node")
		return false
	}
	return true
}

// groupArgAny is groupArg for commands that a node holding no replica of
// the group forwards to its leader.
func (c *client) groupArgAny(args [][]byte, i int) bool {
	us := c.s.units()
	c.u = us[0]
	n := int64(0)
	if len(args) > i+1 {
		c.w.errorText("ERR wrong number of arguments for '" + strings.ToLower(string(args[0])) + "' command")
		return false
	}
	if len(args) > i {
		var ok bool
		n, ok = shard.ParseInt(args[i])
		if !ok || n < 0 || n >= int64(len(us)) {
			c.w.errorText("ERR sessiond: unknown shard group '" + string(args[i]) + "' (this node has " + strconv.Itoa(len(us)) + ")")
			return false
		}
	}
	c.u = us[n]
	return true
}
