package server

import (
	"strings"
	"sync/atomic"

	"sessiond/shard"
)

// cmdFlag is a command property; the ones with a Redis name appear in
// COMMAND's reply.
type cmdFlag uint32

const (
	flagWrite          cmdFlag = 1 << iota // "write"
	flagReadonly                           // "readonly"
	flagDenyOOM                            // "denyoom": refused when over maxmemory
	flagAdmin                              // "admin"
	flagNoScript                           // "noscript"
	flagLoading                            // "loading"
	flagStale                              // "stale"
	flagFast                               // "fast"
	flagNoAuth                             // "no_auth": allowed before AUTH
	flagNoMulti                            // "no_multi": refused inside MULTI
	flagAllowBusy                          // "allow_busy"
	flagMultiControl                       // MULTI/EXEC/DISCARD/WATCH/QUIT/RESET run even while queuing
	flagPubSub                             // "pubsub"
	flagNoAsyncLoading                     // "no_async_loading"
	flagBlocking                           // "blocking": may wait (blocking.go)
)

// flagNames are the flags' names in the order Redis lists them.
var flagNames = []struct {
	f    cmdFlag
	name string
}{
	{flagWrite, "write"}, {flagReadonly, "readonly"}, {flagDenyOOM, "denyoom"},
	{flagAdmin, "admin"}, {flagPubSub, "pubsub"}, {flagNoScript, "noscript"}, {flagBlocking, "blocking"}, {flagLoading, "loading"},
	{flagStale, "stale"}, {flagFast, "fast"}, {flagNoAuth, "no_auth"},
	{flagNoAsyncLoading, "no_async_loading"}, {flagNoMulti, "no_multi"}, {flagAllowBusy, "allow_busy"},
}

// parseFunc turns a data command's arguments into an op. now is the
// server clock in Unix ms, for relative expiry times. Syntax errors are
// returned here and never reach the store.
type parseFunc func(c *client, args [][]byte, now int64) (shard.Op, error)

// replyFunc writes a data command's Result when its reply is not the
// Result's default shape (SETNX answers 1/0 where the op returns OK/nil).
// It is never called with an error Result.
type replyFunc func(w *replyWriter, r shard.Result)

// runFunc executes a command that is not a store op (PING, INFO, MULTI).
type runFunc func(c *client, args [][]byte)

// command is one entry of the command table.
type command struct {
	name        string // lower case
	arity       int    // Redis arity: n exact, -n at least n
	flags       cmdFlag
	first, last int // key positions, Redis's (first, last, step) triple
	step        int
	acl         string // ACL categories, space separated ("@read @string")
	parse       parseFunc
	reply       replyFunc
	run         runFunc
	subs        []*command // subcommands, for COMMAND INFO/DOCS
	fan         fanKind    // how it runs over several shard groups (fanout.go)
	// keyRange, when set, gives the key positions for these arguments
	// (first..last step 1, or first 0 for none), for commands whose keys
	// follow a count (EVAL, ZUNIONSTORE, SINTERCARD...); first must then
	// be > 0 so that the command counts as one with keys.
	keyRange func(args [][]byte) (first, last int)
	// destKey, when > 0, is the position of a key outside keyRange (the
	// destination of ZUNIONSTORE...), given before the range's keys.
	destKey int

	stats *cmdStats // INFO commandstats (commandTable makes one per command and server)
	// warm is the argument a pipelined call has looked up in its key's
	// set, sorted set or hash before it runs (warmArgs; warmReads).
	warm warmArg
	// keyed, for a container whose subcommands read a key (OBJECT
	// ENCODING, MEMORY USAGE), returns the data command these arguments
	// run, or nil when they name another subcommand (run answers those),
	// or the error to answer instead. EXEC runs such a subcommand in the
	// transaction's place, so that it sees the writes queued before it
	// and none after.
	keyed func(c *client, args [][]byte) (*command, error)
}

// cmdStats are a command's INFO commandstats counters: calls that ran,
// the time they took, calls refused before running (arity, NOAUTH, a
// cluster redirection, OOM...) and calls that ran and answered an error.
type cmdStats struct {
	calls, nanos, rejected, failed atomic.Int64
	// hist is the command's latency histogram (INFO latencystats), made
	// by its first call while latency-tracking is on.
	hist atomic.Pointer[latencyHist]
}

func (c *command) has(f cmdFlag) bool { return c.flags&f != 0 }

func (c *command) arityOK(n int) bool {
	if c.arity >= 0 {
		return n == c.arity
	}
	return n >= -c.arity
}

// flagList returns the Redis names of c's flags.
func (c *command) flagList() []string {
	var out []string
	for _, fn := range flagNames {
		if c.flags&fn.f != 0 {
			out = append(out, fn.name)
		}
	}
	if c.keyRange != nil {
		out = append(out, "movablekeys") // keys follow a count: Redis's getkeys_proc commands
	}
	return out
}

// aclList returns c's ACL categories.
func (c *command) aclList() []string { return strings.Fields(c.acl) }

// Key position triples.
const (
	noKeys = iota
	oneKey
	allKeys
	pairKeys
	twoKeys
)

// dataCmd makes c a data command: p parses its arguments into an op,
// r (nil: the Result's default shape) writes the reply.
func dataCmd(c *command, p parseFunc, r replyFunc) *command { c.parse, c.reply = p, r; return c }

// runCmd makes c a command that runs by itself (not a store op).
func runCmd(c *command, r runFunc) *command { c.run = r; return c }

// def builds a table entry; keys is one of the key-position shapes above.
func def(name string, arity int, flags cmdFlag, keys int, acl string) *command {
	c := &command{name: name, arity: arity, flags: flags, acl: acl}
	switch keys {
	case oneKey:
		c.first, c.last, c.step = 1, 1, 1
	case allKeys:
		c.first, c.last, c.step = 1, -1, 1
	case pairKeys:
		c.first, c.last, c.step = 1, -1, 2
	case twoKeys:
		c.first, c.last, c.step = 1, 2, 1
	}
	return c
}

// Common flag sets.
const (
	rdFast  = flagReadonly | flagFast
	rd      = flagReadonly
	wrOOM   = flagWrite | flagDenyOOM
	wrFast  = flagWrite | flagDenyOOM | flagFast
	wrNoOOM = flagWrite
	connCmd = flagNoScript | flagLoading | flagStale | flagFast
)

// commandTable builds the command table. Every command sessiond knows is
// listed here; the handlers live in the cmd_*.go file of their family.
func (s *Server) commandTable() map[string]*command {
	data, run := dataCmd, runCmd
	list := []*command{
		// Connection (cmd_conn.go).
		run(def("ping", -1, connCmd, noKeys, "@fast @connection"), cmdPing),
		run(def("echo", 2, connCmd, noKeys, "@fast @connection"), cmdEcho),
		run(def("quit", -1, connCmd|flagNoAuth|flagAllowBusy|flagMultiControl, noKeys, "@fast @connection"), cmdQuit),
		run(def("reset", 1, connCmd|flagNoAuth|flagAllowBusy|flagMultiControl, noKeys, "@fast @connection"), cmdReset),
		run(def("hello", -1, connCmd|flagNoAuth|flagAllowBusy, noKeys, "@fast @connection"), cmdHello),
		run(def("auth", -2, connCmd|flagNoAuth|flagAllowBusy, noKeys, "@fast @connection"), cmdAuth),
		run(def("select", 2, flagLoading|flagStale|flagFast, noKeys, "@fast @connection"), cmdSelect),

		// Transactions (multi.go).
		run(def("multi", 1, flagNoScript|flagLoading|flagStale|flagFast|flagAllowBusy|flagMultiControl, noKeys, "@fast @transaction"), cmdMulti),
		run(def("exec", 1, flagNoScript|flagLoading|flagStale|flagMultiControl, noKeys, "@slow @transaction"), cmdExec),
		run(def("discard", 1, flagNoScript|flagLoading|flagStale|flagFast|flagAllowBusy|flagMultiControl, noKeys, "@fast @transaction"), cmdDiscard),
		run(def("watch", -2, flagNoScript|flagLoading|flagStale|flagFast|flagAllowBusy|flagMultiControl, allKeys, "@fast @transaction"), cmdWatch),
		run(def("unwatch", 1, flagNoScript|flagLoading|flagStale|flagFast|flagAllowBusy, noKeys, "@fast @transaction"), cmdUnwatch),

		// Strings (cmd_string.go).
		data(def("get", 2, rdFast, oneKey, "@read @string @fast"), parseGet, nil),
		data(def("set", -3, wrOOM, oneKey, "@write @string @slow"), parseSet, nil),
		data(def("setex", 4, wrOOM, oneKey, "@write @string @slow"), parseSetEx, nil),
		data(def("psetex", 4, wrOOM, oneKey, "@write @string @slow"), parsePSetEx, nil),
		data(def("setnx", 3, wrFast, oneKey, "@write @string @fast"), parseSetNX, replyOKAsOne),
		data(def("getex", -2, flagWrite|flagFast, oneKey, "@write @string @fast"), parseGetEx, nil),
		data(def("getdel", 2, flagWrite|flagFast, oneKey, "@write @string @fast"), parseGetDel, nil),
		data(def("getset", 3, wrFast, oneKey, "@write @string @fast"), parseGetSet, nil),
		data(def("mget", -2, rdFast, allKeys, "@read @string @fast"), parseMGet, nil),
		data(def("mset", -3, wrOOM, pairKeys, "@write @string @slow"), parseMSet, nil),
		data(def("msetnx", -3, wrOOM, pairKeys, "@write @string @slow"), parseMSetNX, nil),
		data(def("incr", 2, wrFast, oneKey, "@write @string @fast"), parseIncr, nil),
		data(def("decr", 2, wrFast, oneKey, "@write @string @fast"), parseDecr, nil),
		data(def("incrby", 3, wrFast, oneKey, "@write @string @fast"), parseIncrBy, nil),
		data(def("decrby", 3, wrFast, oneKey, "@write @string @fast"), parseDecrBy, nil),
		data(def("incrbyfloat", 3, wrFast, oneKey, "@write @string @fast"), parseIncrByFloat, nil),
		data(def("append", 3, wrFast, oneKey, "@write @string @fast"), parseAppend, nil),
		data(def("strlen", 2, rdFast, oneKey, "@read @string @fast"), parseStrLen, nil),
		data(def("getrange", 4, rd, oneKey, "@read @string @slow"), parseGetRange, nil),
		data(def("substr", 4, rd, oneKey, "@read @string @slow"), parseGetRange, nil),
		data(def("setrange", 4, wrOOM, oneKey, "@write @string @slow"), parseSetRange, nil),

		// Keyspace (cmd_keys.go).
		data(def("del", -2, flagWrite, allKeys, "@keyspace @write @slow"), parseDel, nil),
		data(def("unlink", -2, flagWrite|flagFast, allKeys, "@keyspace @write @fast"), parseDel, nil),
		data(def("exists", -2, rdFast, allKeys, "@keyspace @read @fast"), parseExists, nil),
		data(def("type", 2, rdFast, oneKey, "@keyspace @read @fast"), parseType, nil),
		data(def("touch", -2, rdFast, allKeys, "@keyspace @read @fast"), parseTouch, nil),
		data(def("rename", 3, flagWrite, twoKeys, "@keyspace @write @slow"), parseRename, nil),
		data(def("renamenx", 3, flagWrite|flagFast, twoKeys, "@keyspace @write @fast"), parseRenameNX, nil),
		data(def("expire", -3, flagWrite|flagFast, oneKey, "@keyspace @write @fast"), parseExpire, nil),
		data(def("pexpire", -3, flagWrite|flagFast, oneKey, "@keyspace @write @fast"), parsePExpire, nil),
		data(def("expireat", -3, flagWrite|flagFast, oneKey, "@keyspace @write @fast"), parseExpireAt, nil),
		data(def("pexpireat", -3, flagWrite|flagFast, oneKey, "@keyspace @write @fast"), parsePExpireAt, nil),
		data(def("ttl", 2, rdFast, oneKey, "@keyspace @read @fast"), parseTTL, nil),
		data(def("pttl", 2, rdFast, oneKey, "@keyspace @read @fast"), parsePTTL, nil),
		data(def("expiretime", 2, rdFast, oneKey, "@keyspace @read @fast"), parseExpireTime, nil),
		data(def("pexpiretime", 2, rdFast, oneKey, "@keyspace @read @fast"), parsePExpireTime, nil),
		data(def("persist", 2, flagWrite|flagFast, oneKey, "@keyspace @write @fast"), parsePersist, nil),
		data(def("scan", -2, rd, noKeys, "@keyspace @read @slow"), parseScan, nil),
		data(def("keys", 2, rd, noKeys, "@keyspace @read @slow @dangerous"), parseKeys, nil),
		data(def("randomkey", 1, rd, noKeys, "@keyspace @read @slow"), parseRandomKey, nil),
		data(def("dbsize", 1, rdFast, noKeys, "@keyspace @read @fast"), parseDBSize, nil),
		data(def("flushdb", -1, flagWrite, noKeys, "@keyspace @write @slow @dangerous"), parseFlush, nil),
		data(def("flushall", -1, flagWrite, noKeys, "@keyspace @write @slow @dangerous"), parseFlush, nil),

		// Hashes (cmd_hash.go).
		data(def("hset", -4, wrFast, oneKey, "@write @hash @fast"), parseHSet, nil),
		data(def("hsetnx", 4, wrFast, oneKey, "@write @hash @fast"), parseHSetNX, nil),
		data(def("hmset", -4, wrFast, oneKey, "@write @hash @fast"), parseHMSet, replyOK),
		data(def("hget", 3, rdFast, oneKey, "@read @hash @fast"), parseHGet, nil),
		data(def("hmget", -3, rdFast, oneKey, "@read @hash @fast"), parseHMGet, nil),
		data(def("hgetall", 2, rd, oneKey, "@read @hash @slow"), parseHGetAll, nil),
		data(def("hdel", -3, flagWrite|flagFast, oneKey, "@write @hash @fast"), parseHDel, nil),
		data(def("hlen", 2, rdFast, oneKey, "@read @hash @fast"), parseHLen, nil),
		data(def("hexists", 3, rdFast, oneKey, "@read @hash @fast"), parseHExists, nil),
		data(def("hkeys", 2, rd, oneKey, "@read @hash @slow"), parseHKeys, nil),
		data(def("hvals", 2, rd, oneKey, "@read @hash @slow"), parseHVals, nil),
		data(def("hincrby", 4, wrFast, oneKey, "@write @hash @fast"), parseHIncrBy, nil),
		data(def("hincrbyfloat", 4, wrFast, oneKey, "@write @hash @fast"), parseHIncrByFloat, nil),
		data(def("hstrlen", 3, rdFast, oneKey, "@read @hash @fast"), parseHStrLen, nil),
		data(def("hscan", -3, rd, oneKey, "@read @hash @slow"), parseHScan, nil),
		data(def("hrandfield", -2, rd, oneKey, "@read @hash @slow"), parseHRandField, nil),
		data(def("hexpire", -6, flagWrite|flagFast, oneKey, "@write @hash @fast"), parseHExpire, nil),
		data(def("hpexpire", -6, flagWrite|flagFast, oneKey, "@write @hash @fast"), parseHPExpire, nil),
		data(def("hexpireat", -6, flagWrite|flagFast, oneKey, "@write @hash @fast"), parseHExpireAt, nil),
		data(def("hpexpireat", -6, flagWrite|flagFast, oneKey, "@write @hash @fast"), parseHPExpireAt, nil),
		data(def("httl", -5, rdFast, oneKey, "@read @hash @fast"), parseHTTL, nil),
		data(def("hpttl", -5, rdFast, oneKey, "@read @hash @fast"), parseHPTTL, nil),
		data(def("hexpiretime", -5, rdFast, oneKey, "@read @hash @fast"), parseHExpireTime, nil),
		data(def("hpexpiretime", -5, rdFast, oneKey, "@read @hash @fast"), parseHPExpireTime, nil),
		data(def("hpersist", -5, flagWrite|flagFast, oneKey, "@write @hash @fast"), parseHPersist, nil),
		data(def("hgetex", -5, flagWrite|flagFast, oneKey, "@write @hash @fast"), parseHGetEx, nil),
		data(def("hsetex", -6, wrFast, oneKey, "@write @hash @fast"), parseHSetEx, nil),
		data(def("hgetdel", -5, flagWrite|flagFast, oneKey, "@write @hash @fast"), parseHGetDel, nil),

		// Server (cmd_server.go).
		run(def("info", -1, flagLoading|flagStale, noKeys, "@slow @dangerous"), cmdInfo),
		run(def("config", -2, flagAdmin|flagNoScript|flagLoading|flagStale, noKeys, "@admin @slow @dangerous"), cmdConfig),
		run(def("command", -1, flagLoading|flagStale, noKeys, "@slow @connection"), cmdCommand),
		run(def("client", -2, flagNoScript|flagLoading|flagStale, noKeys, "@slow @connection"), cmdClient),
		run(def("cluster", -2, flagLoading|flagStale, noKeys, "@slow"), cmdCluster),
		run(def("asking", 1, flagFast, noKeys, "@fast @connection"), cmdAsking),
		run(def("time", 1, flagLoading|flagStale|flagFast, noKeys, "@fast"), cmdTime),
		run(def("lastsave", 1, flagLoading|flagStale|flagFast, noKeys, "@admin @fast @dangerous"), cmdLastSave),
		run(def("save", 1, flagAdmin|flagNoScript|flagNoAsyncLoading|flagNoMulti, noKeys, "@admin @slow @dangerous"), cmdSave),
		run(def("bgsave", -1, flagAdmin|flagNoScript|flagNoAsyncLoading, noKeys, "@admin @slow @dangerous"), cmdBgsave),
		run(def("bgrewriteaof", 1, flagAdmin|flagNoScript|flagNoAsyncLoading, noKeys, "@admin @slow @dangerous"), cmdBgrewriteaof),
		run(def("shutdown", -1, flagAdmin|flagNoScript|flagLoading|flagStale|flagNoMulti|flagAllowBusy, noKeys, "@admin @slow @dangerous"), cmdShutdown),
	}
	list = append(list, replicationCommands(run)...)
	// Lists, sets, sorted sets, pub/sub, scripts, more keyspace and
	// server commands (issue 5), each in its own file.
	list = append(list, listCommands()...)
	list = append(list, setCommands()...)
	list = append(list, zsetCommands()...)
	list = append(list, zsetAlgebraCommands()...)
	list = append(list, pubsubCommands()...)
	list = append(list, scriptCommands()...)
	list = append(list, keysExtCommands()...)
	m := make(map[string]*command, len(list))
	for _, c := range list {
		c.fan = fanKinds[c.name]
		c.warm = warmArgs[c.name]
		m[c.name] = c
	}
	addSubcommands(m)
	for _, cmd := range m {
		for _, c := range append([]*command{cmd}, cmd.subs...) {
			c.stats = new(cmdStats)
		}
	}
	return m
}

// replyOK answers +OK whatever the op returned (HMSET).
func replyOK(w *replyWriter, _ shard.Result) { w.ok() }

// replyOKAsOne answers 1 for OK and 0 for nil (SETNX).
func replyOKAsOne(w *replyWriter, r shard.Result) {
	if r.Kind == shard.ROK {
		w.int(1)
		return
	}
	w.int(0)
}
