package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"sessiond/replication"
	"sessiond/shard"
)

// Node is a running sessiond node: its shard groups (a Raft group and a
// store each) and its RESP server.
type Node struct {
	Server *Server
	Group  *replication.Group   // the first group it holds (the only one unless --shards)
	Groups []*replication.Group // every group, in slot order; nil for one held by other nodes only (--replicas)
}

// NodeOptions are test hooks for OpenNode; the zero value is production.
type NodeOptions struct {
	// Port replaces the Raft listener (fault injection: Isolate).
	Port *replication.Port
	// Tune adjusts the replication config before the group opens
	// (timeouts, snapshot thresholds).
	Tune func(*replication.Config)
}

// OpenNode makes a node serving clients on ln: for each shard group a
// store and a Raft group under cfg.Dir (one-member groups unless
// cfg.Peers names others), all on one Raft port, and the server. The
// caller runs Serve(ln) and, to stop, Shutdown.
func OpenNode(cfg Config, ln net.Listener, opt NodeOptions) (*Node, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	id := cfg.NodeID
	if id == "" {
		var err error
		if id, err = loadNodeID(cfg.Dir); err != nil {
			return nil, err
		}
		cfg.NodeID = id
	}
	peers, err := ParsePeers(cfg.Peers)
	if err != nil {
		return nil, err
	}
	if len(peers) > 0 && cfg.Join != "" {
		return nil, errors.New("--join and --peers exclude each other: peers start a new cluster, join adds this node to a running one")
	}
	fsync, err := replication.ParseFsync(cfg.AppendFsync)
	if err != nil {
		return nil, err
	}
	tcp, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return nil, errors.New("listener is not TCP")
	}
	host := cfg.AnnounceIP
	if host == "" {
		host = tcp.IP.String()
		if tcp.IP.IsUnspecified() {
			host = "127.0.0.1"
		}
	}
	clientAddr := net.JoinHostPort(host, strconv.Itoa(tcp.Port))
	shards, replicas, err := layout(cfg, len(peers))
	if err != nil {
		return nil, err
	}
	// partial: each group is held by some of the nodes only (placement.go).
	var place [][]string
	var ids []string
	if cfg.Join == "" && replicas < len(peers) {
		for pid := range peers {
			ids = append(ids, pid)
		}
		if _, ok := peers[id]; !ok {
			return nil, fmt.Errorf("--peers does not name this node (%s)", id)
		}
		place = placement(ids, shards, replicas)
		if none := idle(ids, place); len(none) > 0 && cfg.ClusterEnabled == "yes" {
			return nil, fmt.Errorf("cluster mode: with %d shard group(s) of %d replica(s), nodes %s would hold no group, and Redis Cluster has no place for a node that neither serves nor replicates slots; raise --shards or --replicas", shards, replicas, strings.Join(none, ","))
		}
	}
	// A node joining a cluster whose groups are held by some nodes only
	// takes a share of the replicas (moves.go): the cluster tells it the
	// layout.
	var joinLayout *layoutReply
	if cfg.Join != "" {
		if joinLayout, err = loadJoinLayout(cfg); err != nil {
			return nil, err
		}
		if joinLayout != nil {
			if cfg.Shards > 0 && cfg.Shards != joinLayout.Shards {
				return nil, fmt.Errorf("--shards %d: the cluster has %d shard groups", cfg.Shards, joinLayout.Shards)
			}
			shards, replicas = joinLayout.Shards, joinLayout.Replicas
			place = joinLayout.Groups
			peers = map[string]string{}
			for _, n := range joinLayout.Nodes {
				peers[n.ID] = n.Raft
			}
		}
	}
	held, heldKnown, err := loadHeld(cfg.Dir)
	if err != nil {
		return nil, err
	}
	// The layout is checked in full before the dir records any of it.
	if err := keepShards(cfg.Dir, shards); err != nil {
		return nil, err
	}
	if cfg.Join == "" || joinLayout != nil {
		if err := keepReplicas(cfg.Dir, replicas, max(len(peers), 1)); err != nil {
			return nil, err
		}
	}
	if place != nil && joinLayout == nil {
		if err := keepNodes(cfg.Dir, ids); err != nil {
			return nil, err
		}
	}
	if joinLayout != nil && !heldKnown {
		if err := saveJoinLayout(cfg.Dir, joinLayout); err != nil {
			return nil, err
		}
	}
	partial := place != nil
	rc := replication.Config{
		NodeID:       id,
		Bind:         cfg.RaftBind(),
		Peers:        peers,
		Join:         cfg.Join != "",
		ClientAddr:   clientAddr,
		Fsync:        fsync,
		Linearizable: cfg.ReadConsistency == "linearizable",
		Logger:       cfg.Logger,
		Port:         opt.Port,
	}
	if cfg.AnnounceIP != "" {
		_, port, _ := net.SplitHostPort(rc.Bind)
		rc.Advertise = net.JoinHostPort(cfg.AnnounceIP, port)
	}
	if rc.Port == nil && (shards > 1 || partial) {
		// One Raft port for every group: each connection names its group.
		if rc.Port, err = replication.Listen(rc.Bind, rc.Advertise); err != nil {
			return nil, err
		}
	}
	var groups []*replication.Group
	var units []Unit
	fail := func(err error) (*Node, error) {
		opened := 0
		for _, g := range groups {
			if g != nil {
				g.Close()
				opened++
			}
		}
		if rc.Port != nil && opt.Port == nil && opened == 0 {
			rc.Port.Close()
		}
		return nil, err
	}
	holds := func(i int) bool {
		switch {
		case !partial:
			return true
		case heldKnown:
			return slices.Contains(held, i)
		case joinLayout != nil:
			return false // a joining node takes its replicas once it runs
		}
		return slices.Contains(place[i], id)
	}
	for i := 0; i < shards; i++ {
		if !holds(i) {
			// Held by other nodes: this node forwards its commands.
			groups = append(groups, nil)
			units = append(units, Unit{Remote: true, Members: place[i]})
			continue
		}
		gc := rc
		if partial {
			gc.Peers = make(map[string]string, replicas)
			for _, m := range place[i] {
				gc.Peers[m] = peers[m]
			}
			// Only the first start of a placed cluster bootstraps its
			// groups; after that the groups' logs say who holds them.
			gc.Join = heldKnown || joinLayout != nil
		}
		gc.Store = shard.New(shard.Config{Clock: cfg.Clock})
		gc.GroupID = byte(i)
		gc.Dir = groupDir(cfg.Dir, i)
		if opt.Tune != nil {
			opt.Tune(&gc)
		}
		g, err := replication.Open(gc)
		if err != nil {
			return fail(fmt.Errorf("shard group %d: %w", i, err))
		}
		groups = append(groups, g)
		var members []string
		if partial {
			members = place[i]
		}
		units = append(units, Unit{Store: gc.Store, Applier: g, Members: members})
		if ms := g.Members(); cfg.Join != "" && joinLayout == nil && len(ms) == 1 && ms[0].ID == id {
			return fail(fmt.Errorf("--join: %s already holds a one-node group of this node's own; a joining node needs an empty dir", cfg.Dir))
		}
	}
	srv, err := NewSharded(cfg, units)
	if err != nil {
		return fail(err)
	}
	if partial {
		dir, err := newDirectory(srv, rc.Port, id, clientAddr, peers)
		if err != nil {
			return fail(err)
		}
		srv.dirp.Store(dir)
		h := &nodeHost{rc: rc, dir: cfg.Dir, tune: opt.Tune}
		srv.setHost(h, replicas)
		if !heldKnown {
			var hs []int
			for i := range shards {
				if holds(i) {
					hs = append(hs, i)
				}
			}
			if err := h.saveHeld(hs); err != nil {
				return fail(err)
			}
		}
		if joinLayout == nil || fileExists(filepath.Join(cfg.Dir, "joined")) {
			srv.mv.joined.Store(true)
		}
		srv.mv.retired.Store(fileExists(filepath.Join(cfg.Dir, "retired")))
		if srv.mv.left, err = loadLeft(cfg.Dir); err != nil {
			return fail(err)
		}
		if srv.mv.inc, err = loadIncarnation(cfg.Dir, !heldKnown); err != nil {
			return fail(err)
		}
	}
	var first *replication.Group
	for _, g := range groups {
		if g != nil {
			first = g
			break
		}
	}
	return &Node{Server: srv, Group: first, Groups: groups}, nil
}

// layout returns the number of shard groups for cfg on a cluster of
// peers nodes (0 for a single node) and the replicas each has: --shards,
// else 1 with cluster mode off and one per node with it on; --replicas,
// else three or every node of a smaller cluster (placement.go). A
// joining node holds a replica of every group.
func layout(cfg Config, peers int) (shards, replicas int, err error) {
	nodes := max(peers, 1)
	switch {
	case cfg.Join != "":
		replicas = 0
	default:
		if replicas, err = replicasFor(cfg, nodes); err != nil {
			return 0, 0, err
		}
	}
	switch {
	case cfg.Shards > 0:
		return cfg.Shards, replicas, nil
	case cfg.ClusterEnabled == "yes":
		return min(nodes, MaxShards), replicas, nil
	}
	return 1, replicas, nil
}

// groupDir is where shard group i keeps its log and snapshots: dir for
// the first (the layout of a node with one group), dir/g<i> for others.
func groupDir(dir string, i int) string {
	if i == 0 {
		return dir
	}
	return filepath.Join(dir, "g"+strconv.Itoa(i))
}

// keepShards records the number of shard groups in dir on first start and
// refuses to start with another: the slots of each group are fixed by it.
func keepShards(dir string, n int) error {
	if _, err := os.Stat(filepath.Join(dir, "shards")); errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(dir, "raft")); err == nil {
			// A node from before shard groups: it holds one group.
			if n != 1 {
				return fmt.Errorf("%s holds one shard group (it was created before --shards); this start asks for %d; start with --shards 1 or an empty dir", dir, n)
			}
			return nil
		}
	}
	return keepNumber(dir, "shards", n, func(have int) error {
		return fmt.Errorf("%s was created with %d shard group(s); this start asks for %d (--shards / --cluster-enabled); the slots of each group are fixed, so start with the same layout or an empty dir", dir, have, n)
	})
}

// keepReplicas records the replicas per group in dir on first start and
// refuses to start with another number: which nodes hold which group
// follows from it.
func keepReplicas(dir string, n, nodes int) error {
	if _, err := os.Stat(filepath.Join(dir, "replicas")); errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(dir, "raft")); err == nil && n != nodes {
			return fmt.Errorf("%s was created when every node held every shard group; this start asks for %d replicas per group of %d nodes; start with --replicas %d or an empty dir", dir, n, nodes, nodes)
		}
	}
	return keepNumber(dir, "replicas", n, func(have int) error {
		return fmt.Errorf("%s was created with %d replica(s) per shard group; this start asks for %d (--replicas); which nodes hold which group follows from it, so start with the same number or an empty dir", dir, have, n)
	})
}

// keepNodes records the IDs of a cluster's nodes in dir on first start
// when groups are held by some nodes only, and refuses to start with
// others: which node holds which group follows from them.
func keepNodes(dir string, ids []string) error {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	want := strings.Join(sorted, ",")
	p := filepath.Join(dir, "nodes")
	b, err := os.ReadFile(p)
	switch {
	case err == nil:
		if have := strings.TrimSpace(string(b)); have != want {
			return fmt.Errorf("%s was created for the nodes %s; --peers names %s; which node holds which shard group follows from the node list, so start with the same --peers or an empty dir", dir, have, want)
		}
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("nodes: %w", err)
	}
	if err := os.WriteFile(p, []byte(want+"\n"), 0o644); err != nil {
		return fmt.Errorf("nodes: %w", err)
	}
	return nil
}

// keepNumber keeps n in file name of dir: it writes it when the file is
// missing and answers differ(have) when the file holds another number.
func keepNumber(dir, name string, n int, differ func(have int) error) error {
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	switch {
	case err == nil:
		have, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if perr != nil {
			return fmt.Errorf("%s: %q is not a number", p, strings.TrimSpace(string(b)))
		}
		if have != n {
			return differ(have)
		}
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := os.WriteFile(p, []byte(strconv.Itoa(n)+"\n"), 0o644); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// WaitSingleLeader waits, up to timeout, until a node whose group has
// this node as its only voter leads and has applied its log, so that a
// freshly started single node answers its first command at once. It
// returns at once for a node of a larger group (which needs its peers).
func (n *Node) WaitSingleLeader(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for _, g := range n.Groups {
		for g != nil && time.Now().Before(deadline) {
			st := g.Status()
			if len(st.Voters) != 1 || g.Ready() {
				break
			}
			time.Sleep(5 * time.Millisecond) // polling for the election, bounded
		}
	}
}

// Shutdown stops the node gracefully: a leader first hands its
// leadership to another voter (so clients of the other nodes see no
// error), then the server stops and Raft shuts down.
func (n *Node) Shutdown() error {
	held := n.Server.HeldGroups()
	if len(held) == 0 {
		for _, g := range n.Groups {
			if g != nil {
				held = append(held, g)
			}
		}
	}
	var moved []*replication.Group
	for i, g := range held {
		if err := g.TransferLeadership(); err != nil {
			n.Server.log.Warn("leadership transfer failed", "group", i, "err", err)
		} else {
			moved = append(moved, g)
		}
	}
	// Let in-flight commands on this node's connections be forwarded to
	// the new leaders before they close.
	deadline := time.Now().Add(2 * time.Second)
	for _, g := range moved {
		for time.Now().Before(deadline) {
			if _, _, ok := g.Leader(); ok || g.IsLeader() {
				break
			}
			time.Sleep(10 * time.Millisecond) // polling for the new leader, bounded
		}
	}
	err := n.Server.Close()
	// Groups taken or dropped while running are the server's (moves.go).
	held = append(n.Server.HeldGroups(), held...)
	for _, g := range held {
		if gerr := g.Close(); err == nil {
			err = gerr
		}
	}
	return err
}

// loadNodeID returns the node ID kept in dir, creating a random 40-hex
// one (like a Redis Cluster node ID) on first start.
func loadNodeID(dir string) (string, error) {
	p := filepath.Join(dir, "node-id")
	b, err := os.ReadFile(p)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if id == "" {
			return "", fmt.Errorf("node id file %s is empty", p)
		}
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("node id: %w", err)
	}
	var r [20]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("node id: %w", err)
	}
	id := hex.EncodeToString(r[:])
	if err := os.WriteFile(p, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("node id: %w", err)
	}
	return id, nil
}
