package bench

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Key prefixes. redis-benchmark replaces __rand_int__ with a 12-digit,
// zero-padded number below -r, so the keys it picks are exactly
// strKey(i) and sessKey(i) for i in [0, keys).
const (
	strPrefix  = "str:"
	sessPrefix = "sess:"
	randInt    = "__rand_int__"
)

// sessionTTL is the TTL, in seconds, that SETEX, EXPIRE and the mix set:
// a 30-minute session.
const sessionTTL = "1800"

// sessionFields is the ten-field session hash every hash workload writes
// and reads: about 70 bytes of field names and 130 bytes of values.
var sessionFields = [10][2]string{
	{"user_id", "u_000000123456"},
	{"created_at", "1700000000000"},
	{"last_seen", "1700000123456"},
	{"ip", "203.0.113.42"},
	{"user_agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"},
	{"csrf", "9f86d081884c7d659a2feaa0c55ad015"},
	{"locale", "en-GB"},
	{"roles", "user,editor"},
	{"cart_items", "3"},
	{"flash", "none"},
}

// sessionArgs returns HSET's arguments after the key: the ten fields and
// their values.
func sessionArgs() []string {
	out := make([]string, 0, 2*len(sessionFields))
	for _, f := range sessionFields {
		out = append(out, f[0], f[1])
	}
	return out
}

// paddedKey returns prefix followed by i as redis-benchmark writes
// __rand_int__: 12 digits, zero-padded.
func paddedKey(prefix string, i int) string {
	s := strconv.Itoa(i)
	if len(s) < 12 {
		s = strings.Repeat("0", 12-len(s)) + s
	}
	return prefix + s
}

// dataset names the keys a pass prepopulates, so read workloads hit real
// data.
type dataset int

const (
	noData     dataset = iota
	stringData         // strKey(i) = the string value, i in [0, keys)
	hashData           // sessKey(i) = the ten-field session, i in [0, keys)
	listData           // listKey: 10*keys elements, for LPOP on a fresh server
)

// listKey is the list LPUSH fills and LPOP empties.
const listKey = "queue"

// lockScript takes a lock (SET NX PX) and releases it with the
// compare-and-delete every Redis lock library sends: one EVALSHA per
// acquire/release pair.
const lockScript = `if redis.call("set", KEYS[1], ARGV[1], "NX", "PX", 30000) then if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end end return 0`

// lockSHA is lockScript's SHA-1, as EVALSHA names it.
func lockSHA() string {
	sum := sha1.Sum([]byte(lockScript))
	return hex.EncodeToString(sum[:])
}

// MarshalText writes the dataset's name into JSON reports.
func (d dataset) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// String returns the dataset's name for messages.
func (d dataset) String() string {
	switch d {
	case stringData:
		return "string keys"
	case hashData:
		return "session hashes"
	case listData:
		return "list elements"
	}
	return "none"
}

// Workload is one measured operation. Command is the redis-benchmark
// command line (with __rand_int__); a nil Command means the session mix,
// which the Go load generator (RunMix) drives instead.
type Workload struct {
	Name    string   `json:"name"`
	Needs   dataset  `json:"needs"`
	Command []string `json:"command,omitempty"`
	// Setup are commands sent once before the run (SCRIPT LOAD).
	Setup [][]string `json:"setup,omitempty"`
}

// IsMix reports whether w is the session mix.
func (w Workload) IsMix() bool { return w.Command == nil }

// probes returns the commands sent once before the workload runs, to find
// a missing or broken command before load is applied: the workload's own
// command on key number 0, or the mix's three commands.
func (w Workload) probes() [][]string {
	if w.IsMix() {
		k := paddedKey(sessPrefix, 0)
		return [][]string{{"HGETALL", k}, {"HSET", k, "last_seen", "1"}, {"EXPIRE", k, sessionTTL}}
	}
	cmd := make([]string, len(w.Command))
	for i, a := range w.Command {
		cmd[i] = strings.ReplaceAll(a, randInt, strings.Repeat("0", 12))
	}
	return append(append([][]string(nil), w.Setup...), cmd)
}

// MixName is the name of the session-mix workload.
const MixName = "MIX"

// Workloads returns every workload in the order a pass runs them; value is
// the string value SET and SETEX write.
func Workloads(value string) []Workload {
	return []Workload{
		{Name: "SET", Needs: stringData, Command: []string{"SET", strPrefix + randInt, value}},
		{Name: "GET", Needs: stringData, Command: []string{"GET", strPrefix + randInt}},
		{Name: "HSET", Needs: hashData, Command: append([]string{"HSET", sessPrefix + randInt}, sessionArgs()...)},
		{Name: "HGETALL", Needs: hashData, Command: []string{"HGETALL", sessPrefix + randInt}},
		{Name: "SETEX", Needs: stringData, Command: []string{"SETEX", strPrefix + randInt, sessionTTL, value}},
		{Name: "EXPIRE", Needs: hashData, Command: []string{"EXPIRE", sessPrefix + randInt, sessionTTL}},
		{Name: MixName, Needs: hashData},
		// Issue 5: what session stores send besides strings and hashes.
		{Name: "ZADD", Command: []string{"ZADD", "sess:expirations", "1700000000000", sessPrefix + randInt}},
		{Name: "SADD", Command: []string{"SADD", "sess:index", sessPrefix + randInt}},
		{Name: "LPUSH", Command: []string{"LPUSH", listKey, value}},
		{Name: "LPOP", Needs: listData, Command: []string{"LPOP", listKey}},
		{Name: "LOCK", Command: []string{"EVALSHA", lockSHA(), "1", "lock:" + randInt, "tok"},
			Setup: [][]string{{"SCRIPT", "LOAD", lockScript}}},
	}
}

// SelectWorkloads returns the workloads of all whose names are listed in
// names (comma separated, case-insensitive), in all's order; "all" or ""
// selects every one.
func SelectWorkloads(all []Workload, names string) ([]Workload, error) {
	names = strings.TrimSpace(names)
	if names == "" || strings.EqualFold(names, "all") {
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(names, ",") {
		want[strings.ToUpper(strings.TrimSpace(n))] = true
	}
	var out []Workload
	for _, w := range all {
		if want[w.Name] {
			out = append(out, w)
			delete(want, w.Name)
		}
	}
	for n := range want {
		return nil, fmt.Errorf("unknown workload %q", n)
	}
	return out, nil
}

// load sends the commands build queues for every i in [0, n) over conns
// connections, flushing every batch items, and checks every reply. It
// returns the first error reply (a *ReplyError) or I/O error. build
// returns how many commands it queued for i.
func load(ctx context.Context, addr string, n, conns, batch int, build func(c *Conn, i int) int) error {
	conns = max(1, min(conns, n))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
	}
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Dial(ctx, addr, 5*time.Second)
			if err != nil {
				fail(err)
				return
			}
			defer c.Close()
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			lo, hi := n*w/conns, n*(w+1)/conns
			for start := lo; start < hi; start += batch {
				sent := 0
				for i := start; i < min(start+batch, hi); i++ {
					sent += build(c, i)
				}
				if err := c.Flush(); err != nil {
					fail(err)
					return
				}
				for range sent {
					if _, err := c.Skip(); err != nil {
						fail(err)
						var re *ReplyError
						if !errors.As(err, &re) {
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// populate writes the string keys and the session hashes a pass's read
// workloads need, then reads one of each back. It returns an error per
// dataset that could not be written or read back, so a server lacking a
// hash command still runs its string workloads.
func populate(ctx context.Context, addr string, keys int, value string) map[dataset]error {
	errs := map[dataset]error{}
	for _, d := range []dataset{stringData, hashData} {
		if err := populateDataset(ctx, addr, keys, value, d); err != nil {
			errs[d] = err
		}
	}
	return errs
}

// populateDataset writes the keys of one dataset (the string keys holding
// value, or the ten-field session hashes) and reads the last one back.
// noData writes nothing.
func populateDataset(ctx context.Context, addr string, keys int, value string, d dataset) error {
	var err error
	switch d {
	case stringData:
		err = load(ctx, addr, keys, 4, 256, func(c *Conn, i int) int {
			c.Send("SET", paddedKey(strPrefix, i), value)
			return 1
		})
		if err == nil {
			err = checkString(ctx, addr, paddedKey(strPrefix, keys-1), value)
		}
	case listData:
		err = load(ctx, addr, 10*keys, 4, 256, func(c *Conn, i int) int {
			c.Send("RPUSH", listKey, value)
			return 1
		})
	case hashData:
		hset := append([]string{"HSET", ""}, sessionArgs()...)
		err = load(ctx, addr, keys, 4, 256, func(c *Conn, i int) int {
			cmd := append([]string(nil), hset...)
			cmd[1] = paddedKey(sessPrefix, i)
			c.Send(cmd...)
			return 1
		})
		if err == nil {
			err = checkSession(ctx, addr, paddedKey(sessPrefix, keys-1))
		}
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("prepopulating %s: %w", d, err)
	}
	return nil
}

// checkString asserts that GET key returns want.
func checkString(ctx context.Context, addr, key, want string) error {
	c, err := Dial(ctx, addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	rep, err := c.Do("GET", key)
	if err != nil {
		return err
	}
	if rep.Kind != '$' || rep.Null || rep.Str != want {
		return fmt.Errorf("read back GET %s: got %q, want the %d-byte value", key, rep.Str, len(want))
	}
	return nil
}

// checkSession asserts that HGETALL key returns the ten session fields.
func checkSession(ctx context.Context, addr, key string) error {
	c, err := Dial(ctx, addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	rep, err := c.Do("HGETALL", key)
	if err != nil {
		return err
	}
	if rep.Kind != '*' || len(rep.Elems) != 2*len(sessionFields) {
		return fmt.Errorf("read back HGETALL %s: got %d elements, want %d", key, len(rep.Elems), 2*len(sessionFields))
	}
	return nil
}

// probe sends each command once and returns the first error reply or
// failure, naming the command.
func probe(ctx context.Context, addr string, cmds [][]string) error {
	c, err := Dial(ctx, addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	for _, cmd := range cmds {
		if _, err := c.Do(cmd...); err != nil {
			return fmt.Errorf("probe %s: %w", cmd[0], err)
		}
	}
	return nil
}
