package server

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// statsScript is a run of commands, after a CONFIG RESETSTAT, whose INFO
// commandstats and errorstats redis-server 7.0.15 answers with statsWant
// (usec figures left out), but for the commands the two scripts call,
// which Redis counts (one more GET call; one more INCR call, failed) and
// sessiond does not (see scriptHost.Call):
// calls that ran, refused ones (arity), failed ones (WRONGTYPE, not an
// integer, a script's error), subcommands, MULTI/EXEC with a refused
// command, a script's own calls and an unknown command.
var statsScript = [][]any{
	{"set", "k", "v"}, {"get", "k"}, {"get", "k"}, {"get"}, {"hget", "k", "f"}, {"incr", "k"},
	{"get", "nokey"}, {"config", "get", "maxmemory"}, {"config", "get"}, {"config", "nosuch"},
	{"client", "nosuch"}, {"eval", "return redis.call('get','k')", "0"},
	{"eval", "return redis.call('incr','k')", "0"},
	{"multi"}, {"set", "a", "1"}, {"incr", "a"}, {"get", "a"}, {"exec"},
	{"multi"}, {"get"}, {"exec"},
	{"eval", "return redis.error_reply('MYERR x')", "0"}, {"eval", "return redis.error_reply('nospace')", "0"},
	{"xyzzy"}, {"ping"},
}

var statsWant = []string{
	"cmdstat_config|get:calls=1,rejected_calls=1,failed_calls=0",
	"cmdstat_config|resetstat:calls=1,rejected_calls=0,failed_calls=0", // the test's, before the script
	"cmdstat_eval:calls=4,rejected_calls=0,failed_calls=3",
	"cmdstat_exec:calls=2,rejected_calls=0,failed_calls=1",
	"cmdstat_get:calls=4,rejected_calls=2,failed_calls=0",
	"cmdstat_hget:calls=1,rejected_calls=0,failed_calls=1",
	"cmdstat_incr:calls=2,rejected_calls=0,failed_calls=1",
	"cmdstat_multi:calls=2,rejected_calls=0,failed_calls=0",
	"cmdstat_ping:calls=1,rejected_calls=0,failed_calls=0",
	"cmdstat_set:calls=2,rejected_calls=0,failed_calls=0",
	"errorstat_ERR:count=9",
	"errorstat_EXECABORT:count=1",
	"errorstat_MYERR:count=1",
	"errorstat_WRONGTYPE:count=1",
}

var usecFields = regexp.MustCompile(`usec=(\d+),usec_per_call=(\d+\.\d\d),`)

// infoStats returns the cmdstat_ and errorstat_ lines of INFO (without
// the usec fields, which it checks are well formed) and without INFO's.
func infoStats(t *testing.T, c *redis.Client) []string {
	t.Helper()
	text, err := c.Info(context.Background(), "commandstats", "errorstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(text, "\r\n") {
		if !strings.HasPrefix(l, "cmdstat_") && !strings.HasPrefix(l, "errorstat_") || strings.HasPrefix(l, "cmdstat_info:") {
			continue
		}
		if strings.HasPrefix(l, "cmdstat_") && !usecFields.MatchString(l) {
			t.Errorf("line without usec fields: %q", l)
		}
		out = append(out, usecFields.ReplaceAllString(l, ""))
	}
	return out
}

func runStatsScript(t *testing.T, c *redis.Client) {
	t.Helper()
	ctx := context.Background()
	conn := c.Conn() // MULTI ... EXEC on one connection
	defer conn.Close()
	for _, cmd := range statsScript {
		conn.Do(ctx, cmd...) // replies, errors included, are the server's own
	}
}

// TestCommandStats runs statsScript on a standalone server and on a
// replicated node (whose writes answer once their log entry applies) and
// compares INFO commandstats and errorstats with redis-server's; CONFIG
// RESETSTAT then empties both.
func TestCommandStats(t *testing.T) {
	for _, c := range []struct {
		name   string
		client func(t *testing.T) *redis.Client
	}{
		{"standalone", func(t *testing.T) *redis.Client { return startServer(t, Config{}).goRedis(t, 2) }},
		{"replicated", func(t *testing.T) *redis.Client {
			tc := startCluster(t, 1, Config{}, nil)
			return tc.client(tc.leader())
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := c.client(t)
			ctx := context.Background()
			before := infoStats(t, cl) // what setting up the test ran
			if err := cl.ConfigResetStat(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			runStatsScript(t, cl)
			got := infoStats(t, cl)
			if !slices.Equal(got, statsWant) {
				t.Errorf("before the reset %q\nafter the script:\n%s\nwant (redis-server 7.0.15):\n%s",
					before, strings.Join(got, "\n"), strings.Join(statsWant, "\n"))
			}
			if err := cl.ConfigResetStat(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			want := []string{"cmdstat_config|resetstat:calls=1,rejected_calls=0,failed_calls=0"}
			if got := infoStats(t, cl); !slices.Equal(got, want) {
				t.Errorf("after CONFIG RESETSTAT: %q, want %q", got, want)
			}
		})
	}
}

// TestErrorStatsLimit checks that errorstats keeps at most maxErrorCodes
// codes: the next new one leaves only ERRORSTATS_DISABLED, which then
// counts every error, until CONFIG RESETSTAT.
func TestErrorStatsLimit(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.goRedis(t, 2)
	ctx := context.Background()
	fail := func(code string) {
		t.Helper()
		if err := c.Eval(ctx, fmt.Sprintf("return redis.error_reply('%s boom')", code), nil).Err(); err == nil {
			t.Fatalf("script answered no error")
		}
	}
	errorLines := func() []string {
		var out []string
		for _, l := range infoStats(t, c) {
			if strings.HasPrefix(l, "errorstat_") {
				out = append(out, l)
			}
		}
		return out
	}
	for i := range maxErrorCodes {
		fail(fmt.Sprintf("E%d", i))
	}
	fail("E0")
	if got := errorLines(); len(got) != maxErrorCodes || !slices.Contains(got, "errorstat_E0:count=2") {
		t.Fatalf("%d codes kept (E0 twice?): %q", len(got), got[:min(len(got), 3)])
	}
	fail("ONEMORE")
	fail("E1")
	if got, want := errorLines(), []string{"errorstat_ERRORSTATS_DISABLED:count=2"}; !slices.Equal(got, want) {
		t.Fatalf("past the limit: %q, want %q", got, want)
	}
	if err := c.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	fail("AGAIN")
	if got, want := errorLines(), []string{"errorstat_AGAIN:count=1"}; !slices.Equal(got, want) {
		t.Fatalf("after CONFIG RESETSTAT: %q, want %q", got, want)
	}
}

// TestCommandStatsTransactionsAndSubscribers checks what EXEC counts (each
// command it runs, a subcommand as itself; none when WATCH aborts it) and
// that PING on a RESP2 subscriber's connection is a call, not a refusal.
func TestCommandStatsTransactionsAndSubscribers(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.goRedis(t, 2)
	ctx := context.Background()
	if err := c.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rc := ts.raw(t)
	rc.roundTrip("MULTI\r\nCONFIG GET maxclients\r\nSET x 1\r\nEXEC\r\n",
		"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n+OK\r\n")
	rc.roundTrip("WATCH w\r\n", "+OK\r\n")
	if err := c.Set(ctx, "w", "changed", 0).Err(); err != nil {
		t.Fatal(err)
	}
	rc.roundTrip("MULTI\r\nSET y 1\r\nEXEC\r\n", "+OK\r\n+QUEUED\r\n*-1\r\n")
	rc.roundTrip("SUBSCRIBE ch\r\nPING\r\n", "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n")
	want := []string{
		"cmdstat_config|get:calls=1,rejected_calls=0,failed_calls=0",
		"cmdstat_config|resetstat:calls=1,rejected_calls=0,failed_calls=0",
		"cmdstat_exec:calls=2,rejected_calls=0,failed_calls=0",
		"cmdstat_multi:calls=2,rejected_calls=0,failed_calls=0",
		"cmdstat_ping:calls=1,rejected_calls=0,failed_calls=0",
		"cmdstat_set:calls=2,rejected_calls=0,failed_calls=0", // EXEC's and the other client's
		"cmdstat_subscribe:calls=1,rejected_calls=0,failed_calls=0",
		"cmdstat_watch:calls=1,rejected_calls=0,failed_calls=0",
	}
	if got := infoStats(t, c); !slices.Equal(got, want) {
		t.Errorf("commandstats:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLatencyBuckets(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 15, 16, 17, 31, 32, 33, 100, 1000, 1023, 1024, 123456, 1 << 40, math.MaxInt64} {
		i := latencyBucket(v)
		if i < prev || i >= latencyBuckets {
			t.Fatalf("bucket(%d) = %d after %d (of %d)", v, i, prev, latencyBuckets)
		}
		prev = i
		up := latencyUpper(i)
		if up < v || up-v > v/16 {
			t.Errorf("bucket(%d) = %d holds up to %d: not within 1/16", v, i, up)
		}
		if i > 0 && latencyUpper(i-1) >= v {
			t.Errorf("bucket(%d) = %d, but bucket %d already holds up to %d", v, i, i-1, latencyUpper(i-1))
		}
	}
}

// TestLatencyStats checks INFO latencystats and its two settings against
// what redis-server 7.0.15 answers: the line format, the percentiles
// chosen, an empty list, refused values, and tracking turned off.
func TestLatencyStats(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.goRedis(t, 2)
	ctx := context.Background()
	for i := range 20 {
		c.Set(ctx, "k", i, 0)
	}
	c.Get(ctx, "k")
	lines := func() map[string]string {
		text, err := c.Info(ctx, "latencystats").Result()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, l := range strings.Split(text, "\r\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.HasPrefix(k, "latency_percentiles_usec_") {
				out[strings.TrimPrefix(k, "latency_percentiles_usec_")] = v
			}
		}
		return out
	}
	format := regexp.MustCompile(`^p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}$`)
	got := lines()
	for _, name := range []string{"set", "get", "hello"} {
		if !format.MatchString(got[name]) {
			t.Errorf("latency_percentiles_usec_%s:%s, want p50=…,p99=…,p99.9=…", name, got[name])
		}
	}
	if err := c.ConfigSet(ctx, "latency-tracking-info-percentiles", "50 99.5 100").Err(); err != nil {
		t.Fatal(err)
	}
	var ps []float64
	for _, kv := range strings.Split(lines()["set"], ",") {
		k, v, _ := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || k != []string{"p50", "p99.5", "p100"}[len(ps)] {
			t.Fatalf("set: %q in %q", kv, lines()["set"])
		}
		ps = append(ps, f)
	}
	if !slices.IsSorted(ps) || ps[0] <= 0 {
		t.Errorf("set's percentiles %v: not rising", ps)
	}
	if v, _ := c.ConfigGet(ctx, "latency-tracking-info-percentiles").Result(); v["latency-tracking-info-percentiles"] != "50 99.5 100" {
		t.Errorf("CONFIG GET: %v", v)
	}
	if err := c.ConfigSet(ctx, "latency-tracking-info-percentiles", "").Err(); err != nil {
		t.Fatal(err)
	}
	if v, ok := lines()["get"]; !ok || v != "" {
		t.Errorf("no percentiles: get's line %q (present %v), want an empty value", v, ok)
	}
	for val, want := range map[string]string{
		"101": "ERR CONFIG SET failed (possibly related to argument 'latency-tracking-info-percentiles') - latency-tracking-info-percentiles parameters should sit between [0.0,100.0]",
		"abc": "ERR CONFIG SET failed (possibly related to argument 'latency-tracking-info-percentiles') - Invalid latency-tracking-info-percentiles parameters",
	} {
		if err := c.ConfigSet(ctx, "latency-tracking-info-percentiles", val).Err(); err == nil || err.Error() != want {
			t.Errorf("CONFIG SET percentiles %q: %v, want %q", val, err, want)
		}
	}
	if err := c.ConfigSet(ctx, "latency-tracking", "maybe").Err(); err == nil ||
		err.Error() != "ERR CONFIG SET failed (possibly related to argument 'latency-tracking') - argument must be 'yes' or 'no'" {
		t.Errorf("CONFIG SET latency-tracking maybe: %v", err)
	}
	if err := c.ConfigSet(ctx, "latency-tracking", "no").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	c.Get(ctx, "k")
	if got := lines(); len(got) != 0 {
		t.Errorf("latency-tracking no, after CONFIG RESETSTAT: %v, want no line", got)
	}
}

// TestLatencyStatsInsideExec: a command EXEC runs gets a latency sample
// of its own, as in Redis (each runs through call()).
func TestLatencyStatsInsideExec(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.goRedis(t, 2)
	ctx := context.Background()
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, "h", "f", "v")
		p.HGet(ctx, "h", "f")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	text, err := c.Info(ctx, "latencystats", "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hset", "hget", "exec"} {
		if !strings.Contains(text, "latency_percentiles_usec_"+name+":p50=") {
			t.Errorf("no latency line for %s run by EXEC in:\n%s", name, text)
		}
		if !strings.Contains(text, "cmdstat_"+name+":calls=1,") {
			t.Errorf("cmdstat_%s: not one call in:\n%s", name, text)
		}
	}
}
