package server

import (
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"sessiond/replication"
)

// stringDirective is a start-up only setting held as a string, checked by
// check (nil: any value).
func stringDirective(name string, field func(*Config) *string, check func(string) error) directive {
	return directive{name: name, mode: immutable,
		get: func(c *Config) string { return *field(c) },
		set: func(c *Config, a []string) error {
			if check != nil {
				if err := check(a[0]); err != nil {
					return err
				}
			}
			*field(c) = a[0]
			return nil
		}}
}

// replicationDirectives are the settings of the node's Raft groups. All
// but replace-after are start-up only.
func replicationDirectives() []directive {
	str := stringDirective
	return []directive{
		str("node-id", func(c *Config) *string { return &c.NodeID }, func(v string) error {
			if strings.ContainsAny(v, " ,=\t\r\n") {
				return errors.New("node-id must not contain spaces, commas or '='")
			}
			return nil
		}),
		intDirective("raft-port", "", 0, 65535, immutable, func(c *Config) *int { return &c.RaftPort }),
		str("peers", func(c *Config) *string { return &c.Peers }, func(v string) error {
			_, err := ParsePeers(v)
			return err
		}),
		str("announce-ip", func(c *Config) *string { return &c.AnnounceIP }, nil),
		str("join", func(c *Config) *string { return &c.Join }, func(v string) error {
			_, err := parseJoin(v)
			return err
		}),
		str("appendfsync", func(c *Config) *string { return &c.AppendFsync }, func(v string) error {
			_, err := replication.ParseFsync(v)
			return err
		}),
		withMode(enumDirective("read-consistency", []string{"lease", "linearizable"},
			func(c *Config) *string { return &c.ReadConsistency }, nil), immutable),
		withMode(enumDirective("cluster-enabled", []string{"yes", "no"},
			func(c *Config) *string { return &c.ClusterEnabled }, nil), immutable),
		intDirective("shards", "", 0, MaxShards, immutable, func(c *Config) *int { return &c.Shards }),
		intDirective("replicas", "", 0, math.MaxInt32, immutable, func(c *Config) *int { return &c.Replicas }),
		str("zone", func(c *Config) *string { return &c.Zone }, func(v string) error {
			if strings.ContainsAny(v, " ,=\t\r\n") {
				return errors.New("zone must not contain spaces, commas or '='")
			}
			return nil
		}),
		{name: "replace-after", // seconds; 0: never (stored as a negative duration)
			get: func(c *Config) string { return strconv.FormatInt(max(int64(c.ReplaceAfter/time.Second), 0), 10) },
			set: func(c *Config, a []string) error {
				n, err := parseIntArg(a[0], 0, math.MaxInt32)
				if err != nil {
					return err
				}
				c.ReplaceAfter = time.Duration(n) * time.Second
				if n == 0 {
					c.ReplaceAfter = -1
				}
				return nil
			}},
	}
}

func withMode(d directive, m setMode) directive { d.mode = m; return d }

// ParsePeers parses --peers: "id=host:port,id=host:port,...". An empty
// string means no peers (a one-member group).
func ParsePeers(v string) (map[string]string, error) {
	out := make(map[string]string)
	if strings.TrimSpace(v) == "" {
		return out, nil
	}
	for _, p := range strings.Split(v, ",") {
		id, addr, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || id == "" {
			return nil, fmt.Errorf("peers: %q is not id=host:port", p)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("peers: %q is not id=host:port", p)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("peers: node %q listed twice", id)
		}
		out[id] = addr
	}
	return out, nil
}

// formatPeers prints a peers map in --peers syntax, sorted by ID.
func formatPeers(m map[string]string) string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(id + "=" + m[id])
	}
	return b.String()
}

// RaftBind returns the address the Raft transport listens on: the first
// bind address and raft-port (port + 10000 when unset, like Redis
// Cluster's bus port).
func (c *Config) RaftBind() string {
	port := c.RaftPort
	if port == 0 && c.Port != 0 {
		port = c.Port + 10000
		if port > math.MaxUint16 {
			port = 0
		}
	}
	host := strings.Fields(c.Bind)[0]
	return net.JoinHostPort(host, fmt.Sprint(port))
}
