package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"sync"
	"time"

	"sessiond/replication"
)

// The directory: where the groups a node does not hold are led. With
// --replicas below the number of nodes, a node forwards the commands of
// such a group, answers -MOVED for its slots in cluster mode and shows it
// in CLUSTER SLOTS, so it must know the group's leader and the client
// addresses of its members. Raft tells that only to a group's members.
//
// Every node answers, on its Raft port (connections naming group
// dirStreamID), with a report of itself: its client address and, for each
// group it holds, the term and leader it knows. Every node asks every
// peer once per dirInterval, and at once when a forward finds the leader
// it was told gone. For each remote group it then believes the report
// with the highest term that names a leader. This is a hint, not a
// consensus: a node told a stale leader forwards there and gets
// TRYAGAIN (a node never forwards a forwarded command), and asks again.

// dirStreamID is the group byte of directory connections on the Raft port
// (group IDs of shard groups are below MaxShards).
const dirStreamID = 255

// dirInterval is how often a node asks its peers.
const dirInterval = time.Second

// dirStale is how old a peer's last report may be before it is ignored
// (the peer is down or cut off).
const dirStale = 4 * dirInterval

// dirTimeout bounds one exchange with a peer.
const dirTimeout = 2 * time.Second

// dirMaxReport bounds the size of a report a node reads.
const dirMaxReport = 1 << 20

// dirReport is what a node tells about itself.
type dirReport struct {
	ID     string          `json:"id"`
	Client string          `json:"client"` // its client (RESP) address
	Groups []dirGroupState `json:"groups"`
	// Peers are the nodes it knows, itself included (ID -> Raft
	// address), so that nodes learn of those that joined later.
	Peers map[string]string `json:"peers,omitempty"`
	// Retired: its replicas were moved away (SESSIOND-LEAVE); it takes
	// no new ones (moves.go).
	Retired bool `json:"retired,omitempty"`
	// Left: the nodes removed by SESSIOND-LEAVE it knows, with when
	// (Unix ns); Inc: when its dir was first used (left.go).
	Left map[string]int64 `json:"left,omitempty"`
	Inc  int64            `json:"inc,omitempty"`
	Zone string           `json:"zone,omitempty"` // its failure domain (zones.go)
}

// dirGroupState is a group as one of its members sees it.
type dirGroupState struct {
	Idx     int    `json:"idx"`
	Term    uint64 `json:"term"`
	Leader  string `json:"leader"` // node ID; "" while none is known
	Applied uint64 `json:"applied"`
	// Members is the group's Raft configuration, reported by its
	// leader only (moves.go).
	Members []dirMember `json:"members,omitempty"`
}

// dirMember is a server of a group's configuration.
type dirMember struct {
	ID    string `json:"id"`
	Raft  string `json:"raft"`
	Voter bool   `json:"voter"`
}

// dirPeer is the last report of a peer and when it came.
type dirPeer struct {
	report dirReport
	at     time.Time
}

// directory is one node's view of the other nodes (see above).
type directory struct {
	s      *Server
	stream *replication.StreamLayer
	self   string
	client string // this node's client address

	started time.Time // when this node began asking its peers

	mu      sync.Mutex
	peers   map[string]string    // node ID -> Raft address, this node excluded
	known   map[string]time.Time // node ID -> since when it is in peers
	reports map[string]dirPeer
	kicked  chan struct{}

	relayMu sync.Mutex
	relays  map[string]*relay // node ID -> its relay (pubsub_relay.go)
}

// dir returns the server's directory, or nil when it holds every group.
// It is set once, while the node opens; Apply may read it meanwhile
// (relayFrom).
func (s *Server) dir() *directory { return s.dirp.Load() }

// newDirectory serves this node's reports on port and will ask peers
// (ID -> Raft address, this node included or not) once started.
func newDirectory(s *Server, port *replication.Port, self, client string, peers map[string]string) (*directory, error) {
	st, err := port.Stream(dirStreamID)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	d := &directory{s: s, stream: st, self: self, client: client, started: time.Now(), peers: map[string]string{}, known: map[string]time.Time{},
		reports: map[string]dirPeer{}, kicked: make(chan struct{}, 1), relays: map[string]*relay{}}
	for id, a := range peers {
		if id != self {
			d.peers[id] = a
			d.known[id] = d.started
		}
	}
	return d, nil
}

// start runs the directory's server and its polling until the server
// closes (Server.Close closes the stream).
func (d *directory) start() {
	s := d.s
	d.startRelays()
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		d.serve()
	}()
	go func() {
		defer s.wg.Done()
		d.poll()
	}()
}

// close stops serving reports.
func (d *directory) close() { d.stream.Close() }

// serve answers every connection with this node's report.
func (d *directory) serve() {
	for {
		c, err := d.stream.Accept()
		if err != nil {
			return
		}
		d.s.wg.Add(1) // serve itself is counted, so Close is still waiting
		go func() {
			defer d.s.wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(dirTimeout))
			var req [1]byte
			if _, err := io.ReadFull(c, req[:]); err != nil || req[0] != 'D' {
				return
			}
			r := d.s.dirSelf(d.self, d.client)
			r.Peers = d.peerList()
			r.Peers[d.self] = d.stream.Addr().String()
			r.Retired = d.s.mv.retired.Load()
			r.Left = d.s.leftNodes()
			r.Inc = d.s.mv.inc
			r.Zone = d.s.config().Zone
			b, err := json.Marshal(r)
			if err != nil {
				return
			}
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
			w := bufio.NewWriter(c)
			w.Write(hdr[:])
			w.Write(b)
			w.Flush()
		}()
	}
}

// dirSelf is this node's report: the groups it holds.
func (s *Server) dirSelf(self, client string) dirReport {
	r := dirReport{ID: self, Client: client}
	for _, u := range s.local() {
		g := u.group
		st := g.Status()
		gs := dirGroupState{Idx: u.idx, Term: st.Term, Applied: st.AppliedIndex}
		if g.IsLeader() {
			gs.Leader = self
			for _, m := range g.Servers() {
				gs.Members = append(gs.Members, dirMember{ID: m.ID, Raft: m.RaftAddr, Voter: m.Voter})
			}
		} else if id, _, ok := g.Leader(); ok {
			gs.Leader = id
		}
		r.Groups = append(r.Groups, gs)
	}
	return r
}

// poll asks every peer for its report once per dirInterval, or sooner
// when kicked.
func (d *directory) poll() {
	ctx := d.s.ctx
	t := time.NewTicker(dirInterval)
	defer t.Stop()
	for {
		d.askAll(ctx)
		d.learnPeers()
		d.s.learnLeft(d)
		d.s.reconcile(d)
		d.s.autoMoves(d)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.kicked:
			// A forward found a leader gone; do not ask more often than
			// every 50 ms however many forwards fail.
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// kick makes the directory ask its peers now.
func (d *directory) kick() {
	select {
	case d.kicked <- struct{}{}:
	default:
	}
}

// askAll asks every peer at once and records the reports that come.
func (d *directory) askAll(ctx context.Context) {
	var wg sync.WaitGroup
	for id, addr := range d.peerList() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := d.ask(ctx, addr)
			if err != nil {
				if ctx.Err() == nil {
					d.s.log.Debug("directory: peer did not answer", "peer", id, "err", err)
				}
				return
			}
			if r.ID != id {
				d.s.log.Warn("directory: peer answered with another ID", "peer", id, "addr", addr, "id", r.ID)
				return
			}
			d.mu.Lock()
			d.reports[id] = dirPeer{report: r, at: time.Now()}
			d.mu.Unlock()
		}()
	}
	wg.Wait()
}

// ask fetches one peer's report; the server closing ends it.
func (d *directory) ask(ctx context.Context, addr string) (dirReport, error) {
	var r dirReport
	c, err := d.stream.DialTo(addr, dirTimeout)
	if err != nil {
		return r, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	c.SetDeadline(time.Now().Add(dirTimeout))
	if _, err := c.Write([]byte{'D'}); err != nil {
		return r, err
	}
	br := bufio.NewReader(c)
	var hdr [4]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return r, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > dirMaxReport {
		return r, errors.New("directory: report too large")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("directory: bad report: %w", err)
	}
	return r, nil
}

// peerAddr returns node id's Raft address.
func (d *directory) peerAddr(id string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.peers[id]
}

// peerList returns the peers to ask: ID -> Raft address.
func (d *directory) peerList() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.peers)
}

// learnPeers adds to the peers the servers the groups' leaders report
// and the peers other nodes know (a node that joined after this one
// started), each with a relay.
func (d *directory) learnPeers() {
	var added []string
	d.mu.Lock()
	learn := func(id, raft string) {
		if id == d.self || id == "" || raft == "" {
			return
		}
		if have, ok := d.peers[id]; !ok || have != raft {
			d.peers[id] = raft
			if !ok {
				d.known[id] = time.Now()
				added = append(added, id)
			}
		}
	}
	for _, p := range d.reports {
		for _, gs := range p.report.Groups {
			for _, m := range gs.Members {
				learn(m.ID, m.Raft)
			}
		}
	}
	// What the peers know, after what the groups' leaders say (a
	// leader's configuration has the newer address).
	for _, p := range d.reports {
		for id, raft := range p.report.Peers {
			if _, ok := d.peers[id]; !ok {
				learn(id, raft)
			}
		}
	}
	d.mu.Unlock()
	for _, id := range added {
		d.s.log.Info("directory: learned a node", "node", id)
		d.startRelay(id)
	}
}

// fresh returns the peers' reports that are recent enough.
func (d *directory) fresh() map[string]dirReport {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]dirReport, len(d.reports))
	now := time.Now()
	for id, p := range d.reports {
		if now.Sub(p.at) <= dirStale {
			out[id] = p.report
		}
	}
	return out
}

// alive reports whether node id answered within dirStale (this node
// always has).
func (d *directory) alive(id string) bool {
	_, ok := d.lastSeen(id)
	return ok
}

// lastSeen returns when node id last answered, if within dirStale (now
// for this node).
func (d *directory) lastSeen(id string) (time.Time, bool) {
	if id == d.self {
		return time.Now(), true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.reports[id]
	if !ok || time.Since(p.at) > dirStale {
		return time.Time{}, false
	}
	return p.at, true
}

// silentFor returns how long node id has not answered: since its last
// report or, when it never answered, since this node began to ask it (0
// for this node and for a node it does not know yet: a node that just
// joined is heard of before it is asked).
func (d *directory) silentFor(id string) time.Duration {
	if id == d.self {
		return 0
	}
	d.mu.Lock()
	p, reported := d.reports[id]
	since, known := d.known[id]
	d.mu.Unlock()
	switch {
	case reported:
		return time.Since(p.at)
	case known:
		return time.Since(since)
	}
	return 0
}

// retired reports whether node id said, in its last fresh report, that
// its replicas were moved away, or was removed since its dir was first
// used (a tombstone, left.go).
func (d *directory) retired(id string) bool {
	if id == d.self {
		return d.s.mv.retired.Load()
	}
	d.mu.Lock()
	p, ok := d.reports[id]
	d.mu.Unlock()
	if ok && time.Since(p.at) <= dirStale && p.report.Retired {
		return true
	}
	// Removed: since its last report's incarnation, or, never heard
	// from, whatever it was.
	return d.s.removedAt(id, p.report.Inc)
}

// clientAddr returns a node's client address as it last reported it.
func (d *directory) clientAddr(id string) (string, bool) {
	if id == d.self {
		return d.client, true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.reports[id]
	if !ok || p.report.Client == "" {
		return "", false
	}
	return p.report.Client, true
}

// remoteGroup is a group as the directory sees it.
type remoteGroup struct {
	leader  string            // node ID; "" while none is known
	term    uint64            // the highest term any member reported
	applied map[string]uint64 // member -> applied index it reported
	// config is the configuration reported by the leader of the highest
	// term that reported one (configFrom), nil when none did.
	config     []dirMember
	configFrom string
	configTerm uint64
}

// member returns node id's entry in the group's configuration.
func (rg remoteGroup) member(id string) (dirMember, bool) {
	for _, m := range rg.config {
		if m.ID == id {
			return m, true
		}
	}
	return dirMember{}, false
}

// voters returns the IDs of the configuration's voters.
func (rg remoteGroup) voters() []string {
	var out []string
	for _, m := range rg.config {
		if m.Voter {
			out = append(out, m.ID)
		}
	}
	return out
}

// group returns what the peers' fresh reports say of group idx: the
// leader named in the report of the highest term.
func (d *directory) group(idx int) remoteGroup {
	rg := remoteGroup{applied: map[string]uint64{}}
	for id, r := range d.fresh() {
		for _, gs := range r.Groups {
			if gs.Idx != idx {
				continue
			}
			rg.applied[id] = gs.Applied
			if gs.Term > rg.term || gs.Term == rg.term && rg.leader == "" {
				rg.term, rg.leader = gs.Term, gs.Leader
			}
			if gs.Leader == id && gs.Members != nil && (rg.config == nil || gs.Term > rg.configTerm) {
				rg.config, rg.configFrom, rg.configTerm = gs.Members, id, gs.Term
			}
		}
	}
	return rg
}

// leader returns the leader of remote group idx and its client address.
func (d *directory) leader(idx int) (id, addr string, ok bool) {
	rg := d.group(idx)
	if rg.leader == "" || rg.leader == d.self {
		return "", "", false
	}
	addr, ok = d.clientAddr(rg.leader)
	return rg.leader, addr, ok
}
