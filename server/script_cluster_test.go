package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessiond/script"
)

// TestClusterScripts checks script replication: a writing script sent to
// a follower is applied once, identically on every node (same digest,
// random commands included); SCRIPT LOAD reaches every node's cache, so
// EVALSHA works on a follower and after the leader changes; a lock is
// released by compare-and-delete.
func TestClusterScripts(t *testing.T) {
	tc := startCluster(t, 3, Config{}, fastRaft)
	l := tc.leader()
	f := tc.follower(l)
	ctx := context.Background()
	fc := tc.client(f)

	for i := 0; i < 20; i++ {
		if err := fc.Set(ctx, "pool"+string(rune('a'+i)), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// A writing script through a follower: INCR runs once, and the random
	// picks (RANDOMKEY, HRANDFIELD or SPOP, math.random) are the same on
	// every replica.
	body := `local n = redis.call('incr', KEYS[1])
redis.call('set', KEYS[2], redis.call('randomkey') .. ':' .. math.random(1000000))
return n`
	if n, err := fc.Eval(ctx, body, []string{"ctr", "pick"}).Int(); err != nil || n != 1 {
		t.Fatalf("EVAL through follower = %d, %v", n, err)
	}
	d := tc.converge()
	for _, tn := range tc.nodes {
		st := tn.node.Server.units()[0].store
		if st.Digest() != d {
			t.Fatalf("node %s digest differs", tn.id)
		}
	}
	lc := tc.client(l)
	if n, err := lc.Get(ctx, "ctr").Int(); err != nil || n != 1 {
		t.Fatalf("ctr = %d, %v: the script ran more than once or not at all", n, err)
	}

	// SCRIPT LOAD on the leader; EVALSHA on a follower (forwarded) and
	// EVALSHA_RO on a READONLY follower connection (its own cache).
	release := `if redis.call('get',KEYS[1]) == ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end`
	sha, err := lc.ScriptLoad(ctx, release).Result()
	if err != nil || sha != script.SHA1Hex([]byte(release)) {
		t.Fatalf("SCRIPT LOAD = %q, %v", sha, err)
	}
	if err := fc.Set(ctx, "lock", "tok", 10*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := fc.EvalSha(ctx, sha, []string{"lock"}, "other").Int(); err != nil || n != 0 {
		t.Fatalf("EVALSHA wrong token on follower = %d, %v", n, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := fc.ScriptExists(ctx, sha).Result()
		if err == nil && ok[0] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("follower never cached the loaded script: %v %v", ok, err)
		}
		time.Sleep(10 * time.Millisecond) // polling for replication, bounded
	}
	conn := fc.Conn()
	defer conn.Close()
	if err := conn.ReadOnly(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := conn.EvalShaRO(ctx, script.SHA1Hex([]byte("return redis.call('get', KEYS[1])")), []string{"lock"}).Result(); err == nil {
		t.Fatalf("EVALSHA_RO of an unknown script = %v", v)
	}
	if n, err := conn.EvalShaRO(ctx, sha, []string{"lock"}, "zzz").Int(); err != nil || n != 0 {
		t.Fatalf("EVALSHA_RO on a READONLY follower = %d, %v", n, err)
	}
	if n, err := fc.EvalSha(ctx, sha, []string{"lock"}, "tok").Int(); err != nil || n != 1 {
		t.Fatalf("EVALSHA release on follower = %d, %v", n, err)
	}
	tc.converge()
	for _, tn := range tc.nodes {
		ok, err := tc.client(tn).ScriptExists(ctx, sha).Result()
		if err != nil || !ok[0] {
			t.Fatalf("node %s: SCRIPT EXISTS = %v, %v", tn.id, ok, err)
		}
	}

	// The leader goes away: EVALSHA still works through the new one.
	tc.stop(l)
	nl := tc.leader()
	nc := tc.client(nl)
	if err := nc.Set(ctx, "lock", "t2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := nc.EvalSha(ctx, sha, []string{"lock"}, "t2").Int(); err != nil || n != 1 {
		t.Fatalf("EVALSHA after failover = %d, %v", n, err)
	}
	tc.converge()
}

// TestClusterSPopCount checks SPOP with a count on a big set through a
// follower (the O(count) sampling, FastSample), inside MULTI and inside a
// script (the sampling every version has): each pops distinct members,
// and every replica ends with the same set.
func TestClusterSPopCount(t *testing.T) {
	tc := startCluster(t, 3, Config{}, fastRaft)
	l := tc.leader()
	fc := tc.client(tc.follower(l))
	ctx := context.Background()
	members := make([]any, 2000)
	for i := range members {
		members[i] = fmt.Sprintf("m%d", i)
	}
	if err := fc.SAdd(ctx, "s", members...).Err(); err != nil {
		t.Fatal(err)
	}
	popped := map[string]bool{}
	check := func(what string, got []string, err error, n int) {
		t.Helper()
		if err != nil || len(got) != n {
			t.Fatalf("%s: %q, %v; want %d members", what, got, err, n)
		}
		for _, m := range got {
			if popped[m] {
				t.Fatalf("%s: %q popped twice", what, m)
			}
			popped[m] = true
		}
	}
	got, err := fc.SPopN(ctx, "s", 7).Result()
	check("SPOP 7", got, err, 7)
	var multi *redis.StringSliceCmd
	if _, err := fc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		multi = p.SPopN(ctx, "s", 3)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check("SPOP 3 in MULTI", multi.Val(), multi.Err(), 3)
	got, err = fc.Eval(ctx, `return redis.call('spop', KEYS[1], 4)`, []string{"s"}).StringSlice()
	check("SPOP 4 in a script", got, err, 4)
	if n, err := fc.SCard(ctx, "s").Result(); err != nil || n != int64(2000-len(popped)) {
		t.Fatalf("SCARD = %d, %v; want %d", n, err, 2000-len(popped))
	}
	d := tc.converge()
	for _, tn := range tc.nodes {
		if st := tn.node.Server.units()[0].store; st.Digest() != d {
			t.Fatalf("node %s digest differs", tn.id)
		}
	}
}
