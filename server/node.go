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

// Node is a running sessiond node: its store, its Raft group and its
// RESP server.
type Node struct {
	Server *Server
	Group  *replication.Group
}

// NodeOptions are test hooks for OpenNode; the zero value is production.
type NodeOptions struct {
	// Port replaces the Raft listener (fault injection: Isolate).
	Port *replication.Port
	// Tune adjusts the replication config before the group opens
	// (timeouts, snapshot thresholds).
	Tune func(*replication.Config)
}

// OpenNode makes a node serving clients on ln: a store, a Raft group
// under cfg.Dir (a one-member group unless cfg.Peers names others) and
// the server. The caller runs Serve(ln) and, to stop, Shutdown.
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
	store := shard.New(shard.Config{Clock: cfg.Clock})
	rc := replication.Config{
		NodeID:       id,
		Dir:          cfg.Dir,
		Bind:         cfg.RaftBind(),
		Peers:        peers,
		Join:         cfg.Join != "",
		ClientAddr:   clientAddr,
		Fsync:        fsync,
		Linearizable: cfg.ReadConsistency == "linearizable",
		Store:        store,
		Logger:       cfg.Logger,
		Port:         opt.Port,
	}
	if cfg.AnnounceIP != "" {
		_, port, _ := net.SplitHostPort(rc.Bind)
		rc.Advertise = net.JoinHostPort(cfg.AnnounceIP, port)
	}
	if opt.Tune != nil {
		opt.Tune(&rc)
	}
	g, err := replication.Open(rc)
	if err != nil {
		return nil, err
	}
	if ms := g.Members(); cfg.Join != "" && len(ms) == 1 && ms[0].ID == id {
		g.Close()
		return nil, fmt.Errorf("--join: %s already holds a one-node group of this node's own; a joining node needs an empty dir", cfg.Dir)
	}
	srv, err := New(cfg, store, g)
	if err != nil {
		g.Close()
		return nil, err
	}
	return &Node{Server: srv, Group: g}, nil
}

// WaitSingleLeader waits, up to timeout, until a node whose group has
// this node as its only voter leads and has applied its log, so that a
// freshly started single node answers its first command at once. It
// returns at once for a node of a larger group (which needs its peers).
func (n *Node) WaitSingleLeader(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		st := n.Group.Status()
		if len(st.Voters) != 1 || n.Group.Ready() {
			return
		}
		time.Sleep(5 * time.Millisecond) // polling for the election, bounded
	}
}

// Shutdown stops the node gracefully: a leader first hands its
// leadership to another voter (so clients of the other nodes see no
// error), then the server stops and Raft shuts down.
func (n *Node) Shutdown() error {
	if err := n.Group.TransferLeadership(); err != nil {
		n.Server.log.Warn("leadership transfer failed", "err", err)
	} else {
		// Let in-flight commands on this node's connections be forwarded
		// to the new leader before they close.
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if _, _, ok := n.Group.Leader(); ok || n.Group.IsLeader() {
				break
			}
			time.Sleep(10 * time.Millisecond) // polling for the new leader, bounded
		}
	}
	err := n.Server.Close()
	if gerr := n.Group.Close(); err == nil {
		err = gerr
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
