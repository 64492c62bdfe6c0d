package compat

import (
	"context"
	"encoding/csv"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// benchTests are the redis-benchmark tests run and the names their CSV
// lines carry.
var benchTests = map[string]string{
	"set":  "SET",
	"get":  "GET",
	"incr": "INCR",
	"mset": "MSET (10 keys)",
	"hset": "HSET",
}

// TestRedisBenchmark runs redis-benchmark with and without pipelining.
// Every test must produce a throughput line, nothing may be reported as
// an error (redis-benchmark exits at the first error reply), and the data
// it wrote must be there afterwards: the INCR counter counts every request.
func TestRedisBenchmark(t *testing.T) {
	bench := needTool(t, "redis-benchmark", "redis-tools")
	n := startNode(t)
	c := goRedisClient(t, n, 2)
	for _, tc := range []struct {
		name     string
		pipeline int
		requests int
	}{
		{"Pipelined16", 16, 20000},
		{"NoPipeline", 1, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			before, err := c.Get(ctx, "counter:__rand_int__").Int()
			if err != nil && !errors.Is(err, redis.Nil) {
				t.Fatalf("GET counter before: %v", err)
			}
			args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(n.port), "-t", "set,get,incr,mset,hset",
				"-n", strconv.Itoa(tc.requests), "-q", "--csv"}
			if tc.pipeline > 1 {
				args = append(args, "-P", strconv.Itoa(tc.pipeline))
			}
			res := run(t, 5*time.Minute, "", nil, bench, args...)
			report := "redis-benchmark " + strings.Join(args, " ") + "\nstdout:\n" + res.stdout + "\nstderr:\n" + res.stderr
			if res.err != nil {
				t.Fatalf("%v\n%s", res.err, report)
			}
			if res.stderr != "" {
				t.Fatalf("redis-benchmark wrote to stderr\n%s", report)
			}
			for _, bad := range []string{"ERR", "rror", "WARN"} {
				if strings.Contains(res.stdout, bad) {
					t.Fatalf("redis-benchmark output contains %q\n%s", bad, report)
				}
			}
			rows, err := csv.NewReader(strings.NewReader(res.stdout)).ReadAll()
			if err != nil || len(rows) == 0 {
				t.Fatalf("redis-benchmark CSV does not parse: %v\n%s", err, report)
			}
			if len(rows[0]) < 2 || rows[0][0] != "test" || rows[0][1] != "rps" {
				t.Fatalf("redis-benchmark CSV header = %q\n%s", rows[0], report)
			}
			seen := map[string]int{}
			for _, row := range rows[1:] {
				rps, err := strconv.ParseFloat(row[1], 64)
				if err != nil || rps <= 0 {
					t.Errorf("redis-benchmark %s: rps %q is not a positive number", row[0], row[1])
				}
				seen[row[0]]++
			}
			for _, name := range benchTests {
				if seen[name] != 1 {
					t.Errorf("redis-benchmark printed %d throughput lines for %s, want 1", seen[name], name)
				}
			}
			if len(rows)-1 != len(benchTests) {
				t.Errorf("redis-benchmark printed %d throughput lines, want %d", len(rows)-1, len(benchTests))
			}
			if t.Failed() {
				t.Fatal(report)
			}

			// The writes landed: every INCR counted, SET/MSET and HSET stored 3-byte values.
			if got, err := c.Get(ctx, "counter:__rand_int__").Int(); err != nil || got != before+tc.requests {
				t.Errorf("GET counter:__rand_int__ = %d, %v; want %d (one per INCR request)", got, err, before+tc.requests)
			}
			if got, err := c.Get(ctx, "key:__rand_int__").Result(); err != nil || len(got) != 3 {
				t.Errorf("GET key:__rand_int__ = %q, %v; want a 3-byte value", got, err)
			}
			if got, err := c.HGet(ctx, "myhash", "element:__rand_int__").Result(); err != nil || len(got) != 3 {
				t.Errorf("HGET myhash element:__rand_int__ = %q, %v; want a 3-byte value", got, err)
			}
		})
	}
}
