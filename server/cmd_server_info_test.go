package server

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// infoFields parses INFO text into key -> value, failing the test on any
// line that breaks Redis's format.
func infoFields(t testing.TB, text string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for _, sec := range parseInfo(t, text) {
		for k, v := range sec.fields {
			out[k] = v
		}
	}
	return out
}

type infoSection struct {
	title  string
	keys   []string
	fields map[string]string
}

// parseInfo checks INFO's exact layout: "# Title" headers, "key:value"
// lines, CRLF line ends, one blank line between sections and none at
// the end.
func parseInfo(t testing.TB, text string) []infoSection {
	t.Helper()
	if text == "" {
		return nil
	}
	if !strings.HasSuffix(text, "\r\n") || strings.HasSuffix(text, "\r\n\r\n") {
		t.Fatalf("INFO must end with exactly one CRLF: %q", text[max(0, len(text)-20):])
	}
	key := regexp.MustCompile(`^[a-z0-9_]+$|^cmdstat_[a-z0-9_|-]+$|^errorstat_[^:\s]+$`) // errorstat_ERR, cmdstat_config|get
	var secs []infoSection
	blocks := strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n\r\n")
	for _, blk := range blocks {
		lines := strings.Split(blk, "\r\n")
		if !strings.HasPrefix(lines[0], "# ") {
			t.Fatalf("section does not start with a header: %q", lines[0])
		}
		sec := infoSection{title: lines[0][2:], fields: make(map[string]string)}
		for _, l := range lines[1:] {
			k, v, ok := strings.Cut(l, ":")
			if !ok || !key.MatchString(k) || strings.ContainsAny(v, "\r\n") {
				t.Fatalf("bad INFO line %q in section %s", l, sec.title)
			}
			if _, dup := sec.fields[k]; dup {
				t.Fatalf("duplicate INFO field %q", k)
			}
			sec.keys = append(sec.keys, k)
			sec.fields[k] = v
		}
		secs = append(secs, sec)
	}
	return secs
}

func titles(secs []infoSection) string {
	var out []string
	for _, s := range secs {
		out = append(out, s.title)
	}
	return strings.Join(out, ",")
}

func TestInfoSections(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.goRedis(t, 2)
	ctx := context.Background()
	tests := []struct {
		args []string
		want string
	}{
		{nil, "Server,Clients,Memory,Persistence,Stats,Replication,CPU,Modules,Errorstats,Cluster,Keyspace,Raft"},
		{[]string{"default"}, "Server,Clients,Memory,Persistence,Stats,Replication,CPU,Modules,Errorstats,Cluster,Keyspace,Raft"},
		{[]string{"all"}, "Server,Clients,Memory,Persistence,Stats,Replication,CPU,Modules,Commandstats,Errorstats,Latencystats,Cluster,Keyspace,Raft"},
		{[]string{"everything"}, "Server,Clients,Memory,Persistence,Stats,Replication,CPU,Modules,Commandstats,Errorstats,Latencystats,Cluster,Keyspace,Raft"},
		{[]string{"keyspace", "SERVER"}, "Server,Keyspace"}, // Redis's order, not the arguments'
		{[]string{"clients", "bogus", "clients"}, "Clients"},
		{[]string{"commandstats"}, "Commandstats"},
		{[]string{"bogus"}, ""},
	}
	for _, tt := range tests {
		text, err := c.Info(ctx, tt.args...).Result()
		if err != nil {
			t.Fatalf("INFO %v: %v", tt.args, err)
		}
		if got := titles(parseInfo(t, text)); got != tt.want {
			t.Errorf("INFO %v sections = %s, want %s", tt.args, got, tt.want)
		}
	}
}

func TestInfoReplies(t *testing.T) {
	ts := startServer(t, Config{})
	rc := ts.resp(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"INFO", "bogus"}, "$0\r\n\r\n"},
		{[]string{"INFO", "keyspace"}, respBulk("# Keyspace\r\n")},
		{[]string{"SET", "a", "1"}, "+OK\r\n"},
		{[]string{"SET", "b", "1", "EX", "100"}, "+OK\r\n"},
		{[]string{"INFO", "keyspace"}, respBulk("# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n")},
		{[]string{"INFO", "cluster", "keyspace"}, respBulk("# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n")},
		{[]string{"HELLO", "3"}, ""},
		{[]string{"INFO", "bogus"}, "=4\r\ntxt:\r\n"},
		{[]string{"INFO", "cluster"}, "=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n"},
	}
	for _, tt := range tests {
		if got := rc.do(tt.args...); tt.want != "" && got != tt.want {
			t.Errorf("%q:\n got %q\nwant %q", tt.args, got, tt.want)
		}
	}
}

func TestInfoFields(t *testing.T) {
	// The limit is far above what the test process holds: used_memory counts
	// this whole process, so a small limit would make the SET below fail.
	ts := startServer(t, Config{MaxMemory: 3 << 40, MaxClients: 123})
	ctx := context.Background()
	c := ts.goRedis(t, 3)
	c.Set(ctx, "k", "v", 0)
	c.Get(ctx, "k")
	c.Get(ctx, "nope")
	// go-redis's RESP3 handshake may itself draw an error (CLIENT
	// MAINT_NOTIFICATIONS): count from here.
	errsBefore, _ := strconv.Atoi(infoFields(t, c.Info(ctx, "stats").Val())["total_error_replies"])
	c.Do(ctx, "NOSUCHCOMMAND")
	ts.clock.Advance(49 * time.Hour)

	text, err := c.Info(ctx, "everything").Result()
	if err != nil {
		t.Fatal(err)
	}
	f := infoFields(t, text)
	_, portStr, _ := strings.Cut(ts.addr, ":")
	want := map[string]string{
		"redis_version":             Version,
		"sessiond_version":          SessiondVersion,
		"redis_mode":                "standalone",
		"process_id":                strconv.Itoa(os.Getpid()),
		"tcp_port":                  portStr,
		"uptime_in_seconds":         strconv.Itoa(49 * 3600),
		"uptime_in_days":            "2",
		"arch_bits":                 strconv.Itoa(strconv.IntSize),
		"config_file":               "",
		"connected_clients":         "1",
		"maxclients":                "123",
		"blocked_clients":           "0",
		"maxmemory":                 strconv.Itoa(3 << 40),
		"maxmemory_human":           "3.00T",
		"maxmemory_policy":          "volatile-lru",
		"mem_allocator":             "go",
		"loading":                   "0",
		"aof_enabled":               "0",
		"rdb_last_save_time":        "1700000000",
		"keyspace_hits":             "1",
		"keyspace_misses":           "1",
		"total_error_replies":       strconv.Itoa(errsBefore + 1),
		"rejected_connections":      "0",
		"role":                      "master",
		"connected_slaves":          "0",
		"master_repl_offset":        "0",
		"cluster_enabled":           "0",
		"db0":                       "keys=1,expires=0,avg_ttl=0",
		"instantaneous_ops_per_sec": "0",
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("INFO %s = %q, want %q", k, f[k], v)
		}
	}
	for _, k := range []string{"used_memory", "used_memory_rss", "used_memory_peak", "used_memory_dataset",
		"total_connections_received", "total_commands_processed", "total_net_output_bytes", "expired_keys", "evicted_keys"} {
		if _, err := strconv.ParseInt(f[k], 10, 64); err != nil {
			t.Errorf("INFO %s = %q, not an integer", k, f[k])
		}
	}
	for _, k := range []string{"used_cpu_sys", "used_cpu_user"} {
		if !regexp.MustCompile(`^\d+\.\d{6}$`).MatchString(f[k]) {
			t.Errorf("INFO %s = %q", k, f[k])
		}
	}
	for _, k := range []string{"run_id", "master_replid"} {
		if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(f[k]) {
			t.Errorf("INFO %s = %q", k, f[k])
		}
	}
	if f["run_id"] == f["master_replid"] {
		t.Error("run_id and master_replid are equal")
	}
	if again := infoFields(t, c.Info(ctx, "server").Val()); again["run_id"] != f["run_id"] {
		t.Error("run_id changed between calls")
	}
	// go-redis's InfoMap parses it too.
	m, err := c.InfoMap(ctx, "server", "keyspace").Result()
	if err != nil || m["Server"]["redis_version"] != Version || m["Keyspace"]["db0"] == "" {
		t.Errorf("InfoMap = %v, %v", m, err)
	}
}

func TestBytesToHuman(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0B"}, {1023, "1023B"}, {1024, "1.00K"}, {1536, "1.50K"}, {1 << 20, "1.00M"},
		{3 << 30, "3.00G"}, {5 << 40, "5.00T"}, {7 << 50, "7.00P"}, {2048 << 50, "2048.00P"},
	}
	for _, tt := range tests {
		if got := bytesToHuman(tt.n); got != tt.want {
			t.Errorf("bytesToHuman(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestOpsSampler(t *testing.T) {
	var o opsSampler
	if o.perSec() != 0 {
		t.Fatal("empty sampler reports a rate")
	}
	t0 := time.Unix(1000, 0)
	o.sample(t0, 0)
	o.sample(t0.Add(100*time.Millisecond), 100) // 1000/s
	o.sample(t0.Add(200*time.Millisecond), 300) // 2000/s
	if got := o.perSec(); got != 1500 {
		t.Errorf("perSec = %d, want 1500", got)
	}
	// Only the last 16 intervals count.
	at, count := t0.Add(200*time.Millisecond), int64(300)
	for i := 0; i < 16; i++ {
		at, count = at.Add(100*time.Millisecond), count+50 // 500/s
		o.sample(at, count)
	}
	if got := o.perSec(); got != 500 {
		t.Errorf("perSec after 16 more samples = %d, want 500", got)
	}
	o.sample(at, count+10) // no time passed: ignored
	if got := o.perSec(); got != 500 {
		t.Errorf("perSec after a zero interval = %d, want 500", got)
	}
}
