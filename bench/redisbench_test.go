package bench

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// csvHeader is redis-benchmark 7.0's --csv header line.
const csvHeader = `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"` + "\n"

func TestParseBenchmarkCSV(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    Measure
		wantErr string
	}{
		{
			name: "redis 7 output",
			out:  csvHeader + `"HGETALL sess:__rand_int__","95238.09","0.126","0.032","0.111","0.223","0.559","1.463"` + "\n",
			want: Measure{RPS: 95238.09, AvgMs: 0.126, MinMs: 0.032, P50Ms: 0.111, P95Ms: 0.223, P99Ms: 0.559, MaxMs: 1.463},
		},
		{
			name: "command with quotes and commas in its name",
			out:  csvHeader + `"SET str:__rand_int__ ""a,b""","1000.00","1","0","2","3","4","5"` + "\n",
			want: Measure{RPS: 1000, AvgMs: 1, P50Ms: 2, P95Ms: 3, P99Ms: 4, MaxMs: 5},
		},
		{
			name: "first test of several",
			out:  csvHeader + `"SET","10","1","1","1","1","1","1"` + "\n" + `"GET","20","2","2","2","2","2","2"` + "\n",
			want: Measure{RPS: 10, AvgMs: 1, MinMs: 1, P50Ms: 1, P95Ms: 1, P99Ms: 1, MaxMs: 1},
		},
		{
			name: "columns in another order, extra column",
			out:  `"test","p99_latency_ms","extra","p50_latency_ms","rps"` + "\n" + `"GET","0.5","x","0.2","300.5"` + "\n",
			want: Measure{RPS: 300.5, P50Ms: 0.2, P99Ms: 0.5},
		},
		{name: "stopped on an error reply", out: csvHeader, wantErr: "no result line"},
		{name: "empty", out: "", wantErr: "no header line"},
		{name: "not csv", out: "Summary:\n  throughput summary: 5.00 requests per second\n", wantErr: "no header line"},
		{
			name:    "missing p99",
			out:     `"test","rps","p50_latency_ms"` + "\n" + `"GET","1","2"` + "\n",
			wantErr: "no p99_latency_ms column",
		},
		{
			name:    "not a number",
			out:     csvHeader + `"GET","fast","1","1","1","1","1","1"` + "\n",
			wantErr: "column rps",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBenchmarkCSV([]byte(tt.out))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBenchmarkFailure(t *testing.T) {
	exitErr := errors.New("exit status 1")
	tests := []struct {
		name      string
		stderr    string
		runErr    error
		want      string
		wantReply bool
	}{
		{
			name:      "server error reply",
			stderr:    "WARNING: Could not fetch server CONFIG\nError from server: ERR unknown command 'HGETALL', with args beginning with: 'sess:000000000005' \n",
			want:      "ERR unknown command 'HGETALL', with args beginning with: 'sess:000000000005'",
			wantReply: true,
		},
		{
			name:   "connection failure",
			stderr: "Could not connect to Redis at 127.0.0.1:1: Connection refused\n",
			want:   "redis-benchmark: Could not connect to Redis at 127.0.0.1:1: Connection refused",
		},
		{name: "warnings only", stderr: "WARNING: Could not fetch server CONFIG\n", runErr: exitErr, want: "redis-benchmark: exit status 1"},
		{name: "nothing", want: "redis-benchmark failed without a message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := benchmarkFailure([]byte(tt.stderr), tt.runErr)
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %q, want prefix %q", err, tt.want)
			}
			var re *ReplyError
			if errors.As(err, &re) != tt.wantReply {
				t.Fatalf("is ReplyError = %v, want %v", !tt.wantReply, tt.wantReply)
			}
		})
	}
}

func TestBenchmarkRunArgs(t *testing.T) {
	b := benchmarkRun{
		Binary: "/usr/bin/redis-benchmark", Taskset: "/usr/bin/taskset", CPU: "1",
		Host: "127.0.0.1", Port: 4242, Clients: 50, Requests: 1000, Pipeline: 16, Keys: 100000,
		Command: []string{"GET", "str:__rand_int__"},
	}
	want := []string{"/usr/bin/taskset", "-c", "1", "/usr/bin/redis-benchmark", "-h", "127.0.0.1", "-p", "4242",
		"-c", "50", "-n", "1000", "-P", "16", "-r", "100000", "--csv", "GET", "str:__rand_int__"}
	if got := b.args(); !slices.Equal(got, want) {
		t.Fatalf("args = %q\nwant   %q", got, want)
	}
	b.Taskset = ""
	if got := b.args(); !slices.Equal(got, want[3:]) {
		t.Fatalf("unpinned args = %q\nwant %q", got, want[3:])
	}
}
