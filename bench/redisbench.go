package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Measure is one run's throughput and latency, as redis-benchmark's --csv
// reports them: requests per second and latencies in milliseconds.
type Measure struct {
	RPS   float64 `json:"rps"`
	AvgMs float64 `json:"avg_ms"`
	MinMs float64 `json:"min_ms"`
	P50Ms float64 `json:"p50_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// csvColumns maps redis-benchmark's CSV header names to Measure's fields.
var csvColumns = map[string]func(*Measure) *float64{
	"rps":            func(m *Measure) *float64 { return &m.RPS },
	"avg_latency_ms": func(m *Measure) *float64 { return &m.AvgMs },
	"min_latency_ms": func(m *Measure) *float64 { return &m.MinMs },
	"p50_latency_ms": func(m *Measure) *float64 { return &m.P50Ms },
	"p95_latency_ms": func(m *Measure) *float64 { return &m.P95Ms },
	"p99_latency_ms": func(m *Measure) *float64 { return &m.P99Ms },
	"max_latency_ms": func(m *Measure) *float64 { return &m.MaxMs },
}

// parseBenchmarkCSV parses the output of one redis-benchmark --csv test
// (Redis 7: a header line naming the columns, then one line per test) and
// returns the first test's figures. It fails when there is no data line,
// which is what redis-benchmark leaves when it stops on an error reply,
// or when rps or p50/p99 are missing or not numbers.
func parseBenchmarkCSV(out []byte) (Measure, error) {
	r := csv.NewReader(bytes.NewReader(out))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return Measure{}, fmt.Errorf("redis-benchmark CSV: %w", err)
	}
	header := -1
	for i, row := range rows {
		if len(row) > 1 && row[0] == "test" {
			header = i
			break
		}
	}
	if header < 0 {
		return Measure{}, errors.New("redis-benchmark CSV: no header line")
	}
	if header+1 >= len(rows) {
		return Measure{}, errors.New("redis-benchmark CSV: no result line")
	}
	names, vals := rows[header], rows[header+1]
	var m Measure
	seen := map[string]bool{}
	for i, name := range names {
		field, ok := csvColumns[name]
		if !ok || i >= len(vals) {
			continue
		}
		v, err := strconv.ParseFloat(vals[i], 64)
		if err != nil {
			return Measure{}, fmt.Errorf("redis-benchmark CSV: column %s: %w", name, err)
		}
		*field(&m) = v
		seen[name] = true
	}
	for _, need := range []string{"rps", "p50_latency_ms", "p99_latency_ms"} {
		if !seen[need] {
			return Measure{}, fmt.Errorf("redis-benchmark CSV: no %s column", need)
		}
	}
	return m, nil
}

// benchmarkFailure explains a failed redis-benchmark run from its stderr:
// the server's error reply when redis-benchmark printed one ("Error from
// server: ..."), else its last line that is not a warning, else runErr.
func benchmarkFailure(stderr []byte, runErr error) error {
	var last string
	for _, line := range strings.Split(string(stderr), "\n") {
		line = strings.TrimSpace(line)
		if msg, ok := strings.CutPrefix(line, "Error from server: "); ok {
			return &ReplyError{Msg: msg}
		}
		if line != "" && !strings.HasPrefix(line, "WARNING") {
			last = line
		}
	}
	if last != "" {
		return fmt.Errorf("redis-benchmark: %s", last)
	}
	if runErr != nil {
		return fmt.Errorf("redis-benchmark: %w", runErr)
	}
	return errors.New("redis-benchmark failed without a message")
}

// benchmarkRun is one redis-benchmark invocation.
type benchmarkRun struct {
	Binary   string   // redis-benchmark
	Taskset  string   // taskset, or "" not to pin
	CPU      string   // taskset -c list for the client
	Host     string   // server host
	Port     int      // server port
	Clients  int      // -c
	Requests int      // -n
	Pipeline int      // -P
	Keys     int      // -r
	Command  []string // the command line, with __rand_int__
}

// args returns the full command line, taskset first when pinning.
func (b benchmarkRun) args() []string {
	var args []string
	if b.Taskset != "" {
		args = append(args, b.Taskset, "-c", b.CPU)
	}
	args = append(args, b.Binary,
		"-h", b.Host, "-p", strconv.Itoa(b.Port),
		"-c", strconv.Itoa(b.Clients), "-n", strconv.Itoa(b.Requests),
		"-P", strconv.Itoa(b.Pipeline), "-r", strconv.Itoa(b.Keys), "--csv")
	return append(args, b.Command...)
}

// run executes redis-benchmark, killing it after timeout, and returns the
// parsed figures or the reason it failed.
func (b benchmarkRun) run(ctx context.Context, timeout time.Duration) (Measure, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := b.args()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return Measure{}, fmt.Errorf("redis-benchmark stopped after %s: %w", timeout, ctx.Err())
	}
	if err != nil {
		return Measure{}, benchmarkFailure(stderr.Bytes(), err)
	}
	m, err := parseBenchmarkCSV(stdout.Bytes())
	if err != nil && len(bytes.TrimSpace(stderr.Bytes())) > 0 {
		err = fmt.Errorf("%w (%w)", err, benchmarkFailure(stderr.Bytes(), nil))
	}
	if err != nil {
		return Measure{}, err
	}
	return m, nil
}
