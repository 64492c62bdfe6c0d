package server

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestZSetGoRedis drives the sorted set commands through go-redis in
// both protocols: the typed replies (scores as floats, Z pairs) must
// parse.
func TestZSetGoRedis(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprint("RESP", proto), func(t *testing.T) {
			c := ts.goRedis(t, proto)
			key := fmt.Sprint("z", proto)
			if n, err := c.ZAdd(ctx, key, redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2.5, Member: "b"}, redis.Z{Score: 3, Member: "c"}).Result(); err != nil || n != 3 {
				t.Fatalf("ZADD: %v %v", n, err)
			}
			if f, err := c.ZIncrBy(ctx, key, 0.5, "a").Result(); err != nil || f != 1.5 {
				t.Fatalf("ZINCRBY: %v %v", f, err)
			}
			if f, err := c.ZScore(ctx, key, "b").Result(); err != nil || f != 2.5 {
				t.Fatalf("ZSCORE: %v %v", f, err)
			}
			if fs, err := c.ZMScore(ctx, key, "a", "c").Result(); err != nil || !reflect.DeepEqual(fs, []float64{1.5, 3}) {
				t.Fatalf("ZMSCORE: %v %v", fs, err)
			}
			zs, err := c.ZRangeWithScores(ctx, key, 0, -1).Result()
			want := []redis.Z{{Score: 1.5, Member: "a"}, {Score: 2.5, Member: "b"}, {Score: 3, Member: "c"}}
			if err != nil || !reflect.DeepEqual(zs, want) {
				t.Fatalf("ZRANGE WITHSCORES: %v %v", zs, err)
			}
			ms, err := c.ZRangeByScore(ctx, key, &redis.ZRangeBy{Min: "(1.5", Max: "+inf"}).Result()
			if err != nil || !reflect.DeepEqual(ms, []string{"b", "c"}) {
				t.Fatalf("ZRANGEBYSCORE: %v %v", ms, err)
			}
			if r, err := c.ZRevRank(ctx, key, "a").Result(); err != nil || r != 2 {
				t.Fatalf("ZREVRANK: %v %v", r, err)
			}
			if n, err := c.ZCount(ctx, key, "-inf", "(3").Result(); err != nil || n != 2 {
				t.Fatalf("ZCOUNT: %v %v", n, err)
			}
			popped, err := c.ZPopMax(ctx, key).Result()
			if err != nil || !reflect.DeepEqual(popped, []redis.Z{{Score: 3, Member: "c"}}) {
				t.Fatalf("ZPOPMAX: %v %v", popped, err)
			}
			popped, err = c.ZPopMin(ctx, key, 5).Result()
			if err != nil || len(popped) != 2 || popped[0].Member != "a" {
				t.Fatalf("ZPOPMIN 5: %v %v", popped, err)
			}
			if n, err := c.Exists(ctx, key).Result(); err != nil || n != 0 {
				t.Fatalf("emptied key still exists: %v %v", n, err)
			}
			if err := c.ZAdd(ctx, key, redis.Z{Score: 1, Member: "x"}).Err(); err != nil {
				t.Fatal(err)
			}
			if err := c.ZAddArgsIncr(ctx, key, redis.ZAddArgs{NX: true, Members: []redis.Z{{Score: 1, Member: "x"}}}).Err(); err != redis.Nil {
				t.Fatalf("ZADD NX INCR on an existing member: %v, want redis.Nil", err)
			}
		})
	}
}

// TestZSetRawReplies checks exact bytes where RESP2 and RESP3 differ:
// scores as bulk strings or doubles, ZPOPMIN's flat pair without a count.
func TestZSetRawReplies(t *testing.T) {
	ts := startServer(t, Config{})
	rc := ts.raw(t)
	rc.roundTrip("*4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$3\r\n1.1\r\n$1\r\na\r\n", ":1\r\n")
	rc.roundTrip("*3\r\n$6\r\nZSCORE\r\n$1\r\nz\r\n$1\r\na\r\n", "$18\r\n1.1000000000000001\r\n")
	rc.roundTrip("*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*1\r\n$4\r\nPING\r\n", "%")
	drainUntil(t, rc, "+PONG\r\n")
	rc.roundTrip("*3\r\n$6\r\nZSCORE\r\n$1\r\nz\r\n$1\r\na\r\n", ",1.1000000000000001\r\n")
	rc.roundTrip("*5\r\n$6\r\nZRANGE\r\n$1\r\nz\r\n$1\r\n0\r\n$2\r\n-1\r\n$10\r\nWITHSCORES\r\n",
		"*1\r\n*2\r\n$1\r\na\r\n,1.1000000000000001\r\n")
	rc.roundTrip("*2\r\n$7\r\nZPOPMIN\r\n$1\r\nz\r\n", "*2\r\n$1\r\na\r\n,1.1000000000000001\r\n")
	rc.roundTrip("*3\r\n$7\r\nZPOPMIN\r\n$1\r\nz\r\n$2\r\n-1\r\n", "-ERR value is out of range, must be positive\r\n")
}

// drainUntil reads until what was read ends with end.
func drainUntil(t *testing.T, rc *rawConn, end string) {
	t.Helper()
	rc.nc.SetDeadline(time.Now().Add(10 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for !strings.HasSuffix(string(got), end) {
		n, err := rc.nc.Read(buf)
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, got)
		}
		got = append(got, buf[:n]...)
	}
}
