package server

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"sessiond/shard"
)

// pipelinedReads sends, in one pipeline (one write), reads of every kind
// warmReads looks at, a write in their midst and reads after it, and
// checks every reply. It returns the stores' Warmed counts before and
// after.
func pipelinedReads(t *testing.T, c *redis.Client, stores []*shard.Store) (before, after int64) {
	t.Helper()
	ctx := context.Background()
	const n = 40
	for i := range n {
		if err := c.Set(ctx, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.HSet(ctx, "h", "f", "1", "g", "2").Err(); err != nil {
		t.Fatal(err)
	}
	count := func() (sum int64) {
		for _, st := range stores {
			sum += st.Warmed()
		}
		return sum
	}
	before = count()
	p := c.Pipeline()
	gets := make([]*redis.StringCmd, n)
	for i := range n {
		gets[i] = p.Get(ctx, fmt.Sprintf("k%d", i))
	}
	hget := p.HGet(ctx, "h", "g")
	hall := p.HGetAll(ctx, "h")
	missing := p.Get(ctx, "missing")
	exists := p.Exists(ctx, "k1", "missing", "k2")
	strlen := p.StrLen(ctx, "k10")
	wrongType := p.Get(ctx, "h")
	set := p.Set(ctx, "k0", "new", 0)
	again := p.Get(ctx, "k0")
	typ := p.Type(ctx, "h")
	if _, err := p.Exec(ctx); err != nil && err != redis.Nil && !isWrongType(err) {
		t.Fatalf("pipeline: %v", err)
	}
	for i, g := range gets {
		if v, err := g.Result(); err != nil || v != fmt.Sprintf("v%d", i) {
			t.Errorf("GET k%d = %q, %v", i, v, err)
		}
	}
	check := func(name string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("HGET", hget.Val(), "2")
	check("HGETALL", hall.Val(), map[string]string{"f": "1", "g": "2"})
	check("GET missing", missing.Err(), redis.Nil)
	check("EXISTS", exists.Val(), 2)
	check("STRLEN", strlen.Val(), 3)
	check("GET of a hash", wrongType.Err(), "WRONGTYPE Operation against a key holding the wrong kind of value")
	check("SET", set.Val(), "OK")
	check("GET after SET", again.Val(), "new")
	check("TYPE", typ.Val(), "hash")
	return before, count()
}

func isWrongType(err error) bool {
	return err != nil && len(err.Error()) >= 9 && err.Error()[:9] == "WRONGTYPE"
}

// TestPipelinedReadsAreWarmed checks that a pipeline of reads answers as
// before with its keys warmed first (shard.Store.Warm), on a standalone
// server and on a node holding three shard groups.
func TestPipelinedReadsAreWarmed(t *testing.T) {
	t.Run("standalone", func(t *testing.T) {
		ts := startServer(t, Config{})
		before, after := pipelinedReads(t, ts.goRedis(t, 2), []*shard.Store{ts.units()[0].store})
		if after <= before {
			t.Errorf("no key was warmed: Warmed %d -> %d", before, after)
		}
	})
	t.Run("three shard groups", func(t *testing.T) {
		tc := startSharded(t, 1, 3, Config{})
		tn := tc.nodes[0]
		var stores []*shard.Store
		for _, u := range tn.node.Server.units() {
			stores = append(stores, u.store)
		}
		if len(stores) != 3 || slices.Contains(stores, nil) {
			t.Fatalf("stores %v, want three local ones", stores)
		}
		before, after := pipelinedReads(t, tc.client(tn), stores)
		if after <= before {
			t.Errorf("no key was warmed: Warmed %d -> %d", before, after)
		}
	})
}

// TestPipelinedMembersAreWarmed checks that a pipeline of SADD, SREM,
// SISMEMBER, ZADD, ZSCORE, HSET and HGET on big collections answers as
// before with its members looked up first (shard.Store.WarmMembers), and
// that the lookups happened.
func TestPipelinedMembersAreWarmed(t *testing.T) {
	ts := startServer(t, Config{})
	st := ts.units()[0].store
	c := ts.goRedis(t, 2)
	ctx := context.Background()
	const n = 200 // past the listpack limits
	var members []any
	for i := range n {
		members = append(members, fmt.Sprintf("m%d", i))
	}
	if err := c.SAdd(ctx, "s", members...).Err(); err != nil {
		t.Fatal(err)
	}
	var zs []redis.Z
	var fields []any
	for i := range n {
		zs = append(zs, redis.Z{Score: float64(i), Member: fmt.Sprintf("m%d", i)})
		fields = append(fields, fmt.Sprintf("f%d", i), fmt.Sprintf("v%d", i))
	}
	if err := c.ZAdd(ctx, "z", zs...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.HSet(ctx, "h", fields...).Err(); err != nil {
		t.Fatal(err)
	}
	before := st.WarmedMembers()
	p := c.Pipeline()
	again := p.SAdd(ctx, "s", "m1")  // there already: 0
	added := p.SAdd(ctx, "s", "new") // 1
	isMember := p.SIsMember(ctx, "s", "m2")
	removed := p.SRem(ctx, "s", "m3")
	zsame := p.ZAdd(ctx, "z", redis.Z{Score: 4, Member: "m4"}) // same score: 0
	zscore := p.ZScore(ctx, "z", "m5")
	hget := p.HGet(ctx, "h", "f6")
	hset := p.HSet(ctx, "h", "f7", "w")
	hgetNew := p.HGet(ctx, "h", "f7")
	notMember := p.SIsMember(ctx, "s", "m3")
	if _, err := p.Exec(ctx); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("SADD m1", again.Val(), 0)
	check("SADD new", added.Val(), 1)
	check("SISMEMBER m2", isMember.Val(), true)
	check("SREM m3", removed.Val(), 1)
	check("ZADD m4 same score", zsame.Val(), 0)
	check("ZSCORE m5", zscore.Val(), 5)
	check("HGET f6", hget.Val(), "v6")
	check("HSET f7", hset.Val(), 0)
	check("HGET f7", hgetNew.Val(), "w")
	check("SISMEMBER m3 after SREM", notMember.Val(), false)
	if after := st.WarmedMembers(); after <= before {
		t.Errorf("no member was warmed: WarmedMembers %d -> %d", before, after)
	}
}
