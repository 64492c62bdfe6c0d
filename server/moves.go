package server

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sessiond/replication"
	"sessiond/shard"
)

// Replica moves. With --replicas below the number of nodes, which node
// holds which shard group is decided by the groups' Raft configurations,
// not by a fixed formula: the placement (placement.go) only seeds them
// when the cluster starts. A node takes a replica of a group when the
// group's leader lists it as a new non-voter, and drops its replica once
// the leader's configuration no longer lists it. Adding or removing a node
// moves replicas one at a time, each by Raft's own membership changes on
// the group's leader: add the new holder as a non-voter, promote it once
// it has caught up (admit), then remove the old holder. A group never has
// fewer voters than before during a move.
//
// Every node reconciles what it holds with what the groups' leaders
// report through the directory (directory.go), once per poll:
//
//   - a group held elsewhere whose leader lists this node as a non-voter
//     (or as a voter, when this node still has the group's log on disk)
//     is opened here, empty, and catches up from the leader; it replaces
//     the remote unit once this node is a voter and has applied what it
//     knows to be committed, so commands keep being forwarded meanwhile;
//   - a group held here whose leader reports a configuration without this
//     node is closed and its data deleted: at once when the node that
//     removed it says so (SESSIOND-DROP, sent once the removal is
//     committed), else after the leader has reported so for dropGrace.
//
// The leader's latest configuration may not be committed yet, so a
// replica is never dropped on one report alone: either its remover
// confirms the removal committed, or the same leader in the same term
// keeps reporting it for dropGrace (a leader that keeps its quorum that
// long has committed it; one that loses it steps down and the term
// changes).

// dropGrace is how long a leader must keep reporting a configuration
// without this node before the node drops its replica unasked.
const dropGrace = 5 * time.Second

// dropAskedFor is how long a SESSIOND-DROP request outlives reports that
// still list this node: a poll running while the removal committed may
// bring a report from before it.
const dropAskedFor = dirStale + dirTimeout

// groupHost opens and closes this node's replicas of shard groups at run
// time; Node provides it (node.go).
type groupHost interface {
	// open opens shard group i over store as a member that waits to be
	// added (it does not bootstrap), with whatever log the group's
	// directory still holds.
	open(i int, store *shard.Store) (*replication.Group, error)
	// hasLog reports whether group i's directory holds a log.
	hasLog(i int) bool
	// discard closes g (group i) and deletes its data.
	discard(i int, g *replication.Group) error
	// saveHeld records the groups this node holds, for its next start.
	saveHeld(held []int) error
	// mark records a fact about this node for its next start: "joined"
	// (a node that joined took its replicas), "retired" (its replicas
	// were moved away).
	mark(name string) error
	// saveLeft records the nodes removed by SESSIOND-LEAVE (left.go).
	saveLeft(left map[string]int64) error
}

// moves is the state of the replica moves this node takes part in.
type moves struct {
	mu      sync.Mutex // serialises changes of the unit table
	pending map[int]*unit
	// excluded: since when the leader (and term) reported a group held
	// here without this node.
	excluded map[int]exclusion
	// dropAsked: groups the node that removed this one said to drop,
	// and when (a report fetched before may still list this node).
	dropAsked map[int]time.Time
	joined    atomic.Bool // a joining node finished its moves (or has none)
	retired   atomic.Bool // this node's replicas were moved away (drainNode)
	// replaced: this node dropped a replica unasked (it was replaced
	// while unreachable); it takes its share back (replace.go).
	replaced    atomic.Bool
	rebalancing atomic.Bool // takeShare runs for it
	// On a group's leader: a move it decided on by itself runs
	// (autoMove: a failed node's replacement or a zone spreading);
	// noTarget has a bit set for each group found with a failed node
	// but no node to take its replica, so that it is logged once.
	replacing atomic.Bool
	noTarget  atomic.Uint64

	// left: the nodes removed by SESSIOND-LEAVE, each with when (Unix
	// ns); inc: when this node's dir was first used (left.go).
	leftMu sync.Mutex
	left   map[string]int64
	inc    int64

	// On a group's leader: the moves it runs (SESSIOND-MOVE), one at a
	// time (a token in leaderTok, lockLeader), and since when each
	// non-voter it added is catching up.
	leaderTok chan struct{}
	adding    map[string]time.Time // "group/node" -> when the move added it
}

// moveLockWait bounds how long a SESSIOND-MOVE waits for the one running
// before it (which is itself bounded: admit's catch-up, Raft's answers)
// before it answers TRYAGAIN; its coordinator asks again. It is shorter
// than internalCallTimeout, so that a move is not run after its
// coordinator gave up on it.
const moveLockWait = 8 * time.Second

// lockLeader takes the moves lock of a group's leader, waiting at most
// moveLockWait and not past the server's shutdown; it returns the error
// to answer when it could not. unlockLeader gives it back.
func (s *Server) lockLeader() error {
	select {
	case s.mv.leaderTok <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(moveLockWait)
	defer t.Stop()
	select {
	case s.mv.leaderTok <- struct{}{}:
		return nil
	case <-s.ctx.Done():
		return replication.ErrClosed
	case <-t.C:
		return errMoveBusy
	}
}

// tryLockLeader takes the moves lock only if it is free.
func (s *Server) tryLockLeader() bool {
	select {
	case s.mv.leaderTok <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s *Server) unlockLeader() { <-s.mv.leaderTok }

type exclusion struct {
	leader string
	term   uint64
	since  time.Time
}

// setHost lets the server take and drop replicas at run time, in a
// cluster of replicas replicas per group.
func (s *Server) setHost(h groupHost, replicas int) {
	s.host = h
	s.replicasWanted = replicas
	s.mv.pending = map[int]*unit{}
	s.mv.excluded = map[int]exclusion{}
	s.mv.dropAsked = map[int]time.Time{}
	s.mv.adding = map[string]time.Time{}
}

// newHeldUnit makes a unit for group i held here over store and g, wired
// like the units New makes: its events, its scripts and its applied hook.
// Its events stay silent until it is live (it replaces the remote unit):
// the log it replays while catching up was delivered long ago.
func (s *Server) newHeldUnit(i int, store *shard.Store, g *replication.Group) *unit {
	old := s.units()[i]
	nu := &unit{idx: i, lo: old.lo, hi: old.hi, store: store, applier: g, group: g,
		applied: make(chan struct{}, 1), gone: make(chan struct{})}
	nu.muted.Store(true)
	nu.members = old.members
	h := s.ps
	store.SetEventSink(func(e shard.Event) {
		if !nu.muted.Load() {
			s.storeEvent(h, nu, e)
		}
	})
	store.SetScripts(&scriptRunner{s: s, u: nu, eng: s.scriptEng})
	store.EnableEvents(s.eventsOn())
	g.OnApply(s.notifyHook(nu))
	return nu
}

// swapUnit puts nu in the table in place of the unit of its group and
// retires the old one. Callers hold s.mv.mu.
func (s *Server) swapUnit(nu *unit) *unit {
	t := s.tab.Load()
	us := slices.Clone(t.units)
	old := us[nu.idx]
	us[nu.idx] = nu
	s.tab.Store(newUnitTable(us))
	old.retire()
	return old
}

// heldIdx returns the indexes of the groups held here.
func (s *Server) heldIdx() []int {
	var out []int
	for _, u := range s.local() {
		out = append(out, u.idx)
	}
	return out
}

// reconcile is one pass of the moves described above; the directory runs
// it after each poll of its peers.
func (s *Server) reconcile(d *directory) {
	if s.host == nil || s.ctx.Err() != nil {
		return
	}
	self := s.selfID()
	for _, u := range s.units() {
		rg := d.group(u.idx)
		m, listed := rg.member(self)
		switch {
		case u.remote:
			s.mv.mu.Lock()
			p := s.mv.pending[u.idx]
			s.mv.mu.Unlock()
			if p != nil {
				s.advancePending(p, rg, listed)
				continue
			}
			if !listed || rg.config == nil {
				continue
			}
			if m.Voter && !s.host.hasLog(u.idx) {
				s.log.Error("moves: a leader lists this node as a voter of a group it holds no data of; remove it from the group (SESSIOND-LEAVE) and add it again",
					"group", u.idx, "leader", rg.configFrom)
				continue
			}
			s.startPending(u.idx)
		default:
			s.checkDrop(u, rg, listed)
		}
	}
}

// startPending opens group i here to catch up before it serves.
func (s *Server) startPending(i int) {
	st := shard.New(shard.Config{Clock: s.clock})
	g, err := s.host.open(i, st)
	if err != nil {
		s.log.Warn("moves: opening a replica failed", "group", i, "err", err)
		return
	}
	nu := s.newHeldUnit(i, st, g)
	s.mv.mu.Lock()
	s.mv.pending[i] = nu
	s.mv.mu.Unlock()
	s.wg.Add(1) // the directory's poll goroutine is counted: Close still waits
	go s.runFollowerLink(nu)
	s.log.Info("moves: taking a replica", "group", i)
}

// advancePending makes a caught-up replica serve, or gives it up when its
// group's leader stopped listing this node.
func (s *Server) advancePending(p *unit, rg remoteGroup, listed bool) {
	g := p.group
	if !listed && rg.config != nil {
		// As for a replica that serves (checkDrop): only once the same
		// leader has left it out for dropGrace.
		if s.excludedFor(p.idx, rg) >= dropGrace {
			s.abandonPending(p, "the leader no longer lists this node")
		}
		return
	}
	s.mv.mu.Lock()
	delete(s.mv.excluded, p.idx)
	s.mv.mu.Unlock()
	self := false
	for _, m := range g.Members() {
		self = self || m.ID == g.NodeID()
	}
	// A replica serves once it is a voter that has caught up with what
	// it knows to be committed, or at once if it was elected: a leader
	// holds every committed entry (and answers only once it has applied
	// them, Ready).
	st := g.Status()
	if !self || !g.IsLeader() && (st.LeaderID == "" || !g.CaughtUp()) {
		return
	}
	s.mv.mu.Lock()
	if s.mv.pending[p.idx] != p {
		s.mv.mu.Unlock()
		return
	}
	delete(s.mv.pending, p.idx)
	s.swapUnit(p)
	p.store.EnableEvents(s.eventsOn())
	p.muted.Store(false)
	err := s.host.saveHeld(s.heldIdx())
	s.mv.mu.Unlock()
	if err != nil {
		s.log.Error("moves: recording the groups held failed", "err", err)
	}
	s.log.Info("moves: replica caught up and serving", "group", p.idx, "applied", st.AppliedIndex)
}

// abandonPending closes a replica that never served.
func (s *Server) abandonPending(p *unit, why string) {
	s.mv.mu.Lock()
	if s.mv.pending[p.idx] != p {
		s.mv.mu.Unlock()
		return
	}
	delete(s.mv.pending, p.idx)
	s.mv.mu.Unlock()
	p.retire()
	if err := s.host.discard(p.idx, p.group); err != nil {
		s.log.Warn("moves: discarding a replica failed", "group", p.idx, "err", err)
	}
	s.log.Info("moves: gave up a replica", "group", p.idx, "why", why)
}

// checkDrop drops group u, held here, once its leader's configuration
// leaves this node out for sure (see above).
func (s *Server) checkDrop(u *unit, rg remoteGroup, listed bool) {
	g := u.group
	if listed || rg.config == nil || g.IsLeader() || rg.configTerm < g.Status().Term {
		s.mv.mu.Lock()
		delete(s.mv.excluded, u.idx)
		if at, ok := s.mv.dropAsked[u.idx]; listed && ok && time.Since(at) > dropAskedFor {
			// Listed well after the request: this node was added back.
			delete(s.mv.dropAsked, u.idx)
		}
		s.mv.mu.Unlock()
		return
	}
	excluded := s.excludedFor(u.idx, rg)
	s.mv.mu.Lock()
	_, asked := s.mv.dropAsked[u.idx]
	s.mv.mu.Unlock()
	if !asked && excluded < dropGrace {
		return
	}
	if !asked && !s.mv.retired.Load() {
		s.mv.replaced.Store(true)
	}
	s.dropUnit(u)
}

// excludedFor returns how long the leader and term of rg have reported
// group idx without this node (0 on the first such report).
func (s *Server) excludedFor(idx int, rg remoteGroup) time.Duration {
	now := time.Now()
	s.mv.mu.Lock()
	defer s.mv.mu.Unlock()
	ex, ok := s.mv.excluded[idx]
	if !ok || ex.leader != rg.configFrom || ex.term != rg.configTerm {
		ex = exclusion{leader: rg.configFrom, term: rg.configTerm, since: now}
		s.mv.excluded[idx] = ex
	}
	return now.Sub(ex.since)
}

// dropUnit closes this node's replica of u's group and deletes its data;
// the group's commands are forwarded from then on.
func (s *Server) dropUnit(u *unit) {
	s.mv.mu.Lock()
	if s.units()[u.idx] != u {
		s.mv.mu.Unlock()
		return
	}
	ru := &unit{idx: u.idx, lo: u.lo, hi: u.hi, remote: true, members: u.members, gone: make(chan struct{})}
	s.swapUnit(ru)
	delete(s.mv.excluded, u.idx)
	delete(s.mv.dropAsked, u.idx)
	err := s.host.saveHeld(s.heldIdx())
	s.mv.mu.Unlock()
	if err != nil {
		s.log.Error("moves: recording the groups held failed", "err", err)
	}
	if err := s.host.discard(u.idx, u.group); err != nil {
		s.log.Warn("moves: discarding a replica failed", "group", u.idx, "err", err)
	}
	s.log.Info("moves: dropped a replica", "group", u.idx)
}

// pendingGroups returns the groups of the replicas still catching up.
func (s *Server) pendingGroups() []*replication.Group {
	s.mv.mu.Lock()
	defer s.mv.mu.Unlock()
	var out []*replication.Group
	for _, p := range s.mv.pending {
		out = append(out, p.group)
	}
	return out
}

// HeldGroups returns the Raft groups this node holds now, those still
// catching up included (Node.Shutdown closes them).
func (s *Server) HeldGroups() []*replication.Group {
	var out []*replication.Group
	for _, u := range s.local() {
		if u.group != nil {
			out = append(out, u.group)
		}
	}
	return append(out, s.pendingGroups()...)
}

// cmdSessiondDrop is SESSIOND-DROP group: the node that removed this one
// from the group (and saw the removal committed) says so, and this node
// drops its replica as soon as the group's leader reports it left out.
func cmdSessiondDrop(c *client, args [][]byte) {
	n, ok := shard.ParseInt(args[1])
	if !ok || n < 0 || n >= int64(len(c.s.units())) {
		c.w.errorText("ERR sessiond: unknown shard group '" + string(args[1]) + "'")
		return
	}
	d := c.s.dir()
	if d == nil || c.s.host == nil {
		c.w.errorText("ERR sessiond: replicas move only where groups are held by some nodes (--replicas)")
		return
	}
	// Only for a replica that serves here: a request about a group held
	// elsewhere, or still catching up, would outlive its reason.
	if u := c.s.units()[n]; !u.remote {
		c.s.mv.mu.Lock()
		c.s.mv.dropAsked[int(n)] = time.Now()
		c.s.mv.mu.Unlock()
		d.kick()
	}
	c.w.ok()
}

// cmdSessiondRetire is SESSIOND-RETIRE: the node that moved this node's
// replicas away says so; this node takes no new ones (drainNode and a
// joining node's plan pass it over), also after a restart.
func cmdSessiondRetire(c *client, args [][]byte) {
	if c.s.dir() == nil || c.s.host == nil {
		c.w.errorText("ERR sessiond: replicas move only where groups are held by some nodes (--replicas)")
		return
	}
	if err := c.s.host.mark("retired"); err != nil {
		c.w.err(err)
		return
	}
	c.s.mv.retired.Store(true)
	c.w.ok()
}

// errNoMoveTarget: no node can take a replica.
var errNoMoveTarget = errors.New("no node without a replica of the group is up")

// moveTimeout bounds one replica move.
const moveTimeout = 2 * time.Minute

// moveReplica moves group idx's replica from node from to node to (either
// may be empty: only add, only remove) by asking, through node via, the
// group's leader to run the move (SESSIOND-MOVE), again while the new
// replica catches up; then it tells from to drop its replica. It reports
// whether the move was done here, rather than found done (or moot)
// already: another coordinator moved that replica first.
func (s *Server) moveReplica(via string, idx int, to, toRaft, toClient, from, fromClient string) (bool, error) {
	return s.moveReplicaVia([]string{via}, idx, to, toRaft, toClient, from, fromClient)
}

// moveReplicaVia is moveReplica asking through any of vias (client
// addresses of nodes, any of which forwards to the group's leader): the
// next one after a failure, so that one node down does not stall it.
func (s *Server) moveReplicaVia(vias []string, idx int, to, toRaft, toClient, from, fromClient string) (bool, error) {
	deadline := time.Now().Add(moveTimeout)
	group := fmt.Sprint(idx)
	var reply string
	var logged time.Time
	for i := 0; ; i++ {
		var err error
		via := vias[i%len(vias)]
		reply, err = s.internalCall(via, "SESSIOND-MOVE", group, to, toRaft, toClient, from)
		if err == nil {
			break
		}
		if time.Now().After(deadline) || s.ctx.Err() != nil {
			return false, fmt.Errorf("moving group %d from %q to %q: %w", idx, from, to, err)
		}
		if time.Since(logged) > 5*time.Second {
			logged = time.Now()
			s.log.Info("moves: moving a replica: not yet; retrying", "group", idx, "from", from, "to", to, "via", via, "err", err)
		}
		if d := s.dir(); d != nil {
			d.kick()
		}
		select {
		case <-s.ctx.Done():
			return false, replication.ErrClosed
		case <-time.After(joinRetry):
		}
	}
	if reply != "OK" {
		return false, nil
	}
	s.tellDrop(idx, from, fromClient)
	return true, nil
}

// tellDrop tells node from, at client address fromClient ("": down),
// that a committed move removed its replica of group idx, so that it
// drops it at once (SESSIOND-DROP); failing that, it drops it itself after
// dropGrace.
func (s *Server) tellDrop(idx int, from, fromClient string) {
	if fromClient == "" {
		return
	}
	if _, err := s.internalCall(fromClient, "SESSIOND-DROP", strconv.Itoa(idx)); err != nil {
		s.log.Info("moves: telling the old holder to drop failed", "group", idx, "node", from, "err", err)
	}
}

// moveAlready is SESSIOND-MOVE's answer when the replica to replace is
// gone already.
const moveAlready = "ALREADY"

// errMoveBusy: the group's leader is adding another replica.
var errMoveBusy = errors.New("TRYAGAIN sessiond: another replica of this group is being added; ask again")

// cmdSessiondMove is SESSIOND-MOVE group to to-raft to-client from: on the
// group's leader (others forward it), add node to (unless empty) as a
// non-voter, promote it once it has caught up, then remove node from
// (unless empty). A group never has fewer voters than before. The leader
// runs one move at a time and refuses (TRYAGAIN) while another node is
// catching up to be added, so two coordinators cannot both replace one
// replica; a move that finds from gone already answers ALREADY (and
// takes back a half-added to, unless the group is short of replicas).
func cmdSessiondMove(c *client, args [][]byte) {
	if !c.groupArgAny(args[:2], 1) {
		return
	}
	if c.s.dir() == nil {
		c.w.errorText("ERR sessiond: replicas move only where groups are held by some nodes (--replicas)")
		return
	}
	u := c.u
	to, toRaft, toClient, from := string(args[2]), string(args[3]), string(args[4]), string(args[5])
	if to == "" && from == "" {
		c.w.errorText("ERR sessiond: a move needs a node to add or one to remove")
		return
	}
	if to != "" {
		for _, a := range []string{toRaft, toClient} {
			if _, _, err := net.SplitHostPort(a); err != nil {
				c.w.errorText("ERR invalid address '" + a + "'")
				return
			}
		}
	}
	c.onLeaderReply(args, func() (string, error) {
		already, err := c.s.moveOnLeader(u, to, toRaft, toClient, from)
		if already {
			return moveAlready, err
		}
		return "OK", err
	})
}

// addingStale is how long a non-voter a move added may keep other moves
// of its group waiting (its coordinator may have died).
const addingStale = 30 * time.Second

// silent reports whether non-voter id, added at since, has gone quiet:
// added over 10 s ago and no acknowledgement on its follower link for 5
// s (its process died while catching up).
func (s *Server) silent(u *unit, id string, since time.Time) bool {
	if time.Since(since) < 10*time.Second {
		return false
	}
	for _, r := range s.replicas(u) {
		if r.id == id && time.Now().UnixMilli()-r.lastAck < 5000 {
			return false
		}
	}
	return true
}

// moveOnLeader is SESSIOND-MOVE on the group's leader; it reports whether
// the move was found done or moot already (ALREADY). It keeps the group
// at R voters whatever coordinators ask, in whatever order:
//
//   - from gone: nothing to replace (a half-added to is taken back),
//     unless the group is short of voters, where to is still added;
//   - from still there but R other voters already (another coordinator
//     replaced it, or to holds the group already): from is removed, to
//     not added;
//   - to a voter already and from needed for R: nothing is removed;
//   - otherwise to is added (non-voter, caught up, voter), then from
//     removed.
func (s *Server) moveOnLeader(u *unit, to, toRaft, toClient, from string) (bool, error) {
	if err := s.lockLeader(); err != nil {
		return false, err
	}
	defer s.unlockLeader()
	g := u.group
	if !g.IsLeader() {
		return false, replication.ErrNotLeader
	}
	servers := g.Servers()
	member := func(id string) (replication.Member, bool) {
		for _, m := range servers {
			if id != "" && m.ID == id {
				return m, true
			}
		}
		return replication.Member{}, false
	}
	voters := 0
	for _, m := range servers {
		if m.Voter {
			voters++
		}
	}
	want := max(s.replicasWanted, 1)
	toM, toIn := member(to)
	toVoter := toIn && toM.Voter
	fromM, fromIn := member(from)
	if from != "" && !fromIn {
		if toIn && !toVoter && voters >= want {
			return true, g.RemoveServer(to)
		}
		if to == "" || toVoter || voters >= want {
			return true, nil
		}
		// Short of replicas: add to all the same (below).
	}
	others := voters // the voters that stay when from goes
	if fromIn && fromM.Voter {
		others--
	}
	if fromIn && others >= want {
		// R voters without from: only from has to go.
		if to != "" && toIn && !toVoter {
			if err := g.RemoveServer(to); err != nil {
				return false, err
			}
		}
		return to != "" && !toVoter, g.RemoveServer(from)
	}
	if toVoter {
		return true, nil // to holds it already, and from is needed for R
	}
	if to == "" {
		if voters <= 1 {
			return false, fmt.Errorf("ERR sessiond: %s holds the group's only replica", from)
		}
		return false, g.RemoveServer(from)
	}
	for _, m := range servers {
		if m.Voter || m.ID == to {
			continue
		}
		key := fmt.Sprintf("%d/%s", u.idx, m.ID)
		if at, ok := s.mv.adding[key]; ok && time.Since(at) < addingStale && !s.silent(u, m.ID, at) {
			return false, errMoveBusy
		}
		// A non-voter no recent move of this leader is adding (its
		// coordinator gave up, or an earlier leader added it): take it
		// back.
		if err := g.RemoveServer(m.ID); err != nil {
			return false, err
		}
		delete(s.mv.adding, key)
	}
	key := fmt.Sprintf("%d/%s", u.idx, to)
	if _, ok := s.mv.adding[key]; !ok {
		s.mv.adding[key] = time.Now()
	}
	if err := s.admit(u, to, toRaft, toClient); err != nil {
		return false, err
	}
	delete(s.mv.adding, key)
	if !fromIn {
		return false, nil
	}
	return false, g.RemoveServer(from)
}

// layoutReply is SESSIOND-LAYOUT's answer (as JSON): what a node joining
// the cluster needs to take its share of replicas.
type layoutReply struct {
	Shards int `json:"shards"`
	// Replicas per group; 0 where every node holds every group (a
	// joining node then joins every group, membership.go).
	Replicas int          `json:"replicas"`
	Nodes    []layoutNode `json:"nodes,omitempty"`
	// Groups are the voters of each group, as this node knows them.
	Groups [][]string `json:"groups,omitempty"`
}

// layoutNode is one node of a layout.
type layoutNode struct {
	ID      string `json:"id"`
	Raft    string `json:"raft"`
	Client  string `json:"client"`
	Alive   bool   `json:"alive"`
	Retired bool   `json:"retired,omitempty"` // takes no replicas (SESSIOND-RETIRE)
	Zone    string `json:"zone,omitempty"`    // failure domain (zones.go)
}

// node returns the layout's node id.
func (l *layoutReply) node(id string) (layoutNode, bool) {
	for _, n := range l.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return layoutNode{}, false
}

// counts returns how many groups each node of the layout holds.
func (l *layoutReply) counts() map[string]int {
	out := map[string]int{}
	for _, n := range l.Nodes {
		out[n.ID] = 0
	}
	for _, vs := range l.Groups {
		for _, v := range vs {
			out[v]++
		}
	}
	return out
}

// layout is this node's view of the cluster's layout.
func (s *Server) layout() *layoutReply {
	l := &layoutReply{Shards: len(s.units())}
	d := s.dir()
	if d == nil {
		return l
	}
	l.Replicas = s.replicasWanted
	l.Nodes = append(l.Nodes, layoutNode{ID: d.self, Raft: d.stream.Addr().String(), Client: d.client, Alive: true,
		Retired: s.mv.retired.Load(), Zone: s.config().Zone})
	peers := d.peerList()
	ids := make([]string, 0, len(peers))
	for id := range peers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		client, _ := d.clientAddr(id)
		l.Nodes = append(l.Nodes, layoutNode{ID: id, Raft: peers[id], Client: client, Alive: d.alive(id), Retired: d.retired(id),
			Zone: d.zone(id)})
	}
	for _, u := range s.units() {
		l.Groups = append(l.Groups, s.holders(u))
	}
	return l
}

// cmdSessiondLayout is SESSIOND-LAYOUT: the cluster's layout as this node
// sees it, as JSON (layoutReply).
func cmdSessiondLayout(c *client, args [][]byte) {
	b, err := json.Marshal(c.s.layout())
	if err != nil {
		c.w.err(err)
		return
	}
	c.w.bulkBytes(b)
}

// drain moves every replica node name holds to other nodes, then answers
// OK: SESSIOND-LEAVE and CLUSTER FORGET where groups are held by some
// nodes only.
func (c *client) drain(name string) {
	id, ok := c.s.nodeID(name)
	if !ok {
		c.w.errorText("ERR Unknown node " + name)
		return
	}
	c.settle()
	if err := c.s.drainNode(id); err != nil {
		c.w.errorText("ERR sessiond: removing node " + id + ": " + err.Error())
		return
	}
	c.w.ok()
}

// drainNode moves each replica node id holds to the running node, not
// retired and without a replica of that group, that holds the fewest
// groups; a group no such node can take just loses the replica (it keeps
// its others). It then tells node id it is retired. It re-reads the
// layout after each move, so that coordinators running at once (one
// CLUSTER FORGET per node) share the work.
func (s *Server) drainNode(id string) error {
	d := s.dir()
	deadline := time.Now().Add(moveTimeout * time.Duration(len(s.units())))
	s.markLeft(id) // also for a node that is down, and hears it later
	idClient := ""
	if n, ok := s.layout().node(id); ok && n.Client != "" {
		// Retired first, so that no coordinator picks it as a target
		// meanwhile (a node that is down is not picked anyway).
		idClient = n.Client
		if _, err := s.internalCall(idClient, "SESSIOND-RETIRE"); err != nil {
			s.log.Info("moves: telling a leaving node it is retired failed", "node", id, "err", err)
		}
	}
	for {
		l := s.layout()
		if n, ok := l.node(id); ok && n.Client != "" {
			idClient = n.Client
		}
		idx := -1
		for g, voters := range l.Groups {
			if slices.Contains(voters, id) {
				idx = g
				break
			}
		}
		if idx < 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("group %d still lists %s", idx, id)
		}
		voters := l.Groups[idx]
		to, down := l.moveTarget(idx, voters, id)
		if to.ID == "" && len(voters) == 1 {
			return fmt.Errorf("group %d: %w, and %s holds its only replica", idx, errNoMoveTarget, id)
		}
		if to.ID == "" && down {
			// Wait for it rather than leave the group a replica short.
			select {
			case <-s.ctx.Done():
				return replication.ErrClosed
			case <-time.After(joinRetry):
			}
			continue
		}
		done, err := s.moveReplica(d.client, idx, to.ID, to.Raft, to.Client, id, idClient)
		if err != nil {
			return err
		}
		if done {
			s.log.Info("moves: moved a replica off a leaving node", "group", idx, "from", id, "to", to.ID)
		}
		s.waitDirectory(d, idx, id)
	}
	return nil
}

// moveTarget returns the node to take group g's replica, held by voters,
// from node id: the running node, not retired and not among voters, in a
// zone none of the other voters is in if there is one (zones.go), that
// holds the fewest groups (ties: the first listed from position g on,
// so that leaders replacing one node's replicas at once spread them).
// down reports whether a node that could take it is down for now; to.ID
// is "" when none is up.
func (l *layoutReply) moveTarget(g int, voters []string, id string) (to layoutNode, down bool) {
	counts := l.counts()
	zone := l.zones()
	held := map[string]bool{}
	for _, v := range voters {
		held[v] = true
	}
	// A node in a zone the remaining voters are not in comes first,
	// unless one of them has no zone known (a voter down since this node
	// started may be in any zone).
	unknown := slices.ContainsFunc(voters, func(v string) bool { return v != id && zone[v] == "" })
	newZone := func(n layoutNode) bool { return !unknown && !zoneHeld(held, zone, n.Zone, id) }
	for i := range l.Nodes {
		n := l.Nodes[(g+i)%len(l.Nodes)]
		if n.ID == id || n.Retired || held[n.ID] {
			continue
		}
		if !n.Alive || n.Client == "" {
			down = true
			continue
		}
		if to.ID == "" || newZone(n) && !newZone(to) || newZone(n) == newZone(to) && counts[n.ID] < counts[to.ID] {
			to = n
		}
	}
	return to, down
}

// waitDirectory waits, up to a few polls, until the directory no longer
// lists node id among group idx's voters.
func (s *Server) waitDirectory(d *directory, idx int, id string) {
	deadline := time.Now().Add(3 * dirInterval)
	for time.Now().Before(deadline) && s.ctx.Err() == nil {
		if !slices.Contains(s.holders(s.units()[idx]), id) {
			return
		}
		d.kick()
		select {
		case <-s.ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// planJoin returns the moves that give node self, new in layout l, its
// share of the replicas: first a replica of each group short of
// replicas (one left with fewer when a node was removed and no other
// could take its replica), added without removing any; then, up to about
// shards·replicas/nodes groups, each taken from the node that then holds
// the most (ties: the lowest ID), lowest group first, among the groups
// self's zone leaves as spread over zones (zones.go): none that would
// hold two replicas in one zone more than before.
func planJoin(l *layoutReply, self string) []move {
	// The nodes that hold a group, and self: a node that left or holds
	// nothing takes no share.
	counts := map[string]int{self: 0}
	for _, vs := range l.Groups {
		for _, v := range vs {
			counts[v]++
		}
	}
	held := make([]map[string]bool, len(l.Groups))
	for i, vs := range l.Groups {
		held[i] = map[string]bool{}
		for _, v := range vs {
			held[i][v] = true
		}
	}
	target := l.Shards * l.Replicas / len(counts)
	var out []move
	for g, vs := range l.Groups {
		if len(vs) > 0 && len(vs) < l.Replicas && !held[g][self] {
			out = append(out, move{group: g}) // from "": added, nothing removed
			held[g][self] = true
			counts[self]++
		}
	}
	zone := l.zones()
	for counts[self] < target {
		// From the node holding the most (ties: the lowest ID), and at
		// least two more than self (so every move evens the counts, and
		// a chain of them ends), its first group that self's zone leaves
		// as spread.
		ids := make([]string, 0, len(counts))
		for id := range counts {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b string) int {
			if c := cmp.Compare(counts[b], counts[a]); c != 0 {
				return c
			}
			return strings.Compare(a, b)
		})
		var best move
		found := false
		for _, id := range ids {
			if id == self || counts[id] < counts[self]+2 {
				continue // a move would not make the counts more even
			}
			for g := range held {
				if held[g][id] && !held[g][self] &&
					(zone[self] == zone[id] || !zoneHeld(held[g], zone, zone[self], id)) {
					best, found = move{group: g, from: id}, true
					break
				}
			}
			if found {
				break
			}
		}
		if !found {
			break // balanced, or every move left would put two replicas of a group in one zone
		}
		out = append(out, best)
		held[best.group][self], held[best.group][best.from] = true, false
		counts[self]++
		counts[best.from]--
	}
	return out
}

// zoneHeld reports whether a node of holders other than except is in
// zone z.
func zoneHeld(holders map[string]bool, zone map[string]string, z, except string) bool {
	for id, ok := range holders {
		if ok && id != except && zone[id] == z {
			return true
		}
	}
	return false
}

// move is one replica to take: group's replica on node from ("": a
// replica added to a group short of them).
type move struct {
	group int
	from  string
}

// runJoinPartial takes this new node's share of replicas (planJoin),
// asking through the nodes at addrs, then records that it joined.
func (s *Server) runJoinPartial(addrs []string) {
	defer s.wg.Done()
	s.takeShare(addrs, true)
}

// takeShare takes this node's share of replicas (planJoin), asking
// through the nodes at addrs (then any node it knows), until it has it or
// the node is retired or closes. join: the node is joining, and records
// that it joined once done.
func (s *Server) takeShare(addrs []string, join bool) {
	d := s.dir()
	self := s.selfID()
	for i := 0; s.ctx.Err() == nil; i++ {
		if s.mv.retired.Load() {
			s.log.Info("moves: this node was retired (SESSIOND-LEAVE); it takes no more replicas")
			return
		}
		via := addrs[i%len(addrs)]
		if i >= len(addrs) {
			// The --join nodes may be down: any node this one knows will do.
			if known := s.knownClients(); len(known) > 0 && i%2 == 1 {
				via = known[(i/2)%len(known)]
			}
		}
		l, err := s.fetchLayout(via)
		if err == nil {
			err = s.joinMoves(via, l, self, d)
		}
		if err == nil && !join {
			s.log.Info("moves: this node has its share of replicas again", "node", self)
			return
		}
		if err == nil {
			if err := s.host.mark("joined"); err != nil {
				s.log.Error("join: recording the join failed", "err", err)
			}
			s.mv.joined.Store(true)
			s.log.Info("joined the cluster: took its share of replicas", "node", self)
			return
		}
		s.log.Warn("moves: taking replicas failed; retrying", "via", via, "err", err)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(joinRetry):
		}
	}
}

// errReplan: a planned move was found done by someone else.
var errReplan = errors.New("the layout changed meanwhile; planning again")

// knownClients returns the client addresses of the peers the directory
// has heard from lately.
func (s *Server) knownClients() []string {
	d := s.dir()
	var out []string
	for id := range d.peerList() {
		if addr, ok := d.clientAddr(id); ok && d.alive(id) {
			out = append(out, addr)
		}
	}
	slices.Sort(out)
	return out
}

// joinMoves runs planJoin's moves for self.
func (s *Server) joinMoves(via string, l *layoutReply, self string, d *directory) error {
	vias := []string{via}
	for _, n := range l.Nodes {
		if n.Alive && n.Client != "" && n.Client != via && n.ID != self {
			vias = append(vias, n.Client)
		}
	}
	for _, mv := range planJoin(l.withZone(self, s.config().Zone), self) {
		from, _ := l.node(mv.from)
		done, err := s.moveReplicaVia(vias, mv.group, self, d.stream.Addr().String(), d.client, mv.from, from.Client)
		if err != nil {
			return err
		}
		if !done {
			return errReplan
		}
		s.log.Info("moves: took a replica", "group", mv.group, "from", mv.from)
	}
	return nil
}

// fetchLayout asks the node at addr for the cluster's layout.
func (s *Server) fetchLayout(addr string) (*layoutReply, error) {
	b, err := s.internalCall(addr, "SESSIOND-LAYOUT")
	if err != nil {
		return nil, err
	}
	var l layoutReply
	if err := json.Unmarshal([]byte(b), &l); err != nil {
		return nil, fmt.Errorf("layout: %w", err)
	}
	return &l, nil
}
