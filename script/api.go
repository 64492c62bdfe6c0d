package script

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Redis's version as scripts see it (redis.REDIS_VERSION): the version
// whose behaviour sessiond follows.
const (
	redisVersion    = "7.0.15"
	redisVersionNum = 0x07000f
)

// redisLib builds the redis table.
func (v *vm) redisLib() *lua.LTable {
	L := v.L
	t := L.NewTable()
	fns := map[string]lua.LGFunction{
		"call":               func(L *lua.LState) int { return v.call(L, true) },
		"pcall":              func(L *lua.LState) int { return v.call(L, false) },
		"error_reply":        errorReplyFn,
		"status_reply":       statusReplyFn,
		"sha1hex":            sha1hexFn,
		"log":                func(L *lua.LState) int { return 0 }, // scripts' log lines are dropped
		"setresp":            v.setresp,
		"set_repl":           func(L *lua.LState) int { return 0 }, // always the whole script is replicated
		"replicate_commands": func(L *lua.LState) int { L.Push(lua.LTrue); return 1 },
		"breakpoint":         func(L *lua.LState) int { L.Push(lua.LFalse); return 1 },
		"debug":              func(L *lua.LState) int { return 0 },
	}
	for name, fn := range fns {
		t.RawSetString(name, L.NewFunction(fn))
	}
	for name, n := range map[string]int{
		"LOG_DEBUG": 0, "LOG_VERBOSE": 1, "LOG_NOTICE": 2, "LOG_WARNING": 3,
		"REPL_NONE": 0, "REPL_AOF": 1, "REPL_SLAVE": 2, "REPL_REPLICA": 2, "REPL_ALL": 3,
	} {
		t.RawSetString(name, lua.LNumber(n))
	}
	t.RawSetString("REDIS_VERSION", lua.LString(redisVersion))
	t.RawSetString("REDIS_VERSION_NUM", lua.LNumber(redisVersionNum))
	return t
}

// raise raises a Redis error as redis.call does: a table {err=msg}.
func raise(L *lua.LState, msg string) {
	t := L.CreateTable(0, 1)
	t.RawSetString("err", lua.LString(msg))
	L.Error(t, 0)
}

// call is redis.call (raise set) and redis.pcall.
func (v *vm) call(L *lua.LState, raiseErr bool) int {
	fail := func(msg string) int {
		if raiseErr {
			raise(L, msg)
		}
		t := L.CreateTable(0, 1)
		t.RawSetString("err", lua.LString(msg))
		L.Push(t)
		return 1
	}
	n := L.GetTop()
	if n == 0 {
		return fail("ERR Please specify at least one argument for this redis lib call")
	}
	// The arguments are copied into one buffer (the host may keep them
	// past the call, so it is not reused): two allocations, not n + 1.
	size := 0
	for i := 1; i <= n; i++ {
		switch x := L.Get(i).(type) {
		case lua.LString:
			size += len(x)
		case lua.LNumber:
			size += 24 // formatNumber's longest: "-1.7976931348623e+308"
		default:
			return fail("ERR Lua redis lib command arguments must be strings or integers")
		}
	}
	args := make([][]byte, n)
	buf := make([]byte, 0, size)
	for i := 1; i <= n; i++ {
		start := len(buf)
		switch x := L.Get(i).(type) {
		case lua.LString:
			buf = append(buf, x...)
		case lua.LNumber:
			buf = appendNumber(buf, float64(x))
		}
		args[i-1] = buf[start:len(buf):len(buf)]
	}
	out := v.host.Call(args, v.resp3)
	v.budget.charge(1 + int64(len(out))/64)
	if len(out) > 0 && out[0] == '-' {
		line, _ := splitLine(out[1:])
		return fail(string(line))
	}
	val, _ := v.fromRESP(out)
	L.Push(val)
	return 1
}

// errorReplyFn is redis.error_reply: {err=msg}, where a message without
// an error code ("oops") gets "ERR ".
func errorReplyFn(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if L.GetTop() != 1 || !ok {
		return pushReplyTable(L, "err", "ERR wrong number or type of arguments")
	}
	msg := strings.TrimPrefix(string(s), "-")
	if !strings.Contains(msg, " ") {
		msg = "ERR " + msg
	}
	return pushReplyTable(L, "err", msg)
}

// statusReplyFn is redis.status_reply: {ok=msg}.
func statusReplyFn(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if L.GetTop() != 1 || !ok {
		return pushReplyTable(L, "err", "ERR wrong number or type of arguments")
	}
	return pushReplyTable(L, "ok", string(s))
}

// pushReplyTable pushes {field=msg}, a status ("ok") or error ("err")
// reply as Redis's Lua API represents them, and returns 1 (one result).
func pushReplyTable(L *lua.LState, field, msg string) int {
	t := L.CreateTable(0, 1)
	t.RawSetString(field, lua.LString(msg))
	L.Push(t)
	return 1
}

func sha1hexFn(L *lua.LState) int {
	if L.GetTop() != 1 {
		raise(L, "ERR wrong number of arguments")
	}
	var s string
	switch x := L.Get(1).(type) {
	case lua.LString:
		s = string(x)
	case lua.LNumber:
		s = formatNumber(float64(x))
	}
	L.Push(lua.LString(SHA1Hex([]byte(s))))
	return 1
}

// setresp is redis.setresp(2|3): the protocol of redis.call's replies
// (and of true/false in the script's own reply).
func (v *vm) setresp(L *lua.LState) int {
	if L.GetTop() != 1 {
		raise(L, "ERR redis.setresp() requires one argument.")
	}
	n, ok := L.Get(1).(lua.LNumber)
	if !ok || (n != 2 && n != 3) {
		raise(L, "ERR RESP version must be 2 or 3.")
	}
	v.resp3 = n == 3
	return 0
}
