package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// quietLogger discards go-redis's internal log lines (failed dials to
// the node the test cut off).
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// newClient returns a go-redis client for addr that never retries (an OK
// reply means exactly one attempt was acknowledged) and gives up on a
// reply after readTimeout.
func newClient(addr string, readTimeout time.Duration) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:            addr,
		Protocol:        2,
		MaxRetries:      -1,
		PoolSize:        1,
		DialTimeout:     2 * time.Second,
		ReadTimeout:     readTimeout,
		WriteTimeout:    2 * time.Second,
		DisableIdentity: true,
	})
}

// raftState returns the raft_state field of the node's INFO raft
// ("leader", "follower", "candidate").
func raftState(ctx context.Context, addr string) (string, error) {
	c := newClient(addr, 2*time.Second)
	defer c.Close()
	s, err := c.Info(ctx, "raft").Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "raft_state:"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("%s: INFO raft has no raft_state:\n%s", addr, s)
}

// findLeader polls nodes until every one answers INFO raft and exactly
// one says it is the leader of the first shard group, or timeout passes. It returns that leader,
// or nil and a description of the last states seen.
func findLeader(nodes []*node, timeout time.Duration) (*node, string) {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		var leaders []*node
		var states []string
		answered := true
		for _, n := range nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			st, err := raftState(ctx, n.clientAddr())
			cancel()
			if err != nil {
				answered = false
				st = err.Error()
			}
			if st == "leader" {
				leaders = append(leaders, n)
			}
			states = append(states, n.service+": "+st)
		}
		last = strings.Join(states, "; ")
		if answered && len(leaders) == 1 {
			return leaders[0], last
		}
		if time.Now().After(deadline) {
			return nil, last
		}
		<-time.After(100 * time.Millisecond) // poll interval, bounded by deadline
	}
}

// writeAll sets every key of kv through addr, retrying each key until it
// is acknowledged (an unacknowledged attempt may or may not have been
// applied; the value is the same either way) or timeout passes. It
// returns the first error when the deadline passed.
func writeAll(nodes []*node, kv map[string]string, timeout time.Duration) error {
	clients := map[*node]*redis.Client{}
	for _, n := range nodes {
		clients[n] = newClient(n.clientAddr(), 3*time.Second)
		defer clients[n].Close()
	}
	deadline := time.Now().Add(timeout)
	for k, v := range kv {
		at := nodes[0]
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := clients[at].Set(ctx, k, v, 0).Err()
			cancel()
			if err == nil {
				break
			}
			// -MOVED slot ip:port names the master by its announced
			// address: follow it when it is one of nodes.
			if f := strings.Fields(err.Error()); len(f) == 3 && f[0] == "MOVED" {
				for _, n := range nodes {
					if n.announced() == f[2] {
						at = n
					}
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("SET %s through %s not acknowledged within %v: %w", k, at.service, timeout, err)
			}
			<-time.After(50 * time.Millisecond) // retry interval, bounded by deadline
		}
	}
	return nil
}

// readAll reads every key of kv from addr on one connection in READONLY
// mode, in one pipeline, and returns the keys whose value differs
// (missing included).
func readAll(ctx context.Context, addr string, kv map[string]string) ([]string, error) {
	c := newClient(addr, 5*time.Second)
	defer c.Close()
	conn := c.Conn()
	defer conn.Close()
	gets := make(map[string]*redis.StringCmd, len(kv))
	_, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ReadOnly(ctx)
		for k := range kv {
			gets[k] = p.Get(ctx, k)
		}
		return nil
	})
	var reply redis.Error // a reply such as -MOVED counts as a wrong value
	if err != nil && !errors.As(err, &reply) {
		return nil, err
	}
	var wrong []string
	for k, v := range kv {
		if got, err := gets[k].Result(); err != nil || got != v {
			wrong = append(wrong, k)
		}
	}
	return wrong, nil
}

// digest returns the node's DEBUG DIGEST.
func digest(ctx context.Context, addr string) (string, error) {
	c := newClient(addr, 5*time.Second)
	defer c.Close()
	return c.Do(ctx, "DEBUG", "DIGEST").Text()
}

// converged reports whether every node serves every key of kv and all
// nodes' DEBUG DIGEST agree; when not, it says why.
func converged(nodes []*node, kv map[string]string) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var digests []string
	for _, n := range nodes {
		wrong, err := readAll(ctx, n.clientAddr(), kv)
		if err != nil {
			return false, fmt.Sprintf("%s: %v", n.service, err)
		}
		if len(wrong) > 0 {
			return false, fmt.Sprintf("%s lacks %d of %d keys (e.g. %s)", n.service, len(wrong), len(kv), wrong[0])
		}
		d, err := digest(ctx, n.clientAddr())
		if err != nil {
			return false, fmt.Sprintf("%s: DEBUG DIGEST: %v", n.service, err)
		}
		digests = append(digests, n.service+"="+d)
		if !strings.HasSuffix(digests[0], "="+d) {
			return false, "digests differ: " + strings.Join(digests, " ")
		}
	}
	return true, ""
}

// waitSpread waits until every node's CLUSTER SLOTS shows three ranges
// with three distinct masters (the group leaderships spread one per node
// after start-up) and all nodes agree.
func waitSpread(nodes []*node, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		var first string
		ok := true
		for _, n := range nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			c := newClient(n.clientAddr(), 2*time.Second)
			slots, err := c.ClusterSlots(ctx).Result()
			c.Close()
			cancel()
			masters := map[string]bool{}
			var view []string
			for _, s := range slots {
				if len(s.Nodes) > 0 {
					masters[s.Nodes[0].Addr] = true
					view = append(view, fmt.Sprintf("%d-%d@%s", s.Start, s.End, s.Nodes[0].Addr))
				}
			}
			v := strings.Join(view, " ")
			if first == "" {
				first = v
			}
			if err != nil || len(slots) != 3 || len(masters) != 3 || v != first {
				ok = false
				last = fmt.Sprintf("%s: %s %v", n.service, v, err)
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("group leaders not spread within %v: %s", timeout, last)
		}
		<-time.After(100 * time.Millisecond) // poll interval, bounded by deadline
	}
}
