package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// hashConn is a raw connection that reads whole RESP replies.
type hashConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

// hashDial connects to ts, switching to RESP3 if proto is 3.
func hashDial(t testing.TB, ts *testServer, proto int) *hashConn {
	t.Helper()
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	hc := &hashConn{t: t, nc: nc, br: bufio.NewReader(nc)}
	if proto == 3 {
		hc.do("HELLO", "3")
	}
	return hc
}

// hashRESP encodes args as a RESP command.
func hashRESP(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// do sends args and returns the raw reply.
func (hc *hashConn) do(args ...string) string {
	hc.t.Helper()
	hc.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := hc.nc.Write([]byte(hashRESP(args...))); err != nil {
		hc.t.Fatalf("write: %v", err)
	}
	var b strings.Builder
	if err := hashReadValue(hc.br, &b); err != nil {
		hc.t.Fatalf("%q: reading reply: %v (got %q)", args, err, b.String())
	}
	return b.String()
}

// hashReadValue copies one RESP2 or RESP3 value from br to b.
func hashReadValue(br *bufio.Reader, b *strings.Builder) error {
	line, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	b.WriteString(line)
	if len(line) < 3 {
		return fmt.Errorf("short line %q", line)
	}
	n, _ := strconv.Atoi(line[1 : len(line)-2])
	switch line[0] {
	case '$', '=', '!':
		if n < 0 {
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return err
		}
		b.Write(buf)
	case '*', '~', '>', '%', '|':
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for range n {
			if err := hashReadValue(br, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// RESP building blocks for the expected replies.
func hb(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

func hints(ns ...int64) string {
	s := fmt.Sprintf("*%d\r\n", len(ns))
	for _, n := range ns {
		s += fmt.Sprintf(":%d\r\n", n)
	}
	return s
}

func hbulks(ss ...string) string {
	s := fmt.Sprintf("*%d\r\n", len(ss))
	for _, x := range ss {
		s += hb(x)
	}
	return s
}

type hashRawCase struct {
	cmd          []string
	want2, want3 string // want3 "" means the same as want2
}

func hc(want2, want3 string, cmd ...string) hashRawCase {
	return hashRawCase{cmd: cmd, want2: want2, want3: want3}
}

func runHashRaw(t *testing.T, conn *hashConn, proto int, cases []hashRawCase) {
	t.Helper()
	for _, c := range cases {
		want := c.want2
		if proto == 3 && c.want3 != "" {
			want = c.want3
		}
		if got := conn.do(c.cmd...); got != want {
			t.Fatalf("RESP%d %q:\n got  %q\n want %q", proto, c.cmd, got, want)
		}
	}
}

const (
	hashNull2   = "$-1\r\n"
	hashNull3   = "_\r\n"
	hashWrong   = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
	hashSyntax  = "-ERR syntax error\r\n"
	hashNotInt  = "-ERR value is not an integer or out of range\r\n"
	hashFieldsE = "-ERR Mandatory argument FIELDS is missing or not at the right position\r\n"
	hashNumMiss = "-ERR The `numfields` parameter must match the number of arguments\r\n"
)

func hashArity(name string) string {
	return "-ERR wrong number of arguments for '" + name + "' command\r\n"
}

// TestHashReplies checks replies byte for byte in RESP2 and RESP3: the
// Redis 7.0 commands as Redis 7.0.15 answers them, the field expiry
// commands as Redis 8.0's t_hash.c does.
func TestHashReplies(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ts := startServer(t, Config{})
			conn := hashDial(t, ts, proto)
			runHashRaw(t, conn, proto, []hashRawCase{
				hc(":3\r\n", "", "HSET", "h", "a", "1", "b", "2", "c", "3"),
				hc(":1\r\n", "", "HSET", "h", "b", "20", "d", "4"),
				hc("*8\r\n"+hb("a")+hb("1")+hb("b")+hb("20")+hb("c")+hb("3")+hb("d")+hb("4"),
					"%4\r\n"+hb("a")+hb("1")+hb("b")+hb("20")+hb("c")+hb("3")+hb("d")+hb("4"), "HGETALL", "h"),
				hc("*0\r\n", "%0\r\n", "HGETALL", "nokey"),
				hc(hb("20"), "", "HGET", "h", "b"),
				hc(hashNull2, hashNull3, "HGET", "h", "x"),
				hc(hashNull2, hashNull3, "HGET", "nokey", "x"),
				hc("*3\r\n"+hb("1")+hashNull2+hb("4"), "*3\r\n"+hb("1")+hashNull3+hb("4"), "HMGET", "h", "a", "x", "d"),
				hc(hbulks("a", "b", "c", "d"), "", "HKEYS", "h"),
				hc(hbulks("1", "20", "3", "4"), "", "HVALS", "h"),
				hc("*0\r\n", "", "HKEYS", "nokey"),
				hc(":4\r\n", "", "HLEN", "h"),
				hc(":0\r\n", "", "HLEN", "nokey"),
				hc(":1\r\n", "", "HEXISTS", "h", "a"),
				hc(":0\r\n", "", "HEXISTS", "h", "x"),
				hc(":2\r\n", "", "HSTRLEN", "h", "b"),
				hc(":1\r\n", "", "HDEL", "h", "b", "x", "b"),
				hc(":0\r\n", "", "HSETNX", "h", "a", "5"),
				hc(":1\r\n", "", "HSETNX", "h", "z", "5"),
				hc("+OK\r\n", "", "HMSET", "h", "m", "1"),
				hc(":11\r\n", "", "HINCRBY", "h", "a", "10"),
				hc(hb("0.3"), "", "HINCRBYFLOAT", "h", "f", "0.3"),
				hc(hb("0.4"), "", "HINCRBYFLOAT", "h", "f", "0.1"),
				hc(hbulks("a", "c", "d", "z", "m", "f"), "", "HKEYS", "h"),
				// HRANDFIELD with a count covering the hash returns it in order.
				hc("*12\r\n"+hb("a")+hb("11")+hb("c")+hb("3")+hb("d")+hb("4")+hb("z")+hb("5")+hb("m")+hb("1")+hb("f")+hb("0.4"),
					"*6\r\n*2\r\n"+hb("a")+hb("11")+"*2\r\n"+hb("c")+hb("3")+"*2\r\n"+hb("d")+hb("4")+"*2\r\n"+hb("z")+hb("5")+"*2\r\n"+hb("m")+hb("1")+"*2\r\n"+hb("f")+hb("0.4"),
					"HRANDFIELD", "h", "6", "WITHVALUES"),
				hc(hbulks("a", "c", "d", "z", "m", "f"), "", "HRANDFIELD", "h", "100"),
				hc("*0\r\n", "", "HRANDFIELD", "h", "0"),
				hc("*0\r\n", "", "HRANDFIELD", "h", "0", "WITHVALUES"),
				hc(hashNull2, hashNull3, "HRANDFIELD", "nokey"),
				hc("*0\r\n", "", "HRANDFIELD", "nokey", "-5", "WITHVALUES"),
				hc("*2\r\n"+hb("0")+hbulks("a", "11", "c", "3"), "", "HSCAN", "h", "0", "COUNT", "1", "MATCH", "[ac]"),
				hc("*2\r\n"+hb("0")+hbulks("d", "z"), "", "HSCAN", "h", "0", "NOVALUES", "MATCH", "[dz]"),
				hc("*2\r\n"+hb("0")+"*0\r\n", "", "HSCAN", "nokey", "0"),
				hc("*2\r\n"+hb("0")+"*0\r\n", "", "HSCAN", "nokey", "0", "COUNT", "0"),
				// Field expiry (Redis 8.0).
				hc(hints(1, -2), "", "HEXPIRE", "h", "100", "FIELDS", "2", "a", "x"),
				hc(hints(0, 1), "", "HPEXPIRE", "h", "50000", "NX", "FIELDS", "2", "a", "c"),
				hc(hints(100, 50, -1, -2), "", "HTTL", "h", "FIELDS", "4", "a", "c", "d", "x"),
				hc(hints(100000), "", "HPTTL", "h", "FIELDS", "1", "a"),
				hc(hints(1_700_000_100), "", "HEXPIRETIME", "h", "FIELDS", "1", "a"),
				hc(hints(1_700_000_050_000), "", "HPEXPIRETIME", "h", "FIELDS", "1", "c"),
				hc(hints(-2, -2), "", "HTTL", "nokey", "FIELDS", "2", "a", "b"),
				hc(hbulks("c", "a", "d", "z", "m", "f"), "", "HKEYS", "h"),
				hc(hints(1, -1, -2), "", "HPERSIST", "h", "FIELDS", "3", "c", "d", "x"),
				hc(hbulks("a", "d", "z", "m", "f", "c"), "", "HKEYS", "h"),
				hc(hints(2), "", "HEXPIREAT", "h", "1", "FIELDS", "1", "a"),
				hc(hints(0), "", "HPEXPIREAT", "h", "0", "GT", "FIELDS", "1", "z"),
				hc(hints(2), "", "HPEXPIREAT", "h", "0", "LT", "FIELDS", "1", "z"),
				hc(hints(0), "", "HPEXPIREAT", "h", "0", "XX", "FIELDS", "1", "d"),
				hc("*3\r\n"+hb("4")+hashNull2+hb("1"), "*3\r\n"+hb("4")+hashNull3+hb("1"), "HGETEX", "h", "EX", "60", "FIELDS", "3", "d", "x", "m"),
				hc(hints(60, 60), "", "HTTL", "h", "FIELDS", "2", "d", "m"),
				hc(hbulks("4"), "", "HGETEX", "h", "PERSIST", "FIELDS", "1", "d"),
				hc(hints(-1), "", "HTTL", "h", "FIELDS", "1", "d"),
				hc(":0\r\n", "", "HSETEX", "h", "FNX", "FIELDS", "2", "new", "v", "d", "v"),
				hc(":1\r\n", "", "HSETEX", "h", "FXX", "KEEPTTL", "FIELDS", "1", "m", "one"),
				hc(hints(60), "", "HTTL", "h", "FIELDS", "1", "m"),
				hc(":1\r\n", "", "HSETEX", "h", "PX", "1500", "FIELDS", "1", "new", "v"),
				hc(hints(1500), "", "HPTTL", "h", "FIELDS", "1", "new"),
				hc("*2\r\n"+hb("v")+hashNull2, "*2\r\n"+hb("v")+hashNull3, "HGETDEL", "h", "FIELDS", "2", "new", "new"),
				hc(":0\r\n", "", "HSETEX", "nokey", "FXX", "FIELDS", "1", "a", "b"),
				hc(":0\r\n", "", "EXISTS", "nokey"),
				hc("*1\r\n"+hashNull2, "*1\r\n"+hashNull3, "HGETEX", "nokey", "FIELDS", "1", "a"),
				hc(hints(-2), "", "HPERSIST", "nokey", "FIELDS", "1", "a"),
			})
		})
	}
}

// TestHashErrors checks error replies byte for byte. The Redis 7.0 ones
// were compared with redis-server 7.0.15; the field expiry ones are those
// of Redis 8.0's t_hash.c.
func TestHashErrors(t *testing.T) {
	ts := startServer(t, Config{})
	conn := hashDial(t, ts, 2)
	conn.do("SET", "str", "x")
	conn.do("HSET", "h", "a", "1", "s", "abc", "big", "9223372036854775807", "i", "inf")
	runHashRaw(t, conn, 2, []hashRawCase{
		hc(hashArity("hset"), "", "HSET", "h"),
		hc(hashArity("hset"), "", "HSET", "h", "a"),
		hc(hashArity("hset"), "", "HSET", "h", "a", "1", "b"),
		hc(hashArity("hmset"), "", "HMSET", "h", "a", "1", "b"),
		hc(hashArity("hsetnx"), "", "HSETNX", "h", "a"),
		hc(hashArity("hget"), "", "HGET", "h"),
		hc(hashArity("hmget"), "", "HMGET", "h"),
		hc(hashArity("hdel"), "", "HDEL", "h"),
		hc(hashArity("hgetall"), "", "HGETALL", "h", "x"),
		hc(hashArity("hincrby"), "", "HINCRBY", "h", "a"),
		hc(hashArity("hstrlen"), "", "HSTRLEN", "h"),
		hc(hashArity("hrandfield"), "", "HRANDFIELD"),
		hc(hashArity("hscan"), "", "HSCAN", "h"),
		hc(hashArity("hexpire"), "", "HEXPIRE", "h", "10", "FIELDS", "1"),
		hc(hashArity("httl"), "", "HTTL", "h", "FIELDS", "1"),
		hc(hashArity("hsetex"), "", "HSETEX", "h", "FIELDS", "1", "a"),
		hc(hashArity("hgetex"), "", "HGETEX", "h", "FIELDS", "1"),
		hc(hashArity("hgetdel"), "", "HGETDEL", "h", "FIELDS", "1"),
		hc(hashArity("hpersist"), "", "HPERSIST", "h", "FIELDS", "1"),

		hc(hashNotInt, "", "HINCRBY", "h", "a", "x"),
		hc(hashNotInt, "", "HINCRBY", "h", "a", "1.5"),
		hc(hashNotInt, "", "HINCRBY", "str", "a", "x"),
		hc("-ERR hash value is not an integer\r\n", "", "HINCRBY", "h", "s", "1"),
		hc("-ERR increment or decrement would overflow\r\n", "", "HINCRBY", "h", "big", "1"),
		hc("-ERR value is not a valid float\r\n", "", "HINCRBYFLOAT", "h", "a", "x"),
		hc("-ERR value is not a valid float\r\n", "", "HINCRBYFLOAT", "h", "a", "nan"),
		hc("-ERR value is NaN or Infinity\r\n", "", "HINCRBYFLOAT", "h", "a", "inf"),
		hc("-ERR hash value is not a float\r\n", "", "HINCRBYFLOAT", "h", "s", "1"),
		hc("-ERR increment would produce NaN or Infinity\r\n", "", "HINCRBYFLOAT", "h", "i", "1"),

		hc(hashSyntax, "", "HRANDFIELD", "h", "1", "2", "3"),
		hc(hashSyntax, "", "HRANDFIELD", "h", "1", "foo"),
		hc(hashNotInt, "", "HRANDFIELD", "h", "x"),
		hc(hashNotInt, "", "HRANDFIELD", "str", "x"),
		hc("-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n", "", "HRANDFIELD", "h", "-9223372036854775808"),
		hc("-ERR value is out of range\r\n", "", "HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"),
		hc("-ERR value is out of range\r\n", "", "HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"),

		hc("-ERR invalid cursor\r\n", "", "HSCAN", "h", "x"),
		hc("-ERR invalid cursor\r\n", "", "HSCAN", "h", "18446744073709551616"),
		hc("-ERR invalid cursor\r\n", "", "HSCAN", "str", "x"),
		hc(hashSyntax, "", "HSCAN", "h", "0", "COUNT", "0"),
		hc(hashNotInt, "", "HSCAN", "h", "0", "COUNT", "x"),
		hc(hashSyntax, "", "HSCAN", "h", "0", "MATCH"),
		hc(hashSyntax, "", "HSCAN", "h", "0", "TYPE", "string"),
		hc(hashWrong, "", "HSCAN", "str", "0", "foo"),

		hc(hashFieldsE, "", "HEXPIRE", "h", "10", "foo", "FIELDS", "1", "a"),
		hc(hashFieldsE, "", "HEXPIRE", "h", "10", "NX", "NX", "FIELDS", "1", "a"),
		hc("-ERR Parameter `numFields` should be greater than 0\r\n", "", "HEXPIRE", "h", "10", "FIELDS", "0", "a"),
		hc("-ERR Parameter `numFields` should be greater than 0\r\n", "", "HPEXPIRE", "h", "10", "FIELDS", "x", "a"),
		hc(hashNumMiss, "", "HEXPIRE", "h", "10", "FIELDS", "2", "a"),
		hc(hashNumMiss, "", "HEXPIRE", "h", "10", "LT", "FIELDS", "1"),
		hc("-ERR invalid expire time, must be >= 0\r\n", "", "HEXPIRE", "h", "-1", "FIELDS", "1", "a"),
		hc(hashNotInt, "", "HEXPIRE", "h", "x", "FIELDS", "1", "a"),
		hc("-ERR invalid expire time in 'hexpire' command\r\n", "", "HEXPIRE", "h", "70368744177", "FIELDS", "1", "a"),
		hc("-ERR invalid expire time in 'hpexpire' command\r\n", "", "HPEXPIRE", "h", "70368744177663", "FIELDS", "1", "a"),
		hc("-ERR invalid expire time in 'hexpireat' command\r\n", "", "HEXPIREAT", "h", "70368744178", "FIELDS", "1", "a"),
		hc("-ERR invalid expire time in 'hpexpireat' command\r\n", "", "HPEXPIREAT", "h", "70368744177664", "FIELDS", "1", "a"),
		hc(hints(-2), "", "HPEXPIREAT", "h", "70368744177663", "FIELDS", "1", "x"),
		hc(hashWrong, "", "HEXPIRE", "str", "x", "FIELDS", "1", "a"),
		hc(hashWrong, "", "HEXPIRE", "str", "10", "FIELDS", "1", "a"),

		hc("-ERR Number of fields must be a positive integer\r\n", "", "HTTL", "h", "FIELDS", "0", "a"),
		hc("-ERR Number of fields must be a positive integer\r\n", "", "HPERSIST", "h", "FIELDS", "-1", "a"),
		hc("-ERR Number of fields must be a positive integer\r\n", "", "HGETDEL", "h", "FIELDS", "x", "a"),
		hc(hashFieldsE, "", "HPTTL", "h", "foo", "1", "a"),
		hc(hashNumMiss, "", "HEXPIRETIME", "h", "FIELDS", "2", "a"),
		hc(hashWrong, "", "HTTL", "str", "FIELDS", "0", "a"),
		hc(hashWrong, "", "HPERSIST", "str", "FIELDS", "1", "a"),
		hc(hashWrong, "", "HGETDEL", "str", "foo", "1", "a"),

		hc(hashFieldsE, "", "HGETEX", "h", "FOO", "FIELDS", "1", "a"),
		hc(hashFieldsE, "", "HGETEX", "h", "EX", "10", "PERSIST", "FIELDS", "1", "a"),
		hc(hashNumMiss, "", "HGETEX", "h", "EX", "10", "FIELDS"),
		hc(hashNumMiss, "", "HGETEX", "h", "PERSIST", "FIELDS", "2", "a"),
		hc("-ERR invalid expire time, must be >= 0\r\n", "", "HGETEX", "h", "PX", "-5", "FIELDS", "1", "a"),
		hc("-ERR invalid expire time in 'hgetex' command\r\n", "", "HGETEX", "h", "EXAT", "70368744178", "FIELDS", "1", "a"),
		hc(hashWrong, "", "HGETEX", "str", "FOO", "FIELDS", "1", "a"),

		hc("-ERR unknown argument: FOO\r\n", "", "HSETEX", "h", "FOO", "FIELDS", "1", "a", "b"),
		hc("-ERR invalid number of fields\r\n", "", "HSETEX", "h", "FIELDS", "0", "a", "b"),
		hc("-ERR invalid number of fields\r\n", "", "HSETEX", "h", "FIELDS", "2147483648", "a", "b"),
		hc(hashArity("hsetex"), "", "HSETEX", "h", "FIELDS", "1", "a", "b", "c"),
		hc(hashArity("hsetex"), "", "HSETEX", "h", "FIELDS", "2", "a", "b"),
		hc("-ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified\r\n", "", "HSETEX", "h", "EX", "10", "PX", "10", "FIELDS", "1", "a", "b"),
		hc("-ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified\r\n", "", "HSETEX", "h", "KEEPTTL", "EXAT", "1", "FIELDS", "1", "a", "b"),
		hc("-ERR Only one of FXX or FNX arguments can be specified\r\n", "", "HSETEX", "h", "FNX", "FXX", "FIELDS", "1", "a", "b"),
		hc("-ERR invalid expire time, must be >= 0\r\n", "", "HSETEX", "h", "EX", "-1", "FIELDS", "1", "a", "b"),
		hc(hashNotInt, "", "HSETEX", "h", "EX", "FIELDS", "1", "a", "b"),
		hc("-ERR invalid expire time in 'hsetex' command\r\n", "", "HSETEX", "h", "PXAT", "70368744177664", "FIELDS", "1", "a", "b"),
		hc(hashWrong, "", "HSETEX", "str", "FIELDS", "1", "a", "b"),
		hc("-ERR unknown argument: FOO\r\n", "", "HSETEX", "str", "FOO", "FIELDS", "1", "a", "b"),

		hc(hashWrong, "", "HSET", "str", "a", "1"),
		hc(hashWrong, "", "HSETNX", "str", "a", "1"),
		hc(hashWrong, "", "HGET", "str", "a"),
		hc(hashWrong, "", "HMGET", "str", "a"),
		hc(hashWrong, "", "HGETALL", "str"),
		hc(hashWrong, "", "HDEL", "str", "a"),
		hc(hashWrong, "", "HLEN", "str"),
		hc(hashWrong, "", "HEXISTS", "str", "a"),
		hc(hashWrong, "", "HKEYS", "str"),
		hc(hashWrong, "", "HVALS", "str"),
		hc(hashWrong, "", "HINCRBY", "str", "a", "1"),
		hc(hashWrong, "", "HINCRBYFLOAT", "str", "a", "1"),
		hc(hashWrong, "", "HSTRLEN", "str", "a"),
		hc(hashWrong, "", "HRANDFIELD", "str"),
		hc(hashWrong, "", "HRANDFIELD", "str", "1"),
	})
}

// TestHashGoRedis drives the hash commands through go-redis in both
// protocols.
func TestHashGoRedis(t *testing.T) {
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ts := startServer(t, Config{})
			rdb := ts.goRedis(t, proto)
			check := func(what string, got, want any) {
				t.Helper()
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: got %#v, want %#v", what, got, want)
				}
			}
			n, err := rdb.HSet(ctx, "sess:42", "user", "u1", "csrf", "t9", "cart", "3").Result()
			check("HSET", []any{n, err}, []any{int64(3), nil})
			all, err := rdb.HGetAll(ctx, "sess:42").Result()
			check("HGETALL", []any{all, err}, []any{map[string]string{"user": "u1", "csrf": "t9", "cart": "3"}, nil})
			_, err = rdb.HGet(ctx, "sess:42", "nope").Result()
			check("HGET missing", err, redis.Nil)
			vals, err := rdb.HMGet(ctx, "sess:42", "user", "nope").Result()
			check("HMGET", []any{vals, err}, []any{[]any{"u1", nil}, nil})
			keys, _ := rdb.HKeys(ctx, "sess:42").Result()
			check("HKEYS", keys, []string{"user", "csrf", "cart"})
			hv, _ := rdb.HVals(ctx, "sess:42").Result()
			check("HVALS", hv, []string{"u1", "t9", "3"})
			ok, _ := rdb.HSetNX(ctx, "sess:42", "user", "u2").Result()
			check("HSETNX", ok, false)
			ex, _ := rdb.HExists(ctx, "sess:42", "csrf").Result()
			check("HEXISTS", ex, true)
			cart, _ := rdb.HIncrBy(ctx, "sess:42", "cart", 2).Result()
			check("HINCRBY", cart, int64(5))
			f, _ := rdb.HIncrByFloat(ctx, "sess:42", "score", 0.1).Result()
			f, _ = rdb.HIncrByFloat(ctx, "sess:42", "score", 0.2).Result()
			check("HINCRBYFLOAT", f, 0.3)
			sl, _ := rdb.HStrLen(ctx, "sess:42", "user").Result()
			check("HSTRLEN", sl, int64(2))
			kv, err := rdb.HRandFieldWithValues(ctx, "sess:42", 10).Result()
			check("HRANDFIELD WITHVALUES", []any{kv, err}, []any{[]redis.KeyValue{{Key: "user", Value: "u1"}, {Key: "csrf", Value: "t9"}, {Key: "cart", Value: "5"}, {Key: "score", Value: "0.3"}}, nil})
			rf, _ := rdb.HRandField(ctx, "sess:42", -3).Result()
			if len(rf) != 3 {
				t.Fatalf("HRANDFIELD -3: %q", rf)
			}
			sk, cur, err := rdb.HScan(ctx, "sess:42", 0, "c*", 10).Result()
			check("HSCAN", []any{sk, cur, err}, []any{[]string{"csrf", "t9", "cart", "5"}, uint64(0), nil})
			sk, _, _ = rdb.HScanNoValues(ctx, "sess:42", 0, "", 10).Result()
			check("HSCAN NOVALUES", sk, []string{"user", "csrf", "cart", "score"})

			codes, err := rdb.HExpire(ctx, "sess:42", 30*time.Second, "csrf", "nope").Result()
			check("HEXPIRE", []any{codes, err}, []any{[]int64{1, -2}, nil})
			codes, _ = rdb.HExpireWithArgs(ctx, "sess:42", 10*time.Second, redis.HExpireArgs{GT: true}, "csrf").Result()
			check("HEXPIRE GT", codes, []int64{0})
			codes, _ = rdb.HTTL(ctx, "sess:42", "csrf", "user").Result()
			check("HTTL", codes, []int64{30, -1})
			codes, _ = rdb.HPTTL(ctx, "sess:42", "csrf").Result()
			check("HPTTL", codes, []int64{30000})
			got, err := rdb.HGetEXWithArgs(ctx, "sess:42", &redis.HGetEXOptions{ExpirationType: redis.HGetEXExpirationPX, ExpirationVal: 5000}, "user").Result()
			check("HGETEX", []any{got, err}, []any{[]string{"u1"}, nil})
			n, _ = rdb.HSetEXWithArgs(ctx, "sess:42", &redis.HSetEXOptions{Condition: redis.HSetEXFXX, ExpirationType: redis.HSetEXExpirationKEEPTTL}, "user", "u9").Result()
			check("HSETEX", n, int64(1))
			codes, _ = rdb.HPersist(ctx, "sess:42", "cart").Result()
			check("HPERSIST", codes, []int64{-1})

			ts.clock.Advance(5 * time.Second)
			codes, _ = rdb.HPTTL(ctx, "sess:42", "user").Result()
			check("HPTTL at the deadline", codes, []int64{0})
			u, err := rdb.HGet(ctx, "sess:42", "user").Result()
			check("HGET at the deadline", []any{u, err}, []any{"u9", nil})
			ts.clock.Advance(time.Millisecond)
			_, err = rdb.HGet(ctx, "sess:42", "user").Result()
			check("HGET expired", err, redis.Nil)
			hl, _ := rdb.HLen(ctx, "sess:42").Result()
			check("HLEN", hl, int64(3))
			ts.clock.Advance(25 * time.Second)
			all, _ = rdb.HGetAll(ctx, "sess:42").Result()
			check("HGETALL after expiry", all, map[string]string{"cart": "5", "score": "0.3"})
			del, _ := rdb.HGetDel(ctx, "sess:42", "cart", "score").Result()
			check("HGETDEL", del, []string{"5", "0.3"})
			e, _ := rdb.Exists(ctx, "sess:42").Result()
			check("EXISTS after HGETDEL", e, int64(0))
		})
	}
}

// TestHashDocExamples replays the examples of the Redis documentation of
// the field expiry commands, with the clock set so that the documented
// TTLs come out. Where a page shows "(nil)" for a missing key, Redis 8.0
// answers -2 for each field (as the same page's reply section says), and
// so does sessiond.
func TestHashDocExamples(t *testing.T) {
	ts := startServer(t, Config{})
	conn := hashDial(t, ts, 2)
	at := func(sec int64, ms int64) { ts.clock.Set(time.UnixMilli(sec*1000 + ms)) }
	step := func(cmd string, want string) {
		t.Helper()
		if got := conn.do(strings.Fields(cmd)...); got != want {
			t.Fatalf("%s:\n got  %q\n want %q", cmd, got, want)
		}
	}
	fresh := func() { conn.do("DEL", "mykey", "no-key") }

	// HEXPIRE
	fresh()
	step("HEXPIRE no-key 20 NX FIELDS 2 field1 field2", hints(-2, -2))
	step("HSET mykey field1 hello field2 world", ":2\r\n")
	step("HEXPIRE mykey 10 FIELDS 3 field1 field2 field3", hints(1, 1, -2))
	ts.clock.Advance(10*time.Second + time.Millisecond) // a field lives through its deadline's ms
	step("HGETALL mykey", "*0\r\n")

	// HPEXPIRE
	fresh()
	step("HSET mykey field1 hello field2 world", ":2\r\n")
	step("HPEXPIRE mykey 2000 FIELDS 2 field1 field2", hints(1, 1))
	ts.clock.Advance(2*time.Second + time.Millisecond)
	step("HGETALL mykey", "*0\r\n")

	// HEXPIREAT
	fresh()
	at(1715704971-567, 0)
	step("HSET mykey field1 hello field2 world", ":2\r\n")
	step("HEXPIREAT mykey 1715704971 FIELDS 2 field1 field2", hints(1, 1))
	step("HTTL mykey FIELDS 2 field1 field2", hints(567, 567))

	// HPEXPIREAT
	fresh()
	at(1715704971-304, 660)
	step("HSET mykey field1 hello field2 world", ":2\r\n")
	step("HPEXPIREAT mykey 1715704971000 FIELDS 2 field1 field2", hints(1, 1))
	step("HPTTL mykey FIELDS 2 field1 field2", hints(303340, 303340))

	// HTTL
	fresh()
	step("HTTL no-key FIELDS 3 field1 field2 field3", hints(-2, -2, -2))
	step("HSET mykey field1 hello field2 world", ":2\r\n")
	step("HEXPIRE mykey 300 FIELDS 2 field1 field3", hints(1, -2))
	ts.clock.Advance(17 * time.Second)
	step("HTTL mykey FIELDS 3 field1 field2 field3", hints(283, -1, -2))

	// HPTTL
	fresh()
	step("HPTTL no-key FIELDS 3 field1 field2 field3", hints(-2, -2, -2))
	step("HSET mykey field1 hello field2 world", ":2\r\n")
	step("HEXPIRE mykey 300 FIELDS 2 field1 field3", hints(1, -2))
	ts.clock.Advance(7798 * time.Millisecond)
	step("HPTTL mykey FIELDS 3 field1 field2 field3", hints(292202, -1, -2))

	// HPEXPIRETIME
	fresh()
	at(1715705613, 659)
	step("HSET mykey field1 hello field2 world", ":2\r\n")
	step("HEXPIRE mykey 300 FIELDS 2 field1 field2", hints(1, 1))
	step("HPEXPIRETIME mykey FIELDS 2 field1 field2", hints(1715705913659, 1715705913659))

	// HEXPIRETIME
	fresh()
	at(1715705914-300, 0)
	step("HSET mykey field1 hello field2 world", ":2\r\n")
	step("HEXPIRE mykey 300 FIELDS 2 field1 field2", hints(1, 1))
	step("HEXPIRETIME mykey FIELDS 2 field1 field2", hints(1715705914, 1715705914))

	// HPERSIST
	fresh()
	step("HSET mykey field1 hello field2 world", ":2\r\n")
	step("HEXPIRE mykey 300 FIELDS 2 field1 field2", hints(1, 1))
	ts.clock.Advance(17 * time.Second)
	step("HTTL mykey FIELDS 2 field1 field2", hints(283, 283))
	step("HPERSIST mykey FIELDS 1 field2", hints(1))
	ts.clock.Advance(15 * time.Second)
	step("HTTL mykey FIELDS 2 field1 field2", hints(268, -1))

	// HGETEX
	fresh()
	step("HSET mykey field1 Hello field2 World", ":2\r\n")
	step("HGETEX mykey EX 120 FIELDS 1 field1", hbulks("Hello"))
	ts.clock.Advance(13500 * time.Millisecond)
	step("HGETEX mykey EX 100 FIELDS 1 field2", hbulks("World"))
	ts.clock.Advance(15500 * time.Millisecond)
	step("HTTL mykey FIELDS 2 field1 field2", hints(91, 85))
	ts.clock.Advance(16800 * time.Millisecond)
	step("HTTL mykey FIELDS 3 field1 field2 field3", hints(75, 68, -2))
	ts.clock.Advance(75 * time.Second)
	step("HTTL mykey FIELDS 2 field1 field2", hints(-2, -2))
	step("HGETALL mykey", "*0\r\n")

	// HSETEX
	fresh()
	at(1740470400-55627, 0)
	step("HSETEX mykey EXAT 1740470400 FIELDS 2 field1 Hello field2 World", ":1\r\n")
	step("HTTL mykey FIELDS 2 field1 field2", hints(55627, 55627))
	step("HSETEX mykey FNX EX 60 FIELDS 2 field1 Hello field2 World", ":0\r\n")
	step("HSETEX mykey FXX EX 60 KEEPTTL FIELDS 2 field1 hello field2 world",
		"-ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified\r\n")
	step("HSETEX mykey FXX KEEPTTL FIELDS 2 field1 hello field2 world", ":1\r\n")
	ts.clock.Advance(146 * time.Second)
	step("HTTL mykey FIELDS 2 field1 field2", hints(55481, 55481))

	// HGETDEL
	fresh()
	step("HSET mykey field1 Hello field2 World field3 !", ":3\r\n")
	step("HGETALL mykey", hbulks("field1", "Hello", "field2", "World", "field3", "!"))
	step("HGETDEL mykey FIELDS 2 field3 field4", "*2\r\n"+hb("!")+hashNull2)
	step("HGETALL mykey", hbulks("field1", "Hello", "field2", "World"))
	step("HGETDEL mykey FIELDS 2 field1 field2", hbulks("Hello", "World"))
	step("EXISTS mykey", ":0\r\n")
}

// TestHashReaperRemovesFields checks that the background reaper reclaims
// expired fields and the hash they leave empty.
func TestHashReaperRemovesFields(t *testing.T) {
	ts := startServer(t, Config{})
	conn := hashDial(t, ts, 2)
	conn.do("HSET", "h", "a", "1", "b", "2")
	conn.do("HSET", "g", "x", "1")
	conn.do("HPEXPIRE", "h", "100", "FIELDS", "1", "a")
	conn.do("HPEXPIRE", "g", "100", "FIELDS", "1", "x")
	ts.clock.Advance(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		keys, _ := ts.Store().Len()
		if keys == 1 && ts.Store().Stats().ExpiredFields.Load() == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reaped: %d keys, %d fields expired", keys, ts.Store().Stats().ExpiredFields.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := conn.do("HGETALL", "h"); got != hbulks("b", "2") {
		t.Fatalf("HGETALL after reaping: %q", got)
	}
}

// TestHashInsideMulti runs hash commands in a transaction, where they are
// applied as one op.
func TestHashInsideMulti(t *testing.T) {
	ts := startServer(t, Config{})
	conn := hashDial(t, ts, 2)
	conn.do("HSET", "h", "z", "0")
	for _, c := range [][]string{
		{"MULTI"}, {"HSET", "h", "a", "1"}, {"HEXPIRE", "h", "10", "FIELDS", "1", "a"},
		{"HGETALL", "h"}, {"HTTL", "h", "FIELDS", "1", "a"}, {"HSCAN", "h", "0", "COUNT", "0"},
	} {
		conn.do(c...)
	}
	want := "*5\r\n:1\r\n" + hints(1) + hbulks("a", "1", "z", "0") + hints(10) + "-ERR syntax error\r\n"
	if got := conn.do("EXEC"); got != want {
		t.Fatalf("EXEC:\n got  %q\n want %q", got, want)
	}
}
