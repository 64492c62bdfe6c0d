package bench

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{7}, 7},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1000}, 10},
		{[]float64{5, 5, 5, 5, 5}, 5},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.in)
		if got := median(in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
		if !slices.Equal(in, tt.in) {
			t.Errorf("median modified its input: %v, was %v", in, tt.in)
		}
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		num, den float64
		ok       bool
		want     *float64
	}{
		{50, 100, true, ptr(0.5)},
		{150, 100, true, ptr(1.5)},
		{1, 0, true, nil},
		{1, 2, false, nil},
	}
	for _, tt := range tests {
		got := ratio(tt.num, tt.den, tt.ok)
		if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
			t.Errorf("ratio(%v, %v, %v) = %v, want %v", tt.num, tt.den, tt.ok, deref(got), deref(tt.want))
		}
	}
}

func ptr(v float64) *float64 { return &v }

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestThousands(t *testing.T) {
	tests := map[int64]string{0: "0", 999: "999", 1000: "1,000", 123456: "123,456", 1234567: "1,234,567", -1234: "-1,234"}
	for n, want := range tests {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// sample builds a successful sample.
func sample(round int, server, workload string, pipeline int, rps, p50, p99 float64) Sample {
	return Sample{Round: round, Server: server, Workload: workload, Pipeline: pipeline,
		Measure: Measure{RPS: rps, P50Ms: p50, P99Ms: p99}}
}

// failed builds a failed sample.
func failed(round int, server, workload string, pipeline int, msg string) Sample {
	return Sample{Round: round, Server: server, Workload: workload, Pipeline: pipeline, Error: msg}
}

func TestSummarize(t *testing.T) {
	samples := []Sample{
		// Passes run P1 then P16 for each server; the rows come out grouped
		// by workload (first-seen order), then by depth.
		sample(1, Redis, "SET", 1, 100, 0.5, 1.0),
		sample(1, Redis, "GET", 1, 200, 0.4, 0.8),
		sample(1, Redis, "SET", 16, 1000, 1.0, 2.0),
		sample(1, Sessiond, "SET", 1, 80, 0.6, 1.5),
		failed(1, Sessiond, "GET", 1, "ERR unknown command 'GET'"),
		sample(1, Sessiond, "SET", 16, 900, 1.1, 2.2),
		sample(2, Sessiond, "SET", 1, 90, 0.7, 1.7),
		failed(2, Sessiond, "GET", 1, "ERR unknown command 'GET'"),
		failed(2, Sessiond, "SET", 16, "redis-benchmark stopped after 1m30s"),
		sample(2, Redis, "SET", 1, 120, 0.4, 0.9),
		sample(2, Redis, "GET", 1, 220, 0.3, 0.7),
		sample(2, Redis, "SET", 16, 1100, 0.9, 1.8),
		sample(3, Redis, "SET", 1, 110, 0.45, 5.0),
		sample(3, Sessiond, "SET", 1, 70, 0.8, 1.6),
	}
	rows := Summarize(samples)
	var order []string
	for _, r := range rows {
		order = append(order, r.Workload+"/"+strconv.Itoa(r.Pipeline))
	}
	if want := []string{"SET/1", "SET/16", "GET/1"}; !slices.Equal(order, want) {
		t.Fatalf("row order = %v, want %v", order, want)
	}

	set1 := rows[0]
	wantRedis := Stat{Runs: 3, OK: 3, RPS: 110, P50Ms: 0.45, P99Ms: 1.0}
	wantSess := Stat{Runs: 3, OK: 3, RPS: 80, P50Ms: 0.7, P99Ms: 1.6}
	if !statEqual(set1.Redis, wantRedis) || !statEqual(set1.Sessiond, wantSess) {
		t.Fatalf("SET/1 stats = %+v / %+v, want %+v / %+v", set1.Redis, set1.Sessiond, wantRedis, wantSess)
	}
	checkRatio(t, "SET/1 rps", set1.RPSRatio, 80.0/110)
	checkRatio(t, "SET/1 p50", set1.P50Ratio, 0.7/0.45)
	checkRatio(t, "SET/1 p99", set1.P99Ratio, 1.6/1.0)

	set16 := rows[1]
	if set16.Sessiond.OK != 1 || set16.Sessiond.Runs != 2 || set16.Sessiond.RPS != 900 {
		t.Fatalf("SET/16 sessiond = %+v, want the one successful run of two", set16.Sessiond)
	}
	if !slices.Equal(set16.Sessiond.Errors, []string{"redis-benchmark stopped after 1m30s"}) {
		t.Fatalf("SET/16 errors = %q", set16.Sessiond.Errors)
	}
	checkRatio(t, "SET/16 rps", set16.RPSRatio, 900.0/1050)

	get1 := rows[2]
	if get1.Sessiond.OK != 0 || !slices.Equal(get1.Sessiond.Errors, []string{"ERR unknown command 'GET'"}) {
		t.Fatalf("GET/1 sessiond = %+v, want two failures with one distinct error", get1.Sessiond)
	}
	if get1.RPSRatio != nil || get1.P50Ratio != nil || get1.P99Ratio != nil {
		t.Fatalf("GET/1 ratios = %v %v %v, want none when sessiond failed", deref(get1.RPSRatio), deref(get1.P50Ratio), deref(get1.P99Ratio))
	}
}

func statEqual(a, b Stat) bool {
	return a.Runs == b.Runs && a.OK == b.OK && a.RPS == b.RPS && a.P50Ms == b.P50Ms && a.P99Ms == b.P99Ms && slices.Equal(a.Errors, b.Errors)
}

func checkRatio(t *testing.T, name string, got *float64, want float64) {
	t.Helper()
	if got == nil || math.Abs(*got-want) > 1e-9 {
		t.Fatalf("%s ratio = %v, want %v", name, deref(got), want)
	}
}

func TestMemResultPerSession(t *testing.T) {
	m := MemResult{Sessions: 1000, BaselineUsed: 1_000_000, Used: 1_300_000, BaselineRSS: 8_000_000, RSS: 8_500_000}
	if v, ok := m.UsedPerSession(); !ok || v != 300 {
		t.Fatalf("UsedPerSession = %v, %v; want 300", v, ok)
	}
	if v, ok := m.RSSPerSession(); !ok || v != 500 {
		t.Fatalf("RSSPerSession = %v, %v; want 500", v, ok)
	}
	m.UsedError = "INFO memory: ERR not implemented yet"
	if _, ok := m.UsedPerSession(); ok {
		t.Fatal("UsedPerSession known despite UsedError")
	}
	if _, ok := m.RSSPerSession(); !ok {
		t.Fatal("RSSPerSession unknown although only used_memory failed")
	}
	m.Error = "loading sessions: ERR"
	if _, ok := m.RSSPerSession(); ok {
		t.Fatal("RSSPerSession known despite a failed load")
	}
}

func TestMarkdown(t *testing.T) {
	rep := &Report{
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Config:  Config{Rounds: 3, Clients: 50, Pipelines: []int{1, 16}, Keys: 100000, Requests: 150000, RequestsPipelined: 1000000, ServerCPU: "0", ClientCPU: "1", MixTime: 3 * time.Second},
		Env:     Env{RedisVersion: "Redis server v=7.0.15 sha=00000000:0", SessiondVersion: "sessiond v=0.1.0 redis_version=7.0.15", SessiondGOMAXPROCS: 1},
		Samples: []Sample{
			sample(1, Redis, "SET", 1, 123456.7, 0.25, 0.5),
			sample(1, Sessiond, "SET", 1, 61728.4, 0.5, 2.0),
			sample(1, Redis, "HGETALL", 1, 1000, 1, 1),
			failed(1, Sessiond, "HGETALL", 1, "ERR unknown command"),
			sample(2, Redis, "SET", 1, 123456.7, 0.25, 0.5),
			sample(2, Sessiond, "SET", 1, 61728.4, 0.5, 2.0),
			sample(2, Redis, "HGETALL", 1, 1000, 1, 1),
			failed(2, Sessiond, "HGETALL", 1, "ERR unknown command"),
		},
		Memory: []MemResult{
			{Server: Redis, Sessions: 1000, BaselineUsed: 1000, Used: 201000, BaselineRSS: 1000, RSS: 301000},
			{Server: Sessiond, Sessions: 1000, BaselineRSS: 1000, RSS: 601000, UsedError: "INFO memory: ERR not implemented yet"},
		},
	}
	rep.Rows = Summarize(rep.Samples)
	md := Markdown(rep)
	for _, want := range []string{
		"redis-server 7.0.15 and sessiond 0.1.0 (GOMAXPROCS=1)",
		"Median of 2 rounds",
		"| SET | 1 | 123,457 | 61,728 | 0.50 | 0.250 | 0.500 | 2.00 | 0.500 | 2.000 | 4.00 |",
		"| HGETALL | 1 | 1,000 | failed | – | 1.000 | failed | – | 1.000 | failed | – |",
		"- sessiond HGETALL P1 (2 of 2 runs failed): ERR unknown command",
		"| redis | 0.2 MiB | 200 | 0.3 MiB | 300 | 0.0 |",
		"| sessiond | n/a | n/a | 0.6 MiB | 600 | 0.0 |",
		"| ratio sessiond/redis | | – | | 2.00 | |",
		"- sessiond used_memory: INFO memory: ERR not implemented yet",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q\n%s", want, md)
		}
	}
	if strings.Contains(md, "Partial results") || strings.Contains(md, "Fewer rounds") {
		t.Error("complete run marked partial")
	}
	rep.Truncated = "stopped after 2 of 3 rounds"
	if !strings.Contains(Markdown(rep), "Fewer rounds than asked: stopped after 2 of 3 rounds.") {
		t.Error("truncated run not marked")
	}
	rep.Interrupted = "context canceled"
	if !strings.Contains(Markdown(rep), "Partial results: the run was interrupted (context canceled)") {
		t.Error("interrupted run not marked partial")
	}
}

func TestReportJSON(t *testing.T) {
	rep := &Report{
		Config: Config{Redis: RedisSpec("/usr/bin/redis-server", nil), Workloads: Workloads("v")},
		Rows:   Summarize([]Sample{sample(1, Redis, "GET", 1, 10, 1, 1), failed(1, Sessiond, "GET", 1, "boom")}),
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"needs":"session hashes"`, `"binary":"/usr/bin/redis-server"`, `"errors":["boom"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	if strings.Contains(string(b), "rps_ratio") {
		t.Error("JSON has a ratio for a failed comparison")
	}
}
