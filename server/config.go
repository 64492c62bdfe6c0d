package server

import (
	"log/slog"
	"time"

	"sessiond/ttl"
)

// Config is a node's configuration. Field names follow redis.conf; the
// directive table in directives.go maps redis.conf names to these fields
// for the config file, command-line flags and CONFIG GET/SET.
type Config struct {
	Bind                   string        // bind; default 127.0.0.1
	Port                   int           // port; default 6379 (0 picks a free port)
	Dir                    string        // dir; default ./data
	RequirePass            string        // requirepass; "" means none
	MaxClients             int           // maxclients; default 10000
	Timeout                time.Duration // timeout: idle clients closed after it; 0 never
	ProtoMaxBulkLen        int64         // proto-max-bulk-len; default 512 MiB
	MaxMemory              int64         // maxmemory in bytes; 0 means no limit
	MaxMemoryPolicy        string        // maxmemory-policy; default volatile-lru
	MaxMemorySamples       int           // maxmemory-samples; default 5
	LogLevel               string        // loglevel: debug, verbose, notice, warning
	HashMaxListpackEntries int           // hash-max-listpack-entries; default 128
	HashMaxListpackValue   int           // hash-max-listpack-value; default 64
	ConfigFile             string        // the config file read at start, if any

	// Pub/sub (directives.go, notify.go, pubsub_config.go).
	NotifyKeyspaceEvents    uint32       // notify-keyspace-events as flags (notify.go); 0: none (default)
	ClientOutputBufferLimit outputLimits // client-output-buffer-limit; zero value: Redis's defaults
	SlowlogLogSlowerThan    int          // slowlog-log-slower-than, µs (0: every command, < 0: none); default 10000 (slowlog.go)
	SlowlogMaxLen           int          // slowlog-max-len; default 128 (0: the slow log keeps nothing)
	BusyReplyThreshold      int          // busy-reply-threshold (alias lua-time-limit), ms of a script's instruction budget; default 5000 (script.go)
	LatencyTracking         string       // latency-tracking: "yes" (default) or "no": per-command latency histograms (cmdstats.go)
	LatencyPercentiles      []float64    // latency-tracking-info-percentiles; nil: Redis's 50 99 99.9 (an empty list: none)

	// Replication (directives_repl.go).
	NodeID          string // node-id: this node's Raft ID; default: generated once and kept in dir
	RaftPort        int    // raft-port; default port + 10000
	Peers           string // peers: "id=host:port,..." (Raft addresses) for a new cluster
	AnnounceIP      string // announce-ip: the IP peers and clients should use for this node
	AppendFsync     string // appendfsync: always, everysec (default), no
	ReadConsistency string // read-consistency: lease (default) or linearizable
	ClusterEnabled  string // cluster-enabled: yes (Redis Cluster semantics, cluster.go) or no (default)
	Join            string // join: "host:port,..." of existing nodes to ask to add this one (membership.go)
	Shards          int    // shards: shard groups the slots are split over; 0: 1, or the number of peers in cluster mode (units.go)
	Replicas        int    // replicas: replicas per shard group; 0: min(3, nodes) (placement.go)
	// ReplaceAfter (replace-after, in seconds): a node unreachable that
	// long has its replicas replaced where groups are held by some nodes
	// only (replace.go); 0: DefaultReplaceAfter; negative: never.
	ReplaceAfter time.Duration
	Zone         string // zone: this node's failure domain, e.g. its availability zone (zones.go); "" none

	// TLS for clients (tls.go).
	TLSPort           int    // tls-port: a second client port speaking TLS; 0: none (default)
	TLSCertFile       string // tls-cert-file: the server's certificate chain (PEM)
	TLSKeyFile        string // tls-key-file: its private key (PEM)
	TLSCACertFile     string // tls-ca-cert-file: CAs that sign client certificates (PEM)
	TLSAuthClients    string // tls-auth-clients: yes (default; a client certificate is required), no, optional
	TLSProtocols      string // tls-protocols: e.g. "TLSv1.2 TLSv1.3"; "": Redis's default, TLS 1.2 and 1.3
	TLSCACertDir      string // tls-ca-cert-dir: a directory of CA certificates (PEM), with or instead of tls-ca-cert-file
	TLSSessionCaching string // tls-session-caching: yes (default: resumption by session tickets) or no

	// ManageGC says the process's garbage collector settings are the
	// server's: main calls TuneGC at start and sets it, so that CONFIG SET
	// maxmemory retunes the collector. Tests leave it off.
	ManageGC bool

	// Clock is the source of time; default ttl.SystemClock.
	Clock ttl.Clock
	// Logger receives the server's log; default discards.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Bind == "" {
		c.Bind = "127.0.0.1"
	}
	if c.Dir == "" {
		c.Dir = "./data"
	}
	if c.MaxClients == 0 {
		c.MaxClients = 10000
	}
	if c.ProtoMaxBulkLen == 0 {
		c.ProtoMaxBulkLen = 512 << 20
	}
	if c.MaxMemoryPolicy == "" {
		c.MaxMemoryPolicy = "volatile-lru"
	}
	if c.MaxMemorySamples == 0 {
		c.MaxMemorySamples = 5
	}
	if c.LogLevel == "" {
		c.LogLevel = "notice"
	}
	if c.HashMaxListpackEntries == 0 {
		c.HashMaxListpackEntries = 128
	}
	if c.HashMaxListpackValue == 0 {
		c.HashMaxListpackValue = 64
	}
	if c.Clock == nil {
		c.Clock = ttl.SystemClock{}
	}
	if c.AppendFsync == "" {
		c.AppendFsync = "everysec"
	}
	if c.ClusterEnabled == "" {
		c.ClusterEnabled = "no"
	}
	if c.ReadConsistency == "" {
		c.ReadConsistency = "lease"
	}
	if c.ReplaceAfter == 0 {
		c.ReplaceAfter = DefaultReplaceAfter
	}
	if c.TLSAuthClients == "" {
		c.TLSAuthClients = "yes"
	}
	if c.TLSSessionCaching == "" {
		c.TLSSessionCaching = "yes"
	}
	if c.LatencyTracking == "" {
		c.LatencyTracking = "yes"
	}
	if c.LatencyPercentiles == nil {
		c.LatencyPercentiles = []float64{50, 99, 99.9}
	}
}

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	c := Config{Port: 6379, SlowlogLogSlowerThan: 10000, SlowlogMaxLen: 128, BusyReplyThreshold: 5000}
	c.setDefaults()
	return c
}
