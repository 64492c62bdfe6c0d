package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	killRounds      = 20
	writersPerNode  = 2
	maxWritesPerWkr = 100_000          // bounds each writer's key count
	writeTimeout    = 8 * time.Second  // > the 3 s leader wait plus forwarding
	failoverTimeout = 30 * time.Second // kill to first acknowledged write
	catchUpTimeout  = 60 * time.Second
)

// keyOf and valueOf name writer w's i-th key and its value; every third
// write is an HSET of fields f (the value) and g.
func keyOf(w, i int) string   { return fmt.Sprintf("w%d:%d", w, i) }
func valueOf(w, i int) string { return fmt.Sprintf("v%d-%d-%s", w, i, strings.Repeat("x", i%17)) }
func isHash(i int) bool       { return i%3 == 0 }

// writer writes unique keys through one node and records which writes
// were acknowledged. Its fields are read only after run returns.
type writer struct {
	id    int
	c     *redis.Client
	acked []int          // indices i whose write was answered OK
	errs  map[string]int // error replies and failures, by kind
	nerrs int
	wrong []string // OK-class replies with an unexpected value
}

// errKind shortens an error to its kind for the summary.
func errKind(err error) string {
	s := err.Error()
	if i := strings.IndexAny(s, "0123456789"); i > 0 && i < 40 && strings.Contains(s, "127.0.0.1") {
		s = s[:i]
	}
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// run writes until ctx ends or it made max attempts. After an error it
// pauses briefly so that a node that is down is not hammered.
func (w *writer) run(ctx context.Context, max int) {
	w.errs = make(map[string]int)
	for i := 0; i < max && ctx.Err() == nil; i++ {
		key, val := keyOf(w.id, i), valueOf(w.id, i)
		var err error
		if isHash(i) {
			var n int64
			n, err = w.c.HSet(ctx, key, "f", val, "g", "x").Result()
			if err == nil && n != 2 {
				w.wrong = append(w.wrong, fmt.Sprintf("HSET %s answered %d, want 2", key, n))
			}
		} else {
			var s string
			s, err = w.c.Set(ctx, key, val, 0).Result()
			if err == nil && s != "OK" {
				w.wrong = append(w.wrong, fmt.Sprintf("SET %s answered %q, want OK", key, s))
			}
		}
		if err == nil {
			w.acked = append(w.acked, i)
			continue
		}
		if ctx.Err() != nil {
			break
		}
		w.nerrs++
		w.errs[errKind(err)]++
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond): // back-off after an error, not synchronisation
		}
	}
}

// findLeader polls the running nodes until exactly one says it is the
// Raft leader, ROLE says master there, and every running node names it
// as leader.
func findLeader(t *testing.T, nodes []*node, timeout time.Duration) *node {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		var leader *node
		leaders, agree := 0, true
		ids := map[string]bool{}
		for _, n := range nodes {
			if !n.running() {
				continue
			}
			ri, err := getRaftInfo(ctx, n.addr())
			if err != nil {
				agree = false
				last = fmt.Sprintf("%s: %v", n.id, err)
				continue
			}
			ids[ri.leader] = true
			if ri.state == "leader" {
				leaders++
				leader = n
			}
		}
		if leader != nil && leaders == 1 && agree && len(ids) == 1 && ids[leader.id] {
			r, err := role(ctx, leader.addr())
			if err == nil && r == "master" {
				cancel()
				return leader
			}
			last = fmt.Sprintf("ROLE on leader %s: %q %v", leader.id, r, err)
		} else if agree {
			last = fmt.Sprintf("%d leaders, leader ids %v", leaders, slices.Sorted(maps.Keys(ids)))
		}
		cancel()
		time.Sleep(50 * time.Millisecond) // poll interval
	}
	t.Fatalf("no agreed leader within %v: %s", timeout, last)
	return nil
}

// firstAck writes probe keys through every node in survivors at once
// until one write is acknowledged, and returns when that happened and
// the acknowledged key; ok is false if none was within timeout.
func firstAck(survivors []*node, round int, timeout time.Duration) (at time.Time, key string, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	type ack struct {
		at  time.Time
		key string
	}
	acks := make(chan ack, len(survivors))
	var wg sync.WaitGroup
	for _, n := range survivors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(n.addr(), writeTimeout)
			defer c.Close()
			for i := 0; ctx.Err() == nil; i++ {
				key := fmt.Sprintf("probe:%d:%s:%d", round, n.id, i)
				if err := c.Set(ctx, key, key, 0).Err(); err == nil {
					acks <- ack{time.Now(), key}
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Millisecond): // back-off after an error
				}
			}
		}()
	}
	var first ack
	select {
	case first = <-acks:
		ok = true
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	close(acks)
	if ok {
		// A second survivor may have been acknowledged as well: its key
		// is acknowledged too and is checked like the first.
		for a := range acks {
			if a.at.Before(first.at) {
				first = a
			}
		}
	}
	return first.at, first.key, ok
}

// snapshotAll takes a Raft snapshot on every running node (DEBUG
// RAFT-SNAPSHOT), which must answer OK.
func snapshotAll(t *testing.T, nodes []*node) {
	t.Helper()
	for _, n := range nodes {
		if !n.running() {
			continue
		}
		c := newClient(n.addr(), 30*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		s, err := c.Do(ctx, "DEBUG", "RAFT-SNAPSHOT").Text()
		cancel()
		c.Close()
		if err != nil || s != "OK" {
			t.Errorf("DEBUG RAFT-SNAPSHOT on %s: %q, %v", n.id, s, err)
		}
	}
}

// waitCaughtUp polls n until its applied index reaches the leader's
// applied index as read at the start.
func waitCaughtUp(t *testing.T, leader, n *node, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var target uint64
	for {
		ri, err := getRaftInfo(ctx, leader.addr())
		if err == nil {
			target = ri.applied
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("INFO raft on leader %s: %v", leader.id, err)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	var last string
	for ctx.Err() == nil {
		ri, err := getRaftInfo(ctx, n.addr())
		if err == nil && ri.applied >= target {
			return
		}
		last = fmt.Sprintf("applied %d of %d, err %v", ri.applied, target, err)
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	t.Fatalf("%s did not catch up within %v: %s", n.id, timeout, last)
}

// waitDigestsEqual polls every node's DEBUG DIGEST and applied index
// until they are all equal, and returns the digest.
func waitDigestsEqual(t *testing.T, nodes []*node, timeout time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last []string
	for ctx.Err() == nil {
		last = last[:0]
		ds := map[string]bool{}
		applied := map[uint64]bool{}
		for _, n := range nodes {
			d, err := digest(ctx, n.addr())
			ri, rerr := getRaftInfo(ctx, n.addr())
			if err != nil || rerr != nil {
				ds["error"] = true
				last = append(last, fmt.Sprintf("%s: %v %v", n.id, err, rerr))
				continue
			}
			ds[d] = true
			applied[ri.applied] = true
			last = append(last, fmt.Sprintf("%s: digest %s applied %d", n.id, d, ri.applied))
		}
		if len(ds) == 1 && len(applied) == 1 && !ds["error"] {
			for d := range ds {
				return d
			}
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
	t.Fatalf("digests differ after %v:\n%s", timeout, strings.Join(last, "\n"))
	return ""
}

// verifyAcked reads every acknowledged key back through the nodes in
// turn (pipelines of 500) and reports every key that is missing or has
// another value. probes are acknowledged SETs whose value is the key.
func verifyAcked(t *testing.T, nodes []*node, writers []*writer, probes []string) (checked int) {
	t.Helper()
	type want struct {
		key, val string
		hash     bool
	}
	var all []want
	for _, w := range writers {
		for _, i := range w.acked {
			all = append(all, want{keyOf(w.id, i), valueOf(w.id, i), isHash(i)})
		}
	}
	for _, p := range probes {
		all = append(all, want{p, p, false})
	}
	clients := make([]*redis.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = newClient(n.addr(), 10*time.Second)
		defer clients[i].Close()
	}
	lost := 0
	for b := 0; b*500 < len(all); b++ {
		batch := all[b*500 : min(len(all), (b+1)*500)]
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		pipe := clients[b%len(clients)].Pipeline()
		cmds := make([]redis.Cmder, len(batch))
		for i, w := range batch {
			if w.hash {
				cmds[i] = pipe.HGetAll(ctx, w.key)
			} else {
				cmds[i] = pipe.Get(ctx, w.key)
			}
		}
		_, err := pipe.Exec(ctx)
		cancel()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("reading back through %s: %v", nodes[b%len(nodes)].id, err)
		}
		for i, w := range batch {
			var got string
			switch c := cmds[i].(type) {
			case *redis.MapStringStringCmd:
				m, err := c.Result()
				if err == nil && len(m) == 2 && m["g"] == "x" {
					got = m["f"]
				} else {
					got = fmt.Sprintf("HGETALL=%v err=%v", m, err)
				}
			case *redis.StringCmd:
				v, err := c.Result()
				got = v
				if err != nil {
					got = fmt.Sprintf("GET err=%v", err)
				}
			}
			if got != w.val {
				lost++
				if lost <= 20 {
					t.Errorf("acknowledged key %s: read %q, want %q", w.key, got, w.val)
				}
			}
		}
		checked += len(batch)
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes lost or wrong", lost, len(all))
	}
	return checked
}

// TestKillLeader kills the leader of a three-node group 20 times under
// continuous writes through every node, restarting it each time.
func TestKillLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills sessiond processes for tens of seconds")
	}
	nodes := startNodes(t, []string{"n1", "n2", "n3"}, true)
	findLeader(t, nodes, 30*time.Second)

	ctx, stopWriters := context.WithTimeout(context.Background(), 4*time.Minute)
	defer stopWriters()
	var writers []*writer
	var wg sync.WaitGroup
	for i, n := range nodes {
		for j := range writersPerNode {
			w := &writer{id: i*writersPerNode + j, c: newClient(n.addr(), writeTimeout)}
			defer w.c.Close()
			writers = append(writers, w)
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(ctx, maxWritesPerWkr)
			}()
		}
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopWriters()
			wg.Wait()
		}
	}
	defer stop() // on t.Fatal, before the nodes are killed

	var failovers []time.Duration
	var probes []string
	start := time.Now()
	for round := range killRounds {
		leader := findLeader(t, nodes, 30*time.Second)
		var survivors []*node
		for _, n := range nodes {
			if n != leader {
				survivors = append(survivors, n)
			}
		}
		if round%5 == 2 {
			// Some restarts load a Raft snapshot and replay only the log
			// after it.
			snapshotAll(t, nodes)
		}
		killedAt := time.Now()
		leader.kill()
		at, key, ok := firstAck(survivors, round, failoverTimeout)
		if !ok {
			t.Fatalf("round %d: no write acknowledged through %s or %s within %v of killing leader %s",
				round, survivors[0].id, survivors[1].id, failoverTimeout, leader.id)
		}
		d := at.Sub(killedAt)
		failovers = append(failovers, d)
		probes = append(probes, key)
		restart(t, leader)
		newLeader := findLeader(t, nodes, 30*time.Second)
		if newLeader != leader {
			waitCaughtUp(t, newLeader, leader, catchUpTimeout)
		}
		t.Logf("round %2d: killed leader %s, first ack after %v (via %s), new leader %s, rejoined after %v",
			round, leader.id, d.Round(time.Millisecond), key, newLeader.id, time.Since(killedAt).Round(time.Millisecond))
	}
	elapsed := time.Since(start)
	stop()

	acked, nerrs := 0, 0
	kinds := map[string]int{}
	for _, w := range writers {
		t.Logf("writer %d (via %s): %d acknowledged, %d failed", w.id, w.c.Options().Addr, len(w.acked), w.nerrs)
		acked += len(w.acked)
		nerrs += w.nerrs
		for k, v := range w.errs {
			kinds[k] += v
		}
		for _, s := range w.wrong {
			t.Errorf("writer %d: %s", w.id, s)
		}
	}
	t.Logf("%d writers: %d writes acknowledged, %d failed, in %v", len(writers), acked, nerrs, elapsed.Round(time.Millisecond))
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		t.Logf("  error %6d x %s", kinds[k], k)
	}
	if acked == 0 {
		t.Fatal("no write was acknowledged")
	}

	d := waitDigestsEqual(t, nodes, 60*time.Second)
	t.Logf("all nodes' DEBUG DIGEST: %s", d)
	checked := verifyAcked(t, nodes, writers, probes)
	t.Logf("read back %d acknowledged keys", checked)

	report := failoverReport(failovers)
	t.Log(report)
	if p := os.Getenv("SESSIOND_FAILOVER_REPORT"); p != "" {
		if err := os.WriteFile(p, []byte(report+"\n"), 0o644); err != nil {
			t.Errorf("writing SESSIOND_FAILOVER_REPORT: %v", err)
		}
	}
}

// failoverReport summarises failover times: count, min, median, p90,
// max and every sample in order.
func failoverReport(ds []time.Duration) string {
	if len(ds) == 0 {
		return "failover: no samples"
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s)-1)+0.5))] }
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	samples := make([]string, len(ds))
	for i, d := range ds {
		samples[i] = ms(d)
	}
	return fmt.Sprintf("failover (kill -9 of the leader to the first acknowledged write via a survivor), n=%d: min %s median %s p90 %s max %s\nsamples: %s",
		len(s), ms(s[0]), ms(q(0.5)), ms(q(0.9)), ms(s[len(s)-1]), strings.Join(samples, " "))
}

// TestKillSingleNode kills a one-member node under writes and restarts it
// on its data directory: every acknowledged key is back, and keys with a
// TTL keep their absolute deadline.
func TestKillSingleNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills a sessiond process")
	}
	n := startNodes(t, []string{"s1"}, false)[0]
	c := newClient(n.addr(), writeTimeout)
	defer c.Close()

	// Wait until the node leads its one-member group and takes writes.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		err := c.Set(ctx, "ready", "1", 0).Err()
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node never took a write: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}

	// Keys with a TTL: their absolute deadline (PEXPIRETIME) must survive
	// the restart unchanged. short:* keys expire soon after the kill.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const ttlKeys = 50
	expireAt := make(map[string]int64)
	var shortAcked time.Time
	for i := range ttlKeys {
		key := fmt.Sprintf("ttl:%d", i)
		if err := c.Set(ctx, key, key, time.Duration(60+i)*time.Second).Err(); err != nil {
			t.Fatalf("SET %s PX: %v", key, err)
		}
		at, err := c.PExpireTime(ctx, key).Result()
		if err != nil || at <= 0 {
			t.Fatalf("PEXPIRETIME %s = %v, %v", key, at, err)
		}
		expireAt[key] = int64(at / time.Millisecond)
	}
	for i := range 10 {
		key := fmt.Sprintf("short:%d", i)
		if err := c.Set(ctx, key, "v", 200*time.Millisecond).Err(); err != nil {
			t.Fatalf("SET %s PX 200: %v", key, err)
		}
	}
	shortAcked = time.Now()

	// A writer runs while the node is killed: in-flight writes may be
	// lost, acknowledged ones must not.
	w := &writer{id: 0, c: newClient(n.addr(), writeTimeout)}
	defer w.c.Close()
	wctx, stopWriter := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(wctx, 20_000)
	}()
	// Kill once the writer has some acknowledged writes behind it: poll
	// the node's key count.
	for killBy := time.Now().Add(30 * time.Second); time.Now().Before(killBy); {
		if sz, err := c.DBSize(ctx).Result(); err != nil || sz >= ttlKeys+10+1+2000 {
			break
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
	n.kill()
	stopWriter()
	<-done
	if len(w.acked) == 0 {
		t.Fatal("no write acknowledged before the kill")
	}

	killed := time.Now()
	restart(t, n)
	t.Logf("restarted, answering PING after %v", time.Since(killed))
	// Wait until the restarted node is master again (it must have
	// replayed its log before it answers reads).
	for {
		r, err := role(ctx, n.addr())
		if err == nil && r == "master" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("restarted node is not master: %q %v", r, err)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}

	checked := verifyAcked(t, []*node{n}, []*writer{w}, nil)
	t.Logf("%d acknowledged keys read back after kill -9 and restart (%d writes failed at the kill)", checked, w.nerrs)
	for _, s := range w.wrong {
		t.Errorf("writer: %s", s)
	}

	for key, want := range expireAt {
		before := time.Now()
		pttl, err := c.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatalf("PTTL %s: %v", key, err)
		}
		at, err := c.PExpireTime(ctx, key).Result()
		if err != nil {
			t.Fatalf("PEXPIRETIME %s: %v", key, err)
		}
		if got := int64(at / time.Millisecond); got != want {
			t.Errorf("%s: PEXPIRETIME %d after restart, %d before: the deadline moved", key, got, want)
		}
		// The server's clock read after ours: remaining <= deadline - before.
		if limit := time.Duration(want-before.UnixMilli()) * time.Millisecond; pttl > limit || pttl <= 0 {
			t.Errorf("%s: PTTL %v after restart, want in (0, %v] (deadline %d)", key, pttl, limit, want)
		}
	}
	if time.Since(shortAcked) > 200*time.Millisecond {
		for i := range 10 {
			key := fmt.Sprintf("short:%d", i)
			if v, err := c.Get(ctx, key).Result(); !errors.Is(err, redis.Nil) {
				t.Errorf("%s: GET = %q, %v after its 200ms TTL passed, want nil", key, v, err)
			}
		}
	}
}
