package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
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
	Group  *replication.Group   // the first group (the only one unless --shards)
	Groups []*replication.Group // every group, in slot order
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
	shards, err := layout(cfg, len(peers))
	if err != nil {
		return nil, err
	}
	if err := keepShards(cfg.Dir, shards); err != nil {
		return nil, err
	}
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
	if rc.Port == nil && shards > 1 {
		// One Raft port for every group: each connection names its group.
		if rc.Port, err = replication.Listen(rc.Bind, rc.Advertise); err != nil {
			return nil, err
		}
	}
	var groups []*replication.Group
	var units []Unit
	fail := func(err error) (*Node, error) {
		for _, g := range groups {
			g.Close()
		}
		if rc.Port != nil && opt.Port == nil && len(groups) == 0 {
			rc.Port.Close()
		}
		return nil, err
	}
	for i := 0; i < shards; i++ {
		gc := rc
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
		units = append(units, Unit{Store: gc.Store, Applier: g})
		if ms := g.Members(); cfg.Join != "" && len(ms) == 1 && ms[0].ID == id {
			return fail(fmt.Errorf("--join: %s already holds a one-node group of this node's own; a joining node needs an empty dir", cfg.Dir))
		}
	}
	srv, err := NewSharded(cfg, units)
	if err != nil {
		return fail(err)
	}
	return &Node{Server: srv, Group: groups[0], Groups: groups}, nil
}

// layout returns the number of shard groups for cfg on a cluster of
// peers nodes (0 for a single node): --shards, else 1 with cluster mode
// off and one per node with it on. Every node holds a replica of every
// group, so --replicas may only name that.
func layout(cfg Config, peers int) (int, error) {
	nodes := max(peers, 1)
	if cfg.Replicas != 0 && cfg.Replicas != nodes && cfg.Join == "" {
		return 0, fmt.Errorf("--replicas %d: every node holds a replica of every shard group, so replicas must equal the number of nodes (%d); fewer replicas per group is not supported yet", cfg.Replicas, nodes)
	}
	switch {
	case cfg.Shards > 0:
		return cfg.Shards, nil
	case cfg.ClusterEnabled == "yes":
		return min(nodes, MaxShards), nil
	}
	return 1, nil
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
	p := filepath.Join(dir, "shards")
	b, err := os.ReadFile(p)
	switch {
	case err == nil:
		have, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if perr != nil {
			return fmt.Errorf("%s: %q is not a number of shard groups", p, strings.TrimSpace(string(b)))
		}
		if have != n {
			return fmt.Errorf("%s was created with %d shard group(s); this start asks for %d (--shards / --cluster-enabled); the slots of each group are fixed, so start with the same layout or an empty dir", dir, have, n)
		}
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("shards: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "raft")); err == nil {
		// A node from before shard groups: it holds one group.
		if n != 1 {
			return fmt.Errorf("%s holds one shard group (it was created before --shards); this start asks for %d; start with --shards 1 or an empty dir", dir, n)
		}
		return nil
	}
	if err := os.WriteFile(p, []byte(strconv.Itoa(n)+"\n"), 0o644); err != nil {
		return fmt.Errorf("shards: %w", err)
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
		for time.Now().Before(deadline) {
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
	var moved []*replication.Group
	for i, g := range n.Groups {
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
	for _, g := range n.Groups {
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
