package compat

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestGoRedisSortedSetAlgebra drives ZUNION, ZINTER, ZDIFF, their STORE
// forms, ZINTERCARD, ZRANGESTORE and ZRANDMEMBER through go-redis's
// typed methods in RESP2 and RESP3: a leaderboard merged from two days,
// a tag intersection, and random picks with scores.
func TestGoRedisSortedSetAlgebra(t *testing.T) {
	for _, proto := range protocols {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			n := startNode(t)
			c := goRedisClient(t, n, proto)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			must := func(err error, what string) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			must(c.ZAdd(ctx, "day1", redis.Z{Score: 10, Member: "ann"}, redis.Z{Score: 5, Member: "bob"}).Err(), "ZADD day1")
			must(c.ZAdd(ctx, "day2", redis.Z{Score: 1, Member: "bob"}, redis.Z{Score: 7, Member: "cid"}).Err(), "ZADD day2")
			must(c.SAdd(ctx, "vip", "bob", "cid").Err(), "SADD vip")

			n1, err := c.ZUnionStore(ctx, "week", &redis.ZStore{Keys: []string{"day1", "day2"}, Weights: []float64{1, 2}}).Result()
			must(err, "ZUNIONSTORE")
			week, err := c.ZRangeWithScores(ctx, "week", 0, -1).Result()
			must(err, "ZRANGE week")
			want := []redis.Z{{Score: 7, Member: "bob"}, {Score: 10, Member: "ann"}, {Score: 14, Member: "cid"}}
			if n1 != 3 || !slices.Equal(week, want) {
				t.Fatalf("ZUNIONSTORE %d, week %v, want %v", n1, week, want)
			}

			inter, err := c.ZInterWithScores(ctx, &redis.ZStore{Keys: []string{"week", "vip"}, Aggregate: "MAX"}).Result()
			must(err, "ZINTER")
			if want := []redis.Z{{Score: 7, Member: "bob"}, {Score: 14, Member: "cid"}}; !slices.Equal(inter, want) {
				t.Fatalf("ZINTER %v, want %v", inter, want)
			}
			diff, err := c.ZDiffWithScores(ctx, "week", "vip").Result()
			must(err, "ZDIFF")
			if want := []redis.Z{{Score: 10, Member: "ann"}}; !slices.Equal(diff, want) {
				t.Fatalf("ZDIFF %v, want %v", diff, want)
			}
			card, err := c.ZInterCard(ctx, 1, "week", "vip").Result()
			must(err, "ZINTERCARD")
			if card != 1 {
				t.Fatalf("ZINTERCARD LIMIT 1: %d", card)
			}
			top, err := c.ZRangeStore(ctx, "top2", redis.ZRangeArgs{Key: "week", Start: 0, Stop: 1, Rev: true}).Result()
			must(err, "ZRANGESTORE")
			topm, err := c.ZRange(ctx, "top2", 0, -1).Result()
			must(err, "ZRANGE top2")
			if top != 2 || !slices.Equal(topm, []string{"ann", "cid"}) {
				t.Fatalf("ZRANGESTORE %d, top2 %v", top, topm)
			}

			picks, err := c.ZRandMemberWithScores(ctx, "week", 2).Result()
			must(err, "ZRANDMEMBER WITHSCORES")
			scores := map[string]float64{"ann": 10, "bob": 7, "cid": 14}
			if len(picks) != 2 || picks[0].Member == picks[1].Member {
				t.Fatalf("ZRANDMEMBER 2: %v", picks)
			}
			for _, p := range picks {
				if s, ok := scores[p.Member.(string)]; !ok || s != p.Score {
					t.Fatalf("ZRANDMEMBER pick %v", p)
				}
			}
			if err := c.ZUnion(ctx, redis.ZStore{Keys: []string{"week", "nokey"}, Weights: []float64{1}}).Err(); err == nil {
				t.Fatal("ZUNION with one weight for two keys: no error")
			}
		})
	}
}
