package compat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestGoRedisReplyTypes checks that replies decode to the types the RESP
// version promises: maps, integers and nulls in RESP3, flat arrays in RESP2.
func TestGoRedisReplyTypes(t *testing.T) {
	for _, proto := range protocols {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			n := startNode(t)
			c := goRedisClient(t, n, proto)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			hello, err := c.Do(ctx, "HELLO", strconv.Itoa(proto)).Result()
			if err != nil {
				t.Fatalf("HELLO %d: %v", proto, err)
			}
			if _, isMap := hello.(map[interface{}]interface{}); isMap != (proto == 3) {
				t.Fatalf("HELLO %d decoded as %T; want a map only in RESP3", proto, hello)
			}
			for name, want := range map[string]interface{}{"server": "redis", "proto": int64(proto), "mode": "standalone", "role": "master"} {
				if got, ok := helloField(hello, name); !ok || got != want {
					t.Errorf("HELLO %d: %s = %#v, want %#v (reply %#v)", proto, name, got, want, hello)
				}
			}
			if v, ok := helloField(hello, "version"); !ok || v == "" {
				t.Errorf("HELLO %d: no version (reply %#v)", proto, hello)
			}
			if v, ok := helloField(hello, "id"); !ok {
				t.Errorf("HELLO %d: no id (reply %#v)", proto, hello)
			} else if _, isInt := v.(int64); !isInt {
				t.Errorf("HELLO %d: id = %#v, want an integer", proto, v)
			}

			key := "sess:typed"
			if err := c.HSet(ctx, key, "user", "u1", "csrf", "t9").Err(); err != nil {
				t.Fatalf("HSET: %v", err)
			}
			if err := c.Expire(ctx, key, sessionTTL*time.Second).Err(); err != nil {
				t.Fatalf("EXPIRE: %v", err)
			}
			all, err := c.Do(ctx, "HGETALL", key).Result()
			if err != nil {
				t.Fatalf("HGETALL: %v", err)
			}
			switch r := all.(type) {
			case map[interface{}]interface{}:
				if proto != 3 || len(r) != 2 || r["user"] != "u1" || r["csrf"] != "t9" {
					t.Fatalf("HGETALL over RESP%d = %#v; want map[user:u1 csrf:t9] in RESP3 only", proto, r)
				}
			case []interface{}:
				if proto != 2 || len(r) != 4 || r[0] != "user" || r[1] != "u1" || r[2] != "csrf" || r[3] != "t9" {
					t.Fatalf("HGETALL over RESP%d = %#v; want [user u1 csrf t9] in RESP2 only", proto, r)
				}
			default:
				t.Fatalf("HGETALL over RESP%d decoded as %T (%#v)", proto, all, all)
			}
			empty, err := c.Do(ctx, "HGETALL", "sess:none").Result()
			if err != nil {
				t.Fatalf("HGETALL missing: %v", err)
			}
			if m, isMap := empty.(map[interface{}]interface{}); proto == 3 && (!isMap || len(m) != 0) {
				t.Fatalf("HGETALL missing over RESP3 = %#v; want an empty map", empty)
			}
			if a, isArr := empty.([]interface{}); proto == 2 && (!isArr || len(a) != 0) {
				t.Fatalf("HGETALL missing over RESP2 = %#v; want an empty array", empty)
			}
			ttl, err := c.Do(ctx, "TTL", key).Result()
			if v, isInt := ttl.(int64); err != nil || !isInt || !ttlInRange(v, sessionTTL) {
				t.Fatalf("TTL = %#v (%T), %v; want an int64 near %d", ttl, ttl, err, sessionTTL)
			}
			if v, err := c.Do(ctx, "HGET", key, "nosuch").Result(); !errors.Is(err, redis.Nil) {
				t.Fatalf("HGET of a missing field = %#v, %v; want redis.Nil", v, err)
			}
			if v, err := c.Do(ctx, "TYPE", key).Result(); err != nil || v != "hash" {
				t.Fatalf("TYPE = %#v, %v; want hash", v, err)
			}
			scan, err := c.Do(ctx, "SCAN", "0", "MATCH", "sess:*", "COUNT", "100").Result()
			if err != nil {
				t.Fatalf("SCAN: %v", err)
			}
			if r, ok := scan.([]interface{}); !ok || len(r) != 2 || r[0] != "0" {
				t.Fatalf("SCAN 0 = %#v; want [\"0\" [sess:typed]]", scan)
			} else if keys, ok := r[1].([]interface{}); !ok || len(keys) != 1 || keys[0] != key {
				t.Fatalf("SCAN 0 keys = %#v; want [sess:typed]", r[1])
			}
			cfg, err := c.Do(ctx, "CONFIG", "GET", "maxmemory").Result()
			if err != nil {
				t.Fatalf("CONFIG GET maxmemory: %v", err)
			}
			switch r := cfg.(type) {
			case map[interface{}]interface{}:
				if proto != 3 || len(r) != 1 || r["maxmemory"] != "0" {
					t.Fatalf("CONFIG GET maxmemory over RESP%d = %#v; want map[maxmemory:0] in RESP3 only", proto, r)
				}
			case []interface{}:
				if proto != 2 || len(r) != 2 || r[0] != "maxmemory" || r[1] != "0" {
					t.Fatalf("CONFIG GET maxmemory over RESP%d = %#v; want [maxmemory 0] in RESP2 only", proto, r)
				}
			default:
				t.Fatalf("CONFIG GET maxmemory decoded as %T (%#v)", cfg, cfg)
			}
			info, err := c.Info(ctx, "server").Result()
			if err != nil {
				t.Fatalf("INFO server: %v", err)
			}
			for _, want := range []string{"# Server", "redis_version:", "redis_mode:standalone", fmt.Sprintf("process_id:%d\r\n", n.pid()), fmt.Sprintf("tcp_port:%d\r\n", n.port)} {
				if !strings.Contains(info, want) {
					t.Fatalf("INFO server lacks %q:\n%s", want, info)
				}
			}
			full, err := c.Info(ctx).Result()
			if err != nil {
				t.Fatalf("INFO: %v", err)
			}
			checkInfo(t, full)
		})
	}
}

// infoSections are the sections a plain INFO prints, in Redis 7's order.
var infoSections = []string{"Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules", "Errorstats", "Cluster", "Keyspace", "Raft"}

// checkInfo checks a plain INFO reply the way monitoring tools parse it:
// CRLF lines, each a "# Section" header, a "field:value" or empty; the
// default sections in order; the fields dashboards read.
func checkInfo(t *testing.T, info string) {
	t.Helper()
	if !strings.HasSuffix(info, "\r\n") {
		t.Errorf("INFO does not end in CRLF: %q", info[max(0, len(info)-20):])
	}
	var sections []string
	fields := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(info, "\r\n"), "\r\n") {
		switch {
		case line == "":
		case strings.HasPrefix(line, "# "):
			sections = append(sections, line[2:])
		case strings.Contains(line, ":") && !strings.ContainsAny(line, "\r\n"):
			k, v, _ := strings.Cut(line, ":")
			fields[k] = v
		default:
			t.Errorf("INFO line %q is neither a section header nor field:value", line)
		}
	}
	if !slices.Equal(sections, infoSections) {
		t.Errorf("INFO sections = %v, want %v", sections, infoSections)
	}
	for _, f := range []string{"redis_version", "uptime_in_seconds", "connected_clients", "used_memory", "maxmemory", "total_commands_processed", "keyspace_hits", "keyspace_misses", "expired_keys", "evicted_keys", "role"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("INFO has no %s field", f)
		}
	}
	if fields["role"] != "master" {
		t.Errorf("INFO role = %q, want master", fields["role"])
	}
	if v, err := strconv.Atoi(fields["connected_clients"]); err != nil || v < 1 {
		t.Errorf("INFO connected_clients = %q, want at least 1", fields["connected_clients"])
	}
}
