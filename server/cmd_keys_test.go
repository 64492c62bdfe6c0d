package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// keysT0ms is startServer's FakeClock start, in Unix ms.
const keysT0ms = int64(1_700_000_000_000)

func TestKeyspaceCommandsGoRedis(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("resp%d", proto), func(t *testing.T) {
			ts := startServer(t, Config{})
			rdb := ts.goRedis(t, proto)
			ctx := context.Background()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			wantInt := func(got int64, err error, want int64) {
				t.Helper()
				must(err)
				if got != want {
					t.Fatalf("got %d, want %d", got, want)
				}
			}
			must(rdb.MSet(ctx, "a", "1", "b", "2", "c", "3").Err())
			n, err := rdb.Exists(ctx, "a", "a", "b", "zz").Result()
			wantInt(n, err, 3)
			typ, err := rdb.Type(ctx, "a").Result()
			must(err)
			if typ != "string" {
				t.Fatalf("TYPE = %q", typ)
			}
			typ, err = rdb.Type(ctx, "zz").Result()
			must(err)
			if typ != "none" {
				t.Fatalf("TYPE of a missing key = %q", typ)
			}
			n, err = rdb.Touch(ctx, "a", "b", "zz").Result()
			wantInt(n, err, 2)
			n, err = rdb.DBSize(ctx).Result()
			wantInt(n, err, 3)
			n, err = rdb.Del(ctx, "a", "zz", "a").Result()
			wantInt(n, err, 1)
			n, err = rdb.Unlink(ctx, "b").Result()
			wantInt(n, err, 1)

			// RENAME keeps the TTL; RENAMENX refuses an existing target.
			must(rdb.Set(ctx, "src", "v", 30*time.Second).Err())
			must(rdb.Rename(ctx, "src", "dst").Err())
			d, err := rdb.PTTL(ctx, "dst").Result()
			must(err)
			if d != 30*time.Second {
				t.Fatalf("PTTL after RENAME = %v", d)
			}
			ok, err := rdb.RenameNX(ctx, "dst", "c").Result()
			must(err)
			if ok {
				t.Fatal("RENAMENX over an existing key succeeded")
			}
			ok, err = rdb.RenameNX(ctx, "dst", "fresh").Result()
			must(err)
			if !ok {
				t.Fatal("RENAMENX to a new key failed")
			}
			if err := rdb.Rename(ctx, "nope", "x").Err(); err == nil || err.Error() != "ERR no such key" {
				t.Fatalf("RENAME of a missing key: %v", err)
			}

			// The EXPIRE family.
			ok, err = rdb.Expire(ctx, "c", 100*time.Second).Result()
			must(err)
			if !ok {
				t.Fatal("EXPIRE returned 0")
			}
			ok, err = rdb.ExpireNX(ctx, "c", 5*time.Second).Result()
			must(err)
			if ok {
				t.Fatal("EXPIRE NX on a volatile key returned 1")
			}
			ok, err = rdb.ExpireGT(ctx, "c", 200*time.Second).Result()
			must(err)
			if !ok {
				t.Fatal("EXPIRE GT with a later time returned 0")
			}
			ok, err = rdb.ExpireLT(ctx, "c", 300*time.Second).Result()
			must(err)
			if ok {
				t.Fatal("EXPIRE LT with a later time returned 1")
			}
			d, err = rdb.TTL(ctx, "c").Result()
			must(err)
			if d != 200*time.Second {
				t.Fatalf("TTL = %v", d)
			}
			tm, err := rdb.ExpireTime(ctx, "c").Result()
			must(err)
			if tm != time.Duration(keysT0ms/1000+200)*time.Second {
				t.Fatalf("EXPIRETIME = %v", tm)
			}
			tm, err = rdb.PExpireTime(ctx, "c").Result()
			must(err)
			if tm != time.Duration(keysT0ms+200_000)*time.Millisecond {
				t.Fatalf("PEXPIRETIME = %v", tm)
			}
			ok, err = rdb.PExpire(ctx, "c", 1500*time.Millisecond).Result()
			must(err)
			if !ok {
				t.Fatal("PEXPIRE returned 0")
			}
			n, err = rdb.Do(ctx, "ttl", "c").Int64()
			wantInt(n, err, 2) // 1.5 s rounds to 2
			n, err = rdb.Do(ctx, "pttl", "c").Int64()
			wantInt(n, err, 1500)
			ok, err = rdb.Persist(ctx, "c").Result()
			must(err)
			if !ok {
				t.Fatal("PERSIST returned 0")
			}
			n, err = rdb.Do(ctx, "ttl", "c").Int64()
			wantInt(n, err, -1)
			n, err = rdb.Do(ctx, "expiretime", "zz").Int64()
			wantInt(n, err, -2)
			n, err = rdb.Do(ctx, "pexpiretime", "c").Int64()
			wantInt(n, err, -1)
			ok, err = rdb.ExpireAt(ctx, "c", time.UnixMilli(keysT0ms+60_000)).Result()
			must(err)
			if !ok {
				t.Fatal("EXPIREAT returned 0")
			}
			n, err = rdb.Do(ctx, "pttl", "c").Int64()
			wantInt(n, err, 60_000)
			ok, err = rdb.PExpireAt(ctx, "c", time.UnixMilli(keysT0ms-1)).Result()
			must(err)
			if !ok {
				t.Fatal("PEXPIREAT in the past returned 0")
			}
			n, err = rdb.Exists(ctx, "c").Result()
			wantInt(n, err, 0)

			// KEYS, SCAN, RANDOMKEY, FLUSH.
			must(rdb.FlushDB(ctx).Err())
			var want []string
			for i := range 120 {
				k := "user:" + strconv.Itoa(i)
				want = append(want, k)
				must(rdb.Set(ctx, k, "v", 0).Err())
			}
			must(rdb.Set(ctx, "other", "v", 0).Err())
			keys, err := rdb.Keys(ctx, "user:*").Result()
			must(err)
			slices.Sort(keys)
			slices.Sort(want)
			if !slices.Equal(keys, want) {
				t.Fatalf("KEYS user:* returned %d keys", len(keys))
			}
			var scanned []string
			iter := rdb.Scan(ctx, 0, "user:*", 7).Iterator()
			for iter.Next(ctx) {
				scanned = append(scanned, iter.Val())
			}
			must(iter.Err())
			slices.Sort(scanned)
			if !slices.Equal(scanned, want) {
				t.Fatalf("SCAN MATCH user:* returned %d keys", len(scanned))
			}
			scanned = scanned[:0]
			iter = rdb.ScanType(ctx, 0, "", 50, "STRING").Iterator()
			for iter.Next(ctx) {
				scanned = append(scanned, iter.Val())
			}
			must(iter.Err())
			if len(scanned) != 121 {
				t.Fatalf("SCAN TYPE string returned %d keys", len(scanned))
			}
			rk, err := rdb.RandomKey(ctx).Result()
			must(err)
			if rk != "other" && !slices.Contains(want, rk) {
				t.Fatalf("RANDOMKEY = %q", rk)
			}
			must(rdb.FlushAll(ctx).Err())
			n, err = rdb.DBSize(ctx).Result()
			wantInt(n, err, 0)
			if _, err := rdb.RandomKey(ctx).Result(); !errors.Is(err, redis.Nil) {
				t.Fatalf("RANDOMKEY on an empty store: %v", err)
			}
			must(rdb.FlushAllAsync(ctx).Err())
			must(rdb.FlushDBAsync(ctx).Err())
		})
	}
}

// TestExpiryFollowsClock checks the expiry edges against the server clock:
// as in Redis 7 (keyIsExpired: now > when), a key is still there during
// its deadline's millisecond, with a TTL of 0, and gone one ms later.
func TestExpiryFollowsClock(t *testing.T) {
	ts := startServer(t, Config{})
	rdb := ts.goRedis(t, 2)
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Expire(ctx, "k", 10*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	ts.clock.Advance(10*time.Second - time.Millisecond)
	if n, err := rdb.Do(ctx, "pttl", "k").Int64(); err != nil || n != 1 {
		t.Fatalf("PTTL 1 ms before the deadline = %d, %v", n, err)
	}
	if n, err := rdb.Exists(ctx, "k").Result(); err != nil || n != 1 {
		t.Fatalf("EXISTS 1 ms before the deadline = %d, %v", n, err)
	}
	ts.clock.Advance(time.Millisecond)
	if n, err := rdb.Exists(ctx, "k").Result(); err != nil || n != 1 {
		t.Fatalf("EXISTS at the deadline = %d, %v", n, err)
	}
	if n, err := rdb.Do(ctx, "pttl", "k").Int64(); err != nil || n != 0 {
		t.Fatalf("PTTL at the deadline = %d, %v", n, err)
	}
	if n, err := rdb.Do(ctx, "ttl", "k").Int64(); err != nil || n != 0 {
		t.Fatalf("TTL at the deadline = %d, %v", n, err)
	}
	if typ, err := rdb.Type(ctx, "k").Result(); err != nil || typ != "string" {
		t.Fatalf("TYPE at the deadline = %q, %v", typ, err)
	}
	ts.clock.Advance(time.Millisecond)
	if n, err := rdb.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS 1 ms after the deadline = %d, %v", n, err)
	}
	if n, err := rdb.Do(ctx, "ttl", "k").Int64(); err != nil || n != -2 {
		t.Fatalf("TTL 1 ms after the deadline = %d, %v", n, err)
	}
	if typ, err := rdb.Type(ctx, "k").Result(); err != nil || typ != "none" {
		t.Fatalf("TYPE 1 ms after the deadline = %q, %v", typ, err)
	}
	// EXPIRE 0 and negative times delete at once and answer 1.
	for _, arg := range []string{"0", "-10"} {
		rdb.Set(ctx, "k", "v", 0)
		if n, err := rdb.Do(ctx, "expire", "k", arg).Int64(); err != nil || n != 1 {
			t.Fatalf("EXPIRE k %s = %d, %v", arg, n, err)
		}
		if n, _ := rdb.Exists(ctx, "k").Result(); n != 0 {
			t.Fatalf("EXPIRE k %s left the key", arg)
		}
	}
}

// TestKeyspaceRawReplies checks replies byte for byte, in particular the
// error strings, against what redis-server 7.0 sends.
func TestKeyspaceRawReplies(t *testing.T) {
	ts := startServer(t, Config{})
	rc := ts.raw(t)
	for _, s := range keysRawScript() {
		if s.want == "" {
			keysSkipReply(rc, s.send)
			continue
		}
		rc.roundTrip(s.send, s.want)
	}
}

// keysRawStep is a command and the exact reply bytes it must get ("" for a
// reply the test skips).
type keysRawStep struct{ send, want string }

// keysRawScript is the byte-exact script of TestKeyspaceRawReplies; its
// replies are redis-server 7.0's.
func keysRawScript() []keysRawStep {
	return []keysRawStep{
		{keysRESP("SET", "k", "v"), "+OK\r\n"},
		{keysRESP("TYPE", "k"), "+string\r\n"},
		{keysRESP("TYPE", "nokey"), "+none\r\n"},
		{keysRESP("EXPIRE", "k", "abc", "foo"), "-ERR Unsupported option foo\r\n"},
		{keysRESP("EXPIRE", "k", "10", "Bogus"), "-ERR Unsupported option Bogus\r\n"},
		{keysRESP("EXPIRE", "k", "abc"), "-ERR value is not an integer or out of range\r\n"},
		{keysRESP("EXPIRE", "k", "10", "nx", "xx"), "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"},
		{keysRESP("EXPIRE", "k", "10", "nx", "gt"), "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"},
		{keysRESP("EXPIRE", "k", "10", "lt", "nx"), "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"},
		{keysRESP("EXPIRE", "k", "10", "gt", "lt"), "-ERR GT and LT options at the same time are not compatible\r\n"},
		{keysRESP("EXPIRE", "k", "10", "xx", "gt", "lt"), "-ERR GT and LT options at the same time are not compatible\r\n"},
		{keysRESP("EXPIRE", "k", "10", "gt", "lt", "nx"), "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"},
		{keysRESP("EXPIRE", "k", "9223372036854775807"), "-ERR invalid expire time in 'expire' command\r\n"},
		{keysRESP("EXPIRE", "k", "-9223372036854775808"), "-ERR invalid expire time in 'expire' command\r\n"},
		{keysRESP("PEXPIRE", "k", "9223372036854775807"), "-ERR invalid expire time in 'pexpire' command\r\n"},
		{keysRESP("EXPIREAT", "k", "9223372036854776"), "-ERR invalid expire time in 'expireat' command\r\n"},
		{keysRESP("EXPIREAT", "k", "9223372036854775"), ":1\r\n"},
		{keysRESP("PEXPIRETIME", "k"), ":9223372036854775000\r\n"},
		{keysRESP("PEXPIREAT", "k", "9223372036854775807"), ":1\r\n"},
		{keysRESP("EXPIRETIME", "k"), ":9223372036854776\r\n"},
		{keysRESP("EXPIRE", "k", "100", "GT"), ":0\r\n"},
		{keysRESP("PERSIST", "k"), ":1\r\n"},
		{keysRESP("EXPIRE", "k", "100", "xx"), ":0\r\n"},
		{keysRESP("EXPIRE", "k", "100", "lt"), ":1\r\n"},
		{keysRESP("EXPIRE", "k", "100", "NX"), ":0\r\n"},
		{keysRESP("EXPIRE", "nokey", "100"), ":0\r\n"},
		{keysRESP("TTL", "k"), ":100\r\n"},
		{keysRESP("RENAME", "nokey", "x"), "-ERR no such key\r\n"},
		{keysRESP("RENAMENX", "nokey", "nokey"), "-ERR no such key\r\n"},
		{keysRESP("RENAME", "k", "k"), "+OK\r\n"},
		{keysRESP("RENAMENX", "k", "k"), ":0\r\n"},
		{keysRESP("RENAMENX", "k", "k2"), ":1\r\n"},
		{keysRESP("TTL", "k2"), ":100\r\n"},
		{keysRESP("RENAME", "k2", "k"), "+OK\r\n"},
		{keysRESP("SCAN", "abc"), "-ERR invalid cursor\r\n"},
		{keysRESP("SCAN", " 1"), "-ERR invalid cursor\r\n"},
		{keysRESP("SCAN", "1x"), "-ERR invalid cursor\r\n"},
		{keysRESP("SCAN", "-"), "-ERR invalid cursor\r\n"},
		{keysRESP("SCAN", "18446744073709551616"), "-ERR invalid cursor\r\n"},
		{keysRESP("SCAN", "18446744073709551615"), "*2\r\n$1\r\n0\r\n*0\r\n"},
		{keysRESP("SCAN", "-1"), "*2\r\n$1\r\n0\r\n*0\r\n"},
		{keysRESP("SCAN", ""), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n"},
		{keysRESP("SCAN", "0", "count", "0"), "-ERR syntax error\r\n"},
		{keysRESP("SCAN", "0", "count", "-1"), "-ERR syntax error\r\n"},
		{keysRESP("SCAN", "0", "count", "x"), "-ERR value is not an integer or out of range\r\n"},
		{keysRESP("SCAN", "0", "match"), "-ERR syntax error\r\n"},
		{keysRESP("SCAN", "0", "foo", "bar"), "-ERR syntax error\r\n"},
		{keysRESP("SCAN", "0", "type", "foo"), "*2\r\n$1\r\n0\r\n*0\r\n"},
		{keysRESP("SCAN", "0", "match", ""), "*2\r\n$1\r\n0\r\n*0\r\n"},
		{keysRESP("SCAN", "0", "type", ""), "*2\r\n$1\r\n0\r\n*0\r\n"},
		{keysRESP("SCAN", "0", "match", "x*", "match", "k*"), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n"},
		{keysRESP("SCAN", "00", "TYPE", "String", "COUNT", "5"), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n"},
		{keysRESP("KEYS", "*"), "*1\r\n$1\r\nk\r\n"},
		{keysRESP("KEYS", "x*"), "*0\r\n"},
		{keysRESP("KEYS"), "-ERR wrong number of arguments for 'keys' command\r\n"},
		{keysRESP("RANDOMKEY"), "$1\r\nk\r\n"},
		{keysRESP("DBSIZE"), ":1\r\n"},
		{keysRESP("FLUSHALL", "x"), "-ERR syntax error\r\n"},
		{keysRESP("FLUSHALL", "async", "sync"), "-ERR syntax error\r\n"},
		{keysRESP("FLUSHDB", "bogus"), "-ERR syntax error\r\n"},
		{keysRESP("FLUSHDB", "SYNC"), "+OK\r\n"},
		{keysRESP("RANDOMKEY"), "$-1\r\n"},
		{keysRESP("FLUSHALL", "ASYNC"), "+OK\r\n"},
		{keysRESP("FLUSHALL"), "+OK\r\n"},
		{keysRESP("DEL"), "-ERR wrong number of arguments for 'del' command\r\n"},
		{keysRESP("EXISTS", "a", "a"), ":0\r\n"},
		{keysRESP("HELLO", "3"), ""},
		// RESP3 from here on.
		{keysRESP("SET", "k", "v"), "+OK\r\n"},
		{keysRESP("TYPE", "k"), "+string\r\n"},
		{keysRESP("SCAN", "0"), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n"},
		{keysRESP("DEL", "k"), ":1\r\n"},
		{keysRESP("RANDOMKEY"), "_\r\n"},
		{keysRESP("TTL", "k"), ":-2\r\n"},
	}
}

// keysSkipReply sends s followed by a PING and discards everything up to the
// PONG, for a reply whose bytes the test does not fix (HELLO's map).
func keysSkipReply(rc *rawConn, s string) {
	rc.t.Helper()
	rc.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := rc.nc.Write([]byte(s + keysRESP("PING"))); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
	var got []byte
	buf := make([]byte, 4096)
	for !keysHasSuffix(got, "+PONG\r\n") {
		n, err := rc.nc.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			rc.t.Fatalf("read: %v (got %q)", err, got)
		}
	}
}

func keysHasSuffix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[len(b)-len(s):]) == s
}

// keysRESP encodes a command as a RESP array of bulk strings.
func keysRESP(args ...string) string {
	b := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return string(b)
}

// TestKeyspaceInMulti runs the keyspace walks inside MULTI (every stripe
// is then held by the transaction) and checks WATCH against FLUSHALL and
// EXPIRE.
func TestKeyspaceInMulti(t *testing.T) {
	ts := startServer(t, Config{})
	rdb := ts.goRedis(t, 2)
	ctx := context.Background()
	rdb.Set(ctx, "a", "1", 0)
	cmds, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Scan(ctx, 0, "", 10)
		p.Keys(ctx, "*")
		p.DBSize(ctx)
		p.RandomKey(ctx)
		p.Expire(ctx, "a", time.Minute)
		p.Do(ctx, "expire", "a", "10", "nx", "xx")
		p.TTL(ctx, "a")
		p.FlushAll(ctx)
		p.DBSize(ctx)
		return nil
	})
	if err == nil || err.Error() != "ERR NX and XX, GT or LT options at the same time are not compatible" {
		t.Fatalf("EXEC: first error %v", err)
	}
	if keys, _, _ := cmds[0].(*redis.ScanCmd).Result(); !slices.Equal(keys, []string{"a"}) {
		t.Fatalf("SCAN in MULTI = %q", keys)
	}
	if keys := cmds[1].(*redis.StringSliceCmd).Val(); !slices.Equal(keys, []string{"a"}) {
		t.Fatalf("KEYS in MULTI = %q", keys)
	}
	if n := cmds[2].(*redis.IntCmd).Val(); n != 1 {
		t.Fatalf("DBSIZE in MULTI = %d", n)
	}
	if k := cmds[3].(*redis.StringCmd).Val(); k != "a" {
		t.Fatalf("RANDOMKEY in MULTI = %q", k)
	}
	if d := cmds[6].(*redis.DurationCmd).Val(); d != time.Minute {
		t.Fatalf("TTL in MULTI = %v", d)
	}
	if n := cmds[8].(*redis.IntCmd).Val(); n != 0 {
		t.Fatalf("DBSIZE after FLUSHALL in MULTI = %d", n)
	}

	// WATCH then FLUSHALL from another connection aborts the EXEC when the
	// watched key existed (an absent one is Redis's case in tests/diff).
	other := ts.goRedis(t, 2)
	for _, key := range []string{"present"} {
		rdb.Set(ctx, "present", "1", 0)
		err := rdb.Watch(ctx, func(tx *redis.Tx) error {
			if err := other.FlushAll(ctx).Err(); err != nil {
				return err
			}
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, "x", "1", 0)
				return nil
			})
			return err
		}, key)
		if !errors.Is(err, redis.TxFailedErr) {
			t.Fatalf("WATCH %s then FLUSHALL: EXEC err %v, want aborted", key, err)
		}
	}
	// WATCH then EXPIRE on the key aborts too.
	rdb.Set(ctx, "w", "1", 0)
	err = rdb.Watch(ctx, func(tx *redis.Tx) error {
		if err := other.Expire(ctx, "w", time.Hour).Err(); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "x", "1", 0)
			return nil
		})
		return err
	}, "w")
	if !errors.Is(err, redis.TxFailedErr) {
		t.Fatalf("WATCH then EXPIRE: EXEC err %v, want aborted", err)
	}
}
