package server

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// INFO: Redis's text format ("# Section" headers, "key:value" lines ending
// in CRLF, a blank line between sections), as a bulk string in RESP2 and
// a verbatim string in RESP3.

// infoSections lists INFO's sections in Redis's output order; dflt marks
// the ones INFO without arguments (or "default") prints.
var infoSections = []struct {
	name, title string
	dflt        bool
}{
	{"server", "Server", true}, {"clients", "Clients", true}, {"memory", "Memory", true},
	{"persistence", "Persistence", true}, {"stats", "Stats", true},
	{"replication", "Replication", true}, {"cpu", "CPU", true}, {"modules", "Modules", true},
	{"commandstats", "Commandstats", false}, {"errorstats", "Errorstats", true},
	{"latencystats", "Latencystats", false}, {"cluster", "Cluster", true},
	{"keyspace", "Keyspace", true}, {"raft", "Raft", true},
}

func cmdInfo(c *client, args [][]byte) { c.w.verbatim(c.s.infoText(args[1:])) }

// infoText renders the selected sections. No selector means "default";
// "all" and "everything" select every section; unknown names select
// nothing, so INFO with only unknown sections is empty, as in Redis.
func (s *Server) infoText(selectors [][]byte) string {
	want := make(map[string]bool)
	if len(selectors) == 0 {
		selectors = [][]byte{[]byte("default")}
	}
	for _, sel := range selectors {
		name := strings.ToLower(string(sel))
		for _, sec := range infoSections {
			switch name {
			case "all", "everything":
				want[sec.name] = true
			case "default":
				want[sec.name] = want[sec.name] || sec.dflt
			case sec.name:
				want[sec.name] = true
			}
		}
	}
	b := &infoBuilder{}
	for _, sec := range infoSections {
		if !want[sec.name] {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + sec.title + "\r\n")
		s.infoSection(b, sec.name)
	}
	return b.String()
}

// infoBuilder accumulates INFO lines.
type infoBuilder struct{ strings.Builder }

// kv appends one "key:value" line.
func (b *infoBuilder) kv(key string, value any) {
	b.WriteString(key)
	b.WriteByte(':')
	switch v := value.(type) {
	case string:
		b.WriteString(v)
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	default:
		fmt.Fprint(b, v)
	}
	b.WriteString("\r\n")
}

// zeros appends "key:0" for each key: features sessiond does not have.
func (b *infoBuilder) zeros(keys ...string) {
	for _, k := range keys {
		b.kv(k, "0")
	}
}

func (s *Server) infoSection(b *infoBuilder, name string) {
	switch name {
	case "server":
		s.infoServer(b)
	case "clients":
		s.infoClients(b)
	case "memory":
		s.infoMemory(b)
	case "persistence":
		s.infoPersistence(b)
	case "stats":
		s.infoStats(b)
	case "replication":
		if s.replicated() {
			s.infoReplicationRaft(b)
		} else {
			s.infoReplication(b)
		}
	case "raft":
		s.infoRaft(b)
	case "cpu":
		infoCPU(b)
	case "cluster":
		if s.clusterOn() {
			b.kv("cluster_enabled", "1")
		} else {
			b.kv("cluster_enabled", "0")
		}
	case "commandstats":
		s.infoCommandStats(b)
	case "errorstats":
		s.infoErrorStats(b)
	case "latencystats":
		s.infoLatencyStats(b)
	case "keyspace":
		if keys, volatile := s.keyCounts(); keys > 0 {
			b.kv("db0", fmt.Sprintf("keys=%d,expires=%d,avg_ttl=0", keys, volatile))
		}
	}
	// modules: header only.
}

func (s *Server) infoServer(b *infoBuilder) {
	cfg := s.config()
	now := s.clock.Now()
	uptime := int64(now.Sub(s.started) / time.Second)
	exe, _ := os.Executable()
	b.kv("redis_version", Version)
	b.kv("redis_git_sha1", "00000000")
	b.kv("redis_git_dirty", "0")
	b.kv("redis_build_id", "0")
	if s.clusterOn() {
		b.kv("redis_mode", "cluster")
	} else {
		b.kv("redis_mode", "standalone")
	}
	b.kv("os", osName())
	b.kv("arch_bits", strconv.IntSize)
	b.kv("multiplexing_api", "go")
	b.kv("go_version", runtime.Version())
	b.kv("process_id", os.Getpid())
	b.kv("process_supervised", "no")
	b.kv("run_id", s.runID("run"))
	b.kv("tcp_port", s.tcpPort(cfg))
	b.kv("server_time_usec", now.UnixMicro())
	b.kv("uptime_in_seconds", uptime)
	b.kv("uptime_in_days", uptime/86400)
	b.kv("hz", "10")
	b.kv("configured_hz", "10")
	b.kv("executable", exe)
	b.kv("config_file", cfg.ConfigFile)
	b.kv("io_threads_active", "0")
	b.kv("sessiond_version", SessiondVersion)
}

// osName is Redis's "os" field: kernel name, release and machine.
func osName() string {
	name := runtime.GOOS
	if name != "" {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		name += " " + strings.TrimSpace(string(rel))
	}
	arch := runtime.GOARCH
	switch arch {
	case "amd64":
		arch = "x86_64"
	case "arm64":
		arch = "aarch64"
	}
	return name + " " + arch
}

// runID returns a 40-hex-digit identifier that is stable for this server
// and differs between processes: Redis's run_id and master_replid.
func (s *Server) runID(kind string) string {
	sum := sha1.Sum(fmt.Appendf(nil, "%s %d %d %p", kind, os.Getpid(), s.started.UnixNano(), s))
	return hex.EncodeToString(sum[:])
}

// tcpPort is the port the server listens on (the configured one before
// Serve).
func (s *Server) tcpPort(cfg *Config) int {
	if a, ok := s.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return cfg.Port
}

func (s *Server) infoClients(b *infoBuilder) {
	s.mu.Lock()
	n := len(s.clients)
	s.mu.Unlock()
	b.kv("connected_clients", n)
	b.kv("cluster_connections", "0")
	b.kv("maxclients", s.config().MaxClients)
	b.zeros("client_recent_max_input_buffer", "client_recent_max_output_buffer")
	b.kv("blocked_clients", s.blockedClients.Load())
	b.zeros("tracking_clients")
	_, _, subscribed := s.pubsubCounts()
	b.kv("pubsub_clients", subscribed)
	b.zeros("clients_in_timeout_table", "total_blocking_keys", "total_blocking_keys_on_nokey")
}

func (s *Server) infoMemory(b *infoBuilder) {
	cfg := s.config()
	m := s.memoryInfo()
	peak := max(m.Peak, m.Used)
	b.kv("used_memory", m.Used)
	b.kv("used_memory_human", bytesToHuman(m.Used))
	b.kv("used_memory_rss", m.RSS)
	b.kv("used_memory_rss_human", bytesToHuman(m.RSS))
	b.kv("used_memory_peak", peak)
	b.kv("used_memory_peak_human", bytesToHuman(peak))
	b.kv("used_memory_peak_perc", percent(m.Used, peak))
	b.kv("used_memory_overhead", max(m.Used-m.Dataset, 0))
	b.kv("used_memory_startup", m.Startup)
	b.kv("used_memory_dataset", m.Dataset)
	b.kv("used_memory_dataset_perc", percent(m.Dataset, m.Used-m.Startup))
	b.kv("maxmemory", cfg.MaxMemory)
	b.kv("maxmemory_human", bytesToHuman(cfg.MaxMemory))
	b.kv("maxmemory_policy", cfg.MaxMemoryPolicy)
	ratio := "0.00"
	if m.Used > 0 {
		ratio = strconv.FormatFloat(float64(m.RSS)/float64(m.Used), 'f', 2, 64)
	}
	b.kv("mem_fragmentation_ratio", ratio)
	b.kv("mem_allocator", "go")
}

// percent formats n/of as Redis's "%.2f%%".
func percent(n, of int64) string {
	if of <= 0 {
		return "0.00%"
	}
	return strconv.FormatFloat(float64(n)*100/float64(of), 'f', 2, 64) + "%"
}

// bytesToHuman formats n as Redis's bytesToHuman: 1023B, 1.00K, 2.50M ...
func bytesToHuman(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + "B"
	}
	d := float64(n)
	for _, unit := range []string{"K", "M", "G", "T", "P"} {
		d /= 1024
		if d < 1024 || unit == "P" {
			return strconv.FormatFloat(d, 'f', 2, 64) + unit
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

func (s *Server) infoPersistence(b *infoBuilder) {
	b.zeros("loading", "async_loading", "current_cow_peak", "current_cow_size", "current_cow_size_age")
	b.kv("current_fork_perc", "0.00")
	b.zeros("current_save_keys_processed", "current_save_keys_total", "rdb_changes_since_last_save")
	b.kv("rdb_bgsave_in_progress", b2i(s.saves.kind.Load() == saveRDB))
	b.kv("rdb_last_save_time", s.lastSave())
	b.kv("rdb_last_bgsave_status", map[bool]string{false: "ok", true: "err"}[s.saves.lastFail.Load()])
	b.kv("rdb_last_bgsave_time_sec", "-1")
	b.kv("rdb_current_bgsave_time_sec", "-1")
	b.kv("rdb_saves", s.saves.count.Load())
	b.zeros("rdb_last_cow_size", "rdb_last_load_keys_expired", "rdb_last_load_keys_loaded", "aof_enabled")
	b.kv("aof_rewrite_in_progress", b2i(s.saves.kind.Load() == saveAOF))
	b.zeros("aof_rewrite_scheduled")
	b.kv("aof_last_rewrite_time_sec", "-1")
	b.kv("aof_current_rewrite_time_sec", "-1")
	b.kv("aof_last_bgrewrite_status", "ok")
	b.zeros("aof_rewrites", "aof_rewrites_consecutive_failures")
	b.kv("aof_last_write_status", "ok")
	b.zeros("aof_last_cow_size", "module_fork_in_progress", "module_fork_last_cow_size")
}

func (s *Server) infoStats(b *infoBuilder) {
	st := &s.stats
	ss := s.storeStats()
	b.kv("total_connections_received", st.connsReceived.Load())
	b.kv("total_commands_processed", st.commands.Load())
	b.kv("instantaneous_ops_per_sec", s.instantaneousOps())
	b.kv("total_net_input_bytes", st.netInput.Load())
	b.kv("total_net_output_bytes", st.netOutput.Load())
	b.zeros("total_net_repl_input_bytes", "total_net_repl_output_bytes")
	for _, k := range []string{"instantaneous_input_kbps", "instantaneous_output_kbps",
		"instantaneous_input_repl_kbps", "instantaneous_output_repl_kbps"} {
		b.kv(k, "0.00")
	}
	b.kv("rejected_connections", st.connsRejected.Load())
	b.zeros("sync_full", "sync_partial_ok", "sync_partial_err")
	b.kv("expired_keys", ss.expiredKeys)
	b.kv("expired_subkeys", ss.expiredFields)
	b.kv("expired_stale_perc", "0.00")
	b.zeros("expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds")
	b.kv("evicted_keys", ss.evictedKeys)
	b.zeros("evicted_clients", "evicted_scripts", "total_eviction_exceeded_time", "current_eviction_exceeded_time")
	b.kv("keyspace_hits", ss.hits)
	b.kv("keyspace_misses", ss.misses)
	channels, patterns, _ := s.pubsubCounts()
	b.kv("pubsub_channels", channels)
	b.kv("pubsub_patterns", patterns)
	b.zeros("pubsubshard_channels", "latest_fork_usec", "total_forks",
		"migrate_cached_sockets", "slave_expires_tracked_keys", "tracking_total_keys",
		"tracking_total_items", "tracking_total_prefixes", "unexpected_error_replies")
	b.kv("total_error_replies", st.errorReplies.Load())
	b.zeros("dump_payload_sanitizations", "client_query_buffer_limit_disconnections",
		"client_output_buffer_limit_disconnections")
}

func (s *Server) infoReplication(b *infoBuilder) {
	b.kv("role", "master")
	b.kv("connected_slaves", "0")
	b.kv("master_failover_state", "no-failover")
	b.kv("master_replid", s.runID("replid"))
	b.kv("master_replid2", strings.Repeat("0", 40))
	b.kv("master_repl_offset", "0")
	b.kv("second_repl_offset", "-1")
	b.kv("repl_backlog_active", "0")
	b.kv("repl_backlog_size", "1048576")
	b.kv("repl_backlog_first_byte_offset", "0")
	b.kv("repl_backlog_histlen", "0")
}

func infoCPU(b *infoBuilder) {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	tv := func(t syscall.Timeval) string { return fmt.Sprintf("%d.%06d", int64(t.Sec), int64(t.Usec)) }
	b.kv("used_cpu_sys", tv(self.Stime))
	b.kv("used_cpu_user", tv(self.Utime))
	b.kv("used_cpu_sys_children", tv(children.Stime))
	b.kv("used_cpu_user_children", tv(children.Utime))
}

// instantaneousOps is INFO's instantaneous_ops_per_sec. It reads 0 until
// an opsSampler is wired into the Server (see opsSampler).
func (s *Server) instantaneousOps() int64 { return s.ops.perSec() }

// opsSampler computes instantaneous_ops_per_sec as Redis does: every
// 100 ms it samples the processed-commands counter, and the rate is the
// mean of the last 16 per-interval rates. Safe for concurrent use.
type opsSampler struct {
	mu      sync.Mutex
	rates   [16]int64
	n       int // samples recorded, capped at len(rates) when averaging
	lastAt  time.Time
	lastCnt int64
}

// sample records the counter's value count at time now.
func (o *opsSampler) sample(now time.Time, count int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.lastAt.IsZero() {
		if dt := now.Sub(o.lastAt); dt > 0 {
			o.rates[o.n%len(o.rates)] = (count - o.lastCnt) * int64(time.Second) / int64(dt)
			o.n++
		}
	}
	o.lastAt, o.lastCnt = now, count
}

// perSec returns the mean rate over the recorded samples.
func (o *opsSampler) perSec() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := min(o.n, len(o.rates))
	if k == 0 {
		return 0
	}
	var sum int64
	for _, r := range o.rates[:k] {
		sum += r
	}
	return sum / int64(k)
}

// run samples counter every 100 ms until ctx ends.
func (o *opsSampler) run(ctx context.Context, counter *atomic.Int64) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			o.sample(now, counter.Load())
		}
	}
}
