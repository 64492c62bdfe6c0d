package script

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// ErrBudget is returned by Run when a script ran out of its instruction
// budget and was stopped.
var ErrBudget = errors.New("script exceeded its instruction budget")

// InstructionsPerMilli converts a time limit (busy-reply-threshold, in
// milliseconds) into an instruction budget: about what gopher-lua runs in
// a millisecond on a current server core (a bare loop runs about 44
// million instructions a second on the development machine, table and
// string work about 15 million), so 5 s of budget takes 2-7 s. The budget is a count, not a clock, so that a
// script stops at the same point on every replica, however fast each is.
const InstructionsPerMilli = 20_000

// DefaultBudget is the budget of a run that asks for none: Redis's
// default busy-reply-threshold, 5 seconds.
const DefaultBudget = 5000 * InstructionsPerMilli

// maxRep bounds the string string.rep builds (proto-max-bulk-len's
// default), so one call cannot ask every replica for gigabytes at once.
const maxRep = 512 << 20

// Host executes the commands a script sends with redis.call and
// redis.pcall. The engine has already checked that args is not empty and
// holds only strings and numbers.
type Host interface {
	// Call runs one command and returns its complete RESP reply: RESP3
	// when resp3 is set (the script called redis.setresp(3)), else RESP2.
	// Refusals (unknown command, wrong arity, a write from a read-only
	// script...) are error replies ("-ERR ...\r\n") too. The engine
	// reads the reply before its next Call, so the host may reuse its
	// buffer; the host may keep args (the engine does not reuse them).
	Call(args [][]byte, resp3 bool) []byte
}

// Engine compiles, caches and runs scripts. It is safe for concurrent
// use; each Run uses a Lua state of its own from a pool.
type Engine struct {
	mu     sync.RWMutex
	cache  map[string]*compiled // by lower-case SHA1 hex of the body
	bytes  int64                // bodies held in cache
	pool   sync.Pool            // *vm
	closed chan struct{}        // a closed channel: an exhausted budget's Done
}

type compiled struct {
	body  []byte // never changed once cached
	proto *lua.FunctionProto
	flags Flags // from the body's shebang line
}

// Flags are what a script's shebang line ("#!lua flags=no-writes,...")
// declares, as Redis 7 reads it. A script without one runs in Redis's
// compatibility mode (Shebang unset): it may write, and its calls are
// checked one by one.
type Flags uint8

const (
	Shebang        Flags = 1 << iota // the body starts with a shebang line
	NoWrites                         // no-writes: a read-only script
	AllowOOM                         // allow-oom: runs while memory is over maxmemory
	AllowStale                       // allow-stale
	NoCluster                        // no-cluster: refused in cluster mode
	AllowCrossSlot                   // allow-cross-slot-keys
)

// shebangFlags names the flags a shebang line may set.
var shebangFlags = map[string]Flags{
	"no-writes": NoWrites, "allow-oom": AllowOOM, "allow-stale": AllowStale,
	"no-cluster": NoCluster, "allow-cross-slot-keys": AllowCrossSlot,
}

// ParseShebang reads body's shebang line, if it has one, as Redis's
// evalExtractShebangFlags does: "#!lua" then options, separated by
// spaces, each "flags=" and a comma-separated list of known flags. It
// returns the flags and the length of the line (without its newline,
// which the compiled chunk keeps, so that line numbers still count it),
// or Redis's error for a bad line.
func ParseShebang(body []byte) (Flags, int, error) {
	if !bytes.HasPrefix(body, []byte("#!")) {
		return 0, 0, nil
	}
	n := bytes.IndexByte(body, '\n')
	if n < 0 {
		return 0, 0, errors.New("ERR Invalid script shebang")
	}
	parts := strings.Fields(string(body[:n]))
	if parts[0] != "#!lua" {
		return 0, 0, fmt.Errorf("ERR Unexpected engine in script shebang: %s", parts[0])
	}
	flags := Shebang
	for _, p := range parts[1:] {
		list, ok := strings.CutPrefix(p, "flags=")
		if !ok {
			return 0, 0, fmt.Errorf("ERR Unknown lua shebang option: %s", p)
		}
		if list == "" {
			continue // "flags=" declares none
		}
		for _, name := range strings.Split(list, ",") {
			f, ok := shebangFlags[name]
			if !ok {
				return 0, 0, fmt.Errorf("ERR Unexpected flag in script shebang: %s", name)
			}
			flags |= f
		}
	}
	return flags, n, nil
}

// New returns an empty Engine.
func New() *Engine {
	e := &Engine{cache: make(map[string]*compiled), closed: make(chan struct{})}
	close(e.closed)
	return e
}

// SHA1Hex returns the lower-case hex SHA1 of body, a script's name in
// the cache.
func SHA1Hex(body []byte) string {
	h := sha1.Sum(body)
	return hex.EncodeToString(h[:])
}

// Load compiles body and keeps it in the cache (SCRIPT LOAD, and every
// EVAL), returning its SHA1. A script that does not compile is not kept;
// the error is Redis's "ERR Error compiling script (new function): ...".
func (e *Engine) Load(body []byte) (string, error) {
	sha := SHA1Hex(body)
	_, err := e.get(sha, body)
	return sha, err
}

// get returns the compiled script sha, compiling and caching body when it
// is not cached yet (body nil: only the cache).
func (e *Engine) get(sha string, body []byte) (*compiled, error) {
	return e.getSHA([]byte(sha), body)
}

// getSHA is get with sha as bytes (no string is made for a cached
// script).
func (e *Engine) getSHA(shaB []byte, body []byte) (*compiled, error) {
	e.mu.RLock()
	c := e.cache[string(shaB)]
	e.mu.RUnlock()
	if c != nil || body == nil {
		return c, nil
	}
	sha := string(shaB)
	flags, skip, err := ParseShebang(body)
	if err != nil {
		return nil, err
	}
	proto, err := compile(string(body[skip:]), "user_script")
	if err != nil {
		return nil, fmt.Errorf("ERR Error compiling script (new function): %s", err.Error())
	}
	c = &compiled{body: bytes.Clone(body), proto: proto, flags: flags}
	e.mu.Lock()
	if old := e.cache[sha]; old != nil {
		c = old
	} else {
		e.cache[sha] = c
		e.bytes += int64(len(body))
	}
	e.mu.Unlock()
	return c, nil
}

// Cached returns the body of the cached script whose lower-case SHA1 hex
// is sha (EVALSHA), without copying it: the caller must not change it.
func (e *Engine) Cached(sha []byte) ([]byte, bool) {
	e.mu.RLock()
	c := e.cache[string(sha)]
	e.mu.RUnlock()
	if c == nil {
		return nil, false
	}
	return c.body, true
}

// ScriptFlags returns the flags of the cached script whose lower-case
// SHA1 hex is sha (0 when it is not cached).
func (e *Engine) ScriptFlags(sha []byte) Flags {
	e.mu.RLock()
	c := e.cache[string(sha)]
	e.mu.RUnlock()
	if c == nil {
		return 0
	}
	return c.flags
}

// Exists reports whether script sha (case-insensitive) is cached.
func (e *Engine) Exists(sha string) bool {
	_, ok := e.Cached([]byte(strings.ToLower(sha)))
	return ok
}

// Flush empties the cache (SCRIPT FLUSH).
func (e *Engine) Flush() {
	e.mu.Lock()
	e.cache = make(map[string]*compiled)
	e.bytes = 0
	e.mu.Unlock()
}

// Stats returns the number of cached scripts and the bytes of their
// bodies (INFO's number_of_cached_scripts, used_memory_scripts).
func (e *Engine) Stats() (scripts int, bytes int64) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.cache), e.bytes
}

// parseErrRe picks gopher-lua's syntax error apart: "name line:N(column:C)
// near 'tok':   msg".
var parseErrRe = regexp.MustCompile(`^\S+ line:(\d+)\(column:\d+\) (near '.*?'):\s*(.*)$`)

// compile compiles a chunk. Errors are worded like Lua 5.1's
// ("user_script:1: syntax error near 'x'") as far as gopher-lua says.
func compile(src, name string) (*lua.FunctionProto, error) {
	chunk, err := parse.Parse(strings.NewReader(src), name)
	if err != nil {
		msg := err.Error()
		if m := parseErrRe.FindStringSubmatch(strings.TrimSpace(msg)); m != nil {
			msg = fmt.Sprintf("%s:%s: %s %s", name, m[1], m[3], m[2])
		}
		return nil, errors.New(msg)
	}
	proto, err := lua.Compile(chunk, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// A main chunk is a vararg function that, in gopher-lua's Lua 5.0
	// compatibility mode, gets an "arg" table built on every call. Lua
	// 5.1 (and Redis) gives a main chunk no "arg", and gopher-lua does
	// not declare it as a local there either, so the table is built for
	// nothing: do not ask for it.
	proto.IsVarArg &^= lua.VarArgNeedsArg
	return proto, nil
}

// Params are a run's inputs besides the script.
type Params struct {
	Keys, Argv [][]byte // KEYS and ARGV
	// Budget is the instruction budget (<= 0: DefaultBudget).
	Budget int64
	// Seed seeds math.random. Redis 7 seeds its generator once per
	// process, so successive scripts draw different numbers; here the
	// leader stamps a seed into each run, so that every replica draws the
	// same ones.
	Seed int32
}

// Run runs script sha, whose body is body (compiled and cached on first
// use; nil: only if cached), with p's KEYS and ARGV, and returns its
// reply converted as Redis converts a script's return value. Script errors are Error replies, worded as
// Redis 7 words them ("ERR ... script: <sha>, on @user_script:<line>.").
// When the budget runs out, the reply is such an error and the error is
// ErrBudget: the caller must undo the script's writes.
func (e *Engine) Run(sha string, body []byte, p Params, h Host) (Reply, error) {
	return e.RunSHA([]byte(sha), body, p, h)
}

// RunSHA is Run with the script's SHA1 hex (lower-case) as bytes, as an
// op carries it.
func (e *Engine) RunSHA(sha []byte, body []byte, p Params, h Host) (Reply, error) {
	c, err := e.getSHA(sha, body)
	if err != nil {
		return errorReply(err.Error()), nil
	}
	if c == nil {
		return errorReply("NOSCRIPT No matching script. Please use EVAL."), nil
	}
	if p.Budget <= 0 {
		p.Budget = DefaultBudget
	}
	v, _ := e.pool.Get().(*vm)
	if v == nil {
		v = newVM(e)
	}
	rep, err := v.run(c, sha, p, h)
	if v.reusable() {
		e.pool.Put(v)
	} else {
		v.L.Close()
	}
	return rep, err
}

// formatNumber formats a Lua number as Lua 5.1's tostring does ("%.14g"),
// which is how redis.call turns a number argument into a string.
func formatNumber(f float64) string { return string(appendNumber(nil, f)) }

// appendNumber appends formatNumber(f) to b. Integers of at most 14
// digits, the common case (counts, TTLs), are written directly: "%.14g"
// writes them as they are ("-0" aside).
func appendNumber(b []byte, f float64) []byte {
	if i := int64(f); float64(i) == f && i > -1e14 && i < 1e14 && (i != 0 || !math.Signbit(f)) {
		return strconv.AppendInt(b, i, 10)
	}
	return strconv.AppendFloat(b, f, 'g', 14, 64)
}
