package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"
)

// regInput is one register operation of the linearizability check.
type regInput struct {
	key   string
	write bool
	value string
}

// regOutput is what a read returned ("" for a missing key).
type regOutput struct{ value string }

// registerModel is a set of independent registers (SET/GET per key).
var registerModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(regInput).key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regInput)
		if in.write {
			return true, in.value
		}
		return output.(regOutput).value == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		if in.write {
			return fmt.Sprintf("set(%s, %s)", in.key, in.value)
		}
		return fmt.Sprintf("get(%s) -> %q", in.key, output.(regOutput).value)
	},
}

// registerClients is a set of clients sending SETs and GETs of a few keys
// through a cluster's nodes, recording a history for porcupine. A write
// answered with an error that is not a clean refusal (a lost connection,
// outcome unknown) may have happened at any time after its call; clean
// refusals (CLUSTERDOWN) never did.
type registerClients struct {
	start   time.Time
	mu      sync.Mutex
	history []porcupine.Operation
	wg      sync.WaitGroup
}

// startRegisterClients starts clients clients, client i on node i mod the
// nodes running now, each running up to ops operations (alternately a SET
// of a unique value and a GET) over keys, until stop is closed (nil:
// never).
func (tc *testCluster) startRegisterClients(ctx context.Context, keys []string, clients, ops int, stop <-chan struct{}) *registerClients {
	r := &registerClients{start: time.Now()}
	var nodes []*testNode
	for _, tn := range tc.nodes {
		if tn.node != nil {
			nodes = append(nodes, tn)
		}
	}
	record := func(op porcupine.Operation) {
		r.mu.Lock()
		r.history = append(r.history, op)
		r.mu.Unlock()
	}
	for ci := 0; ci < clients; ci++ {
		c := tc.client(nodes[ci%len(nodes)])
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for i := 0; i < ops && ctx.Err() == nil; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := keys[(i/2)%len(keys)]
				call := time.Since(r.start).Nanoseconds()
				if i%2 == 0 {
					v := fmt.Sprintf("c%d-%d", ci, i)
					err := c.Set(ctx, key, v, 0).Err()
					ret := time.Since(r.start).Nanoseconds()
					switch {
					case err == nil:
						record(porcupine.Operation{ClientId: ci, Input: regInput{key, true, v}, Call: call, Output: regOutput{}, Return: ret})
					case strings.HasPrefix(err.Error(), "CLUSTERDOWN"):
						// refused before it was appended: it never happened
					default:
						record(porcupine.Operation{ClientId: ci, Input: regInput{key, true, v}, Call: call, Output: regOutput{}, Return: math.MaxInt64})
					}
					continue
				}
				got, err := c.Get(ctx, key).Result()
				ret := time.Since(r.start).Nanoseconds()
				if errors.Is(err, redis.Nil) {
					got, err = "", nil
				}
				if err == nil {
					record(porcupine.Operation{ClientId: ci, Input: regInput{key, false, ""}, Call: call, Output: regOutput{got}, Return: ret})
				}
			}
		}()
	}
	return r
}

// check waits for the clients to finish and checks their history: at
// least min operations, linearizable (a checker timeout is logged, not a
// failure).
func (r *registerClients) check(t *testing.T, min int) {
	t.Helper()
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.history) < min {
		t.Fatalf("only %d operations recorded", len(r.history))
	}
	res, _ := porcupine.CheckOperationsVerbose(registerModel, r.history, 60*time.Second)
	switch res {
	case porcupine.Ok:
		t.Logf("%d operations: linearizable", len(r.history))
	case porcupine.Unknown:
		t.Logf("%d operations: checker timed out (not a failure)", len(r.history))
	default:
		t.Fatalf("history of %d operations is not linearizable", len(r.history))
	}
}

// TestClusterLinearizable records a history of SETs and GETs sent by
// clients of every node while the leader is partitioned and healed, and
// checks it with porcupine.
func TestClusterLinearizable(t *testing.T) {
	for _, mode := range []string{"lease", "linearizable"} {
		t.Run(mode, func(t *testing.T) {
			tc := startCluster(t, 3, Config{ReadConsistency: mode}, nil)
			tc.leader()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			r := tc.startRegisterClients(ctx, []string{"reg0", "reg1", "reg2"}, 6, 400, nil)
			// Partition the leader for a while, then heal.
			time.Sleep(300 * time.Millisecond) // let some history build up first (not synchronisation)
			l := tc.leader()
			l.stream.Isolate(true)
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				nl := false
				for _, tn := range tc.nodes {
					if tn != l && tn.node.Group.Ready() {
						nl = true
					}
				}
				if nl {
					break
				}
				time.Sleep(10 * time.Millisecond) // polling for the new election, bounded
			}
			l.stream.Isolate(false)
			r.check(t, 100)
		})
	}
}

// TestRegisterModelRejectsStaleRead makes sure the checker above can fail:
// a read of an overwritten value after the overwrite completed is illegal.
func TestRegisterModelRejectsStaleRead(t *testing.T) {
	h := []porcupine.Operation{
		{ClientId: 0, Input: regInput{"k", true, "a"}, Call: 0, Output: regOutput{}, Return: 10},
		{ClientId: 0, Input: regInput{"k", true, "b"}, Call: 20, Output: regOutput{}, Return: 30},
		{ClientId: 1, Input: regInput{"k", false, ""}, Call: 40, Output: regOutput{"a"}, Return: 50},
	}
	if porcupine.CheckOperations(registerModel, h) {
		t.Fatal("a stale read was accepted")
	}
	h[2].Output = regOutput{"b"}
	if !porcupine.CheckOperations(registerModel, h) {
		t.Fatal("a fresh read was rejected")
	}
}
