package server

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// SLOWLOG: commands that took longer than slowlog-log-slower-than
// microseconds (0: every command; negative: none), the last
// slowlog-max-len of them, as Redis keeps them. The time is the command's
// execution in dispatch, waiting for its Raft commit included when the
// command waited for it (a pipelined write's commit is waited for later,
// in settle, and is not counted).

// slowEntry is one logged command.
type slowEntry struct {
	id       int64
	at       int64 // Unix seconds
	micros   int64
	args     []string // at most slowMaxArgs, each at most slowMaxArgLen bytes, as Redis trims them
	addr     string
	name     string
	argCount int
}

// Redis's trimming of a logged command.
const (
	slowMaxArgs   = 32
	slowMaxArgLen = 128
)

// slowLog is the server's slow log.
type slowLog struct {
	mu      sync.Mutex
	entries []slowEntry // newest last
	nextID  int64
}

// sinceEpoch reads the monotonic clock: the time since the server was
// made. Durations are differences of two readings.
func (s *Server) sinceEpoch() time.Duration { return time.Since(s.epoch) }

// slowlogOn reports whether commands are being timed for the slow log.
func (s *Server) slowlogOn() bool {
	cfg := s.config()
	return cfg.SlowlogLogSlowerThan >= 0 && cfg.SlowlogMaxLen > 0
}

// slowlogRecord logs args if it took at least slowlog-log-slower-than.
// AUTH and HELLO are not logged (their arguments hold passwords; Redis
// leaves them out too).
func (s *Server) slowlogRecord(c *client, args [][]byte, took time.Duration) {
	cfg := s.config()
	if cfg.SlowlogLogSlowerThan < 0 || took.Microseconds() < int64(cfg.SlowlogLogSlowerThan) || cfg.SlowlogMaxLen <= 0 {
		return
	}
	if eq(args[0], "auth") || eq(args[0], "hello") {
		return
	}
	c.info.mu.Lock()
	name := c.info.name
	c.info.mu.Unlock()
	e := slowEntry{at: time.Now().Unix(), micros: took.Microseconds(), addr: c.addr, name: name, argCount: len(args)}
	n := min(len(args), slowMaxArgs)
	for i := 0; i < n; i++ {
		a := args[i]
		if i == slowMaxArgs-1 && len(args) > slowMaxArgs {
			e.args = append(e.args, "... ("+strconv.Itoa(len(args)-slowMaxArgs+1)+" more arguments)")
			break
		}
		if len(a) > slowMaxArgLen {
			e.args = append(e.args, string(a[:slowMaxArgLen])+"... ("+strconv.Itoa(len(a)-slowMaxArgLen)+" more bytes)")
			continue
		}
		e.args = append(e.args, string(a))
	}
	l := &s.slow
	l.mu.Lock()
	e.id = l.nextID
	l.nextID++
	l.entries = append(l.entries, e)
	if over := len(l.entries) - cfg.SlowlogMaxLen; over > 0 {
		l.entries = append(l.entries[:0], l.entries[over:]...)
	}
	l.mu.Unlock()
}

// cmdSlowlog runs SLOWLOG GET [count] | LEN | RESET | HELP.
func cmdSlowlog(c *client, args [][]byte) {
	l := &c.s.slow
	switch sub := strings.ToLower(string(args[1])); {
	case sub == "get" && len(args) <= 3:
		count := int64(10)
		if len(args) == 3 {
			n, ok := parseStrictInt(string(args[2]))
			if !ok || n < -1 {
				c.w.errorText("ERR count should be greater than or equal to -1")
				return
			}
			count = n
		}
		l.mu.Lock()
		es := l.entries
		if count >= 0 && int64(len(es)) > count {
			es = es[len(es)-int(count):]
		}
		es = append([]slowEntry(nil), es...)
		l.mu.Unlock()
		c.w.array(len(es))
		for i := len(es) - 1; i >= 0; i-- {
			e := es[i]
			c.w.array(6)
			c.w.int(e.id)
			c.w.int(e.at)
			c.w.int(e.micros)
			c.w.array(len(e.args))
			for _, a := range e.args {
				c.w.bulk(a)
			}
			c.w.bulk(e.addr)
			c.w.bulk(e.name)
		}
	case sub == "len" && len(args) == 2:
		l.mu.Lock()
		n := len(l.entries)
		l.mu.Unlock()
		c.w.int(int64(n))
	case sub == "reset" && len(args) == 2:
		l.mu.Lock()
		l.entries = nil
		l.mu.Unlock()
		c.w.ok()
	case sub == "help" && len(args) == 2:
		c.w.helpLines([]string{
			"SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"GET [<count>]",
			"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
			"    Entries are made of:",
			"    id, timestamp, time in microseconds, arguments array, client IP and port,",
			"    client name",
			"LEN",
			"    Return the length of the slowlog.",
			"RESET",
			"    Reset the slowlog.",
			"HELP",
			"    Prints this help.",
		})
	default:
		c.badSub("slowlog", sub, sub == "get" || sub == "len" || sub == "reset" || sub == "help", args)
	}
}
