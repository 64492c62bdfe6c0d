package server

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"sessiond/shard"
	"sessiond/ttl"
)

// lockScript is issue 5's LOCK workload: take a lock, check it, release it.
const lockScript = `if redis.call("set", KEYS[1], ARGV[1], "NX", "PX", 30000) then if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end end return 0`

// BenchmarkScriptLockApply measures one EVALSHA of lockScript from
// parse to reply, through the store's Apply as the FSM runs it (no
// network, no log): go test -bench ScriptLock -cpuprofile.
func BenchmarkScriptLockApply(b *testing.B) {
	ts := startServer(b, Config{Clock: ttl.SystemClock{}})
	sha, err := ts.scripts().Load([]byte(lockScript))
	if err != nil {
		b.Fatal(err)
	}
	u := ts.units()[0]
	c := &client{s: ts.Server, u: u, authed: true, rng: rand.New(rand.NewPCG(1, 2))}
	args := [][]byte{[]byte("EVALSHA"), []byte(sha), []byte("1"), nil, []byte("tok")}
	now := time.Now().UnixMilli()
	var w replyWriter
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		args[3] = strconv.AppendInt([]byte("lock:"), int64(i%100000), 10)
		op, err := parseEvalSHA(c, args, now)
		if err != nil {
			b.Fatal(err)
		}
		op.Now = now
		res := u.store.Apply(&op)
		w.b = w.b[:0]
		replyScript(&w, res)
		if res.Kind != shard.RInt || res.Int != 1 {
			b.Fatalf("reply %q", w.b)
		}
	}
}
