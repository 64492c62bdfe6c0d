package script

import (
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// vm is one Lua state set up as Redis sets up its scripting state: only
// the base functions Redis exposes plus string, table, math and redis,
// all behind read-only tables. A vm runs one script at a time.
type vm struct {
	e       *Engine
	L       *lua.LState
	globals *lua.LTable // what the read-only _G reads from
	env     *lua.LTable // the read-only _G scripts see
	ro      map[*lua.LTable]bool
	handler *lua.LFunction
	fns     map[*compiled]*lua.LFunction // mainFunc's functions

	budget budget
	rng    lrand48
	host   Host
	resp3  bool // redis.setresp(3)
	line   int  // where the error being raised happened (handler)
	broken bool // the state may hold leftovers: do not pool it
}

// budget is the context a run's Lua state checks before every
// instruction: Done counts them, and returns a closed channel once the
// budget is spent, which makes the VM raise an error. It is used by one
// goroutine (coroutines, which would watch it from another, are not
// provided).
type budget struct {
	left   int64
	closed chan struct{}
	spent  bool
}

func (b *budget) Deadline() (time.Time, bool) { return time.Time{}, false }
func (b *budget) Value(any) any               { return nil }

// Done counts one instruction.
func (b *budget) Done() <-chan struct{} {
	b.left--
	if b.left < 0 {
		b.spent = true
		return b.closed
	}
	return nil
}

// Err is the error the VM raises when Done has fired.
func (b *budget) Err() error {
	if b.spent {
		return ErrBudget
	}
	return nil
}

// charge takes n instructions' worth from the budget (redis.call).
func (b *budget) charge(n int64) { b.left -= n }

// baseAllowed are the base functions Redis 7 leaves to scripts (besides
// the ones replaced below).
var baseAllowed = []string{
	"assert", "getmetatable", "ipairs", "next", "pairs", "rawequal",
	"rawget", "select", "setmetatable", "tonumber", "type", "unpack",
	"xpcall", "_VERSION",
}

func newVM(e *Engine) *vm {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       256,
		RegistrySize:        4096,
		RegistryMaxSize:     1 << 20,
		MinimizeStackMemory: true,
	})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	v := &vm{e: e, L: L, ro: make(map[*lua.LTable]bool)}
	v.budget.closed = e.closed
	real := L.G.Global
	g := L.NewTable()
	for _, name := range baseAllowed {
		g.RawSetString(name, real.RawGetString(name))
	}
	g.RawSetString("pcall", L.NewFunction(v.pcall))
	g.RawSetString("rawset", L.NewFunction(v.rawset))
	g.RawSetString("error", L.NewFunction(luaError))
	tostring := real.RawGetString("tostring")
	g.RawSetString("tostring", L.NewFunction(func(L *lua.LState) int {
		// Numbers as Lua 5.1 prints them ("%.14g"), not as Go does.
		if n, ok := L.Get(1).(lua.LNumber); ok {
			L.Push(lua.LString(formatNumber(float64(n))))
			return 1
		}
		L.Push(tostring)
		L.Push(L.CheckAny(1))
		L.Call(1, 1)
		return 1
	}))
	g.RawSetString("loadstring", L.NewFunction(v.loadstring))
	g.RawSetString("collectgarbage", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LNumber(0)); return 1 }))
	g.RawSetString("gcinfo", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LNumber(0)); return 1 }))

	str := real.RawGetString("string").(*lua.LTable)
	str.RawSetString("__index", lua.LNil) // gopher-lua's string table is its own metatable
	str.RawSetString("rep", L.NewFunction(strRep))
	math := real.RawGetString("math").(*lua.LTable)
	math.RawSetString("random", L.NewFunction(v.random))
	math.RawSetString("randomseed", L.NewFunction(v.randomseed))
	tbl := real.RawGetString("table").(*lua.LTable)
	tbl.RawSetString("insert", v.refuseReadonly(tbl.RawGetString("insert").(*lua.LFunction)))
	g.RawSetString("string", v.readonly(str))
	g.RawSetString("table", v.readonly(tbl))
	g.RawSetString("math", v.readonly(math))
	g.RawSetString("redis", v.readonly(v.redisLib()))

	// Strings' methods ("x"):upper() read the real string table; the
	// metatable itself is hidden behind the read-only copy.
	smt := L.NewTable()
	smt.RawSetString("__index", str)
	smt.RawSetString("__metatable", g.RawGetString("string"))
	L.SetMetatable(lua.LString(""), smt)

	// A global is read through two tables: the empty _G the script sees
	// (env), whose __index is the table g that holds the globals (a
	// table, not a function: the VM reads it without calling Go), whose
	// own __index, reached only for a global that does not exist, raises
	// the error. g is never handed to a script.
	gmt := L.NewTable()
	gmt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("Script attempted to access nonexistent global variable '%s'", lua.LVAsString(L.Get(2)))
		return 0
	}))
	L.SetMetatable(g, gmt)
	v.globals = g
	v.env = L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", g)
	mt.RawSetString("__newindex", L.NewFunction(readonlyErr))
	mt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(v.env, mt)
	v.ro[v.env] = true
	g.RawSetString("_G", v.env)
	v.handler = L.NewFunction(v.onError)
	return v
}

// readonly returns a table that reads t and refuses writes.
func (v *vm) readonly(t *lua.LTable) *lua.LTable {
	L := v.L
	p := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", t)
	mt.RawSetString("__newindex", L.NewFunction(readonlyErr))
	mt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(p, mt)
	v.ro[p] = true
	return p
}

func readonlyErr(L *lua.LState) int {
	L.RaiseError("Attempt to modify a readonly table")
	return 0
}

// rawset refuses the read-only tables, as Redis's does.
func (v *vm) rawset(L *lua.LState) int {
	t := L.CheckTable(1)
	if v.ro[t] {
		L.Error(lua.LString("Attempt to modify a readonly table"), 0)
	}
	L.RawSet(t, L.CheckAny(2), L.CheckAny(3))
	L.SetTop(1)
	return 1
}

// refuseReadonly wraps table.insert, which writes to its first argument
// raw, so that it refuses the read-only tables, as Redis's does: without
// it table.insert(_G, x) would leave x in the pooled state for the next
// run to see (and only on the node whose state it was). table.remove and
// table.sort write nothing to a table whose array part is empty, which a
// read-only table's always is, so they need no guard (nor does Redis
// refuse them).
func (v *vm) refuseReadonly(fn *lua.LFunction) *lua.LFunction {
	return v.L.NewFunction(func(L *lua.LState) int {
		if t, ok := L.Get(1).(*lua.LTable); ok && v.ro[t] {
			L.Error(lua.LString("Attempt to modify a readonly table"), 0)
		}
		return fn.GFunction(L)
	})
}

// loadstring compiles a chunk that sees the read-only globals.
func (v *vm) loadstring(L *lua.LState) int {
	src := L.CheckString(1)
	name := L.OptString(2, src)
	proto, err := compile(src, chunkName(name))
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	fn := L.NewFunctionFromProto(proto)
	fn.Env = v.env
	L.Push(fn)
	return 1
}

// chunkName is Lua 5.1's name for a string chunk: [string "first line..."].
func chunkName(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + "..."
	}
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return `[string "` + s + `"]`
}

// pcall is Lua's pcall, except that an error raised as a table with an
// err field (what redis.call raises) is returned as that string, as
// Redis 7 does for compatibility.
func (v *vm) pcall(L *lua.LState) int {
	L.CheckAny(1)
	nargs := L.GetTop() - 1
	if err := L.PCall(nargs, lua.MultRet, nil); err != nil {
		L.Push(lua.LFalse)
		obj := lua.LValue(lua.LString(err.Error()))
		if aerr, ok := err.(*lua.ApiError); ok {
			obj = aerr.Object
		}
		if t, ok := obj.(*lua.LTable); ok {
			if s, ok := t.RawGetString("err").(lua.LString); ok {
				obj = s
			}
		}
		L.Push(obj)
		return 2
	}
	L.Insert(lua.LTrue, 1)
	return L.GetTop()
}

// luaError is Lua 5.1's error: a string or number message gets the
// position of the level-th caller; any value, nil included, may be raised.
func luaError(L *lua.LState) int {
	obj := L.Get(1)
	level := L.OptInt(2, 1)
	if n, ok := obj.(lua.LNumber); ok {
		obj = lua.LString(formatNumber(float64(n)))
	}
	L.Error(obj, level)
	return 0
}

func strRep(L *lua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	if n <= 0 || s == "" {
		L.Push(lua.LString(""))
		return 1
	}
	if int64(len(s))*int64(n) > maxRep {
		L.RaiseError("resulting string too large")
	}
	L.Push(lua.LString(strings.Repeat(s, n)))
	return 1
}

// onError is the handler the main chunk runs under: it records the line
// of the Lua code that raised the error (the caller of error() or
// redis.call when a Go function raised it).
func (v *vm) onError(L *lua.LState) int {
	v.line = 0
	for level := 1; ; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil {
			break
		}
		if dbg.CurrentLine > 0 {
			v.line = dbg.CurrentLine
			break
		}
	}
	L.Push(L.Get(1))
	return 1
}

// reusable reports whether the state may serve another run.
func (v *vm) reusable() bool { return !v.broken }

// run runs one script.
func (v *vm) run(c *compiled, sha []byte, p Params, h Host) (Reply, error) {
	L := v.L
	v.host, v.resp3, v.line = h, false, 0
	v.budget.left, v.budget.spent = p.Budget, false
	v.rng.seed(p.Seed)
	v.globals.RawSetString("KEYS", strTable(L, p.Keys))
	v.globals.RawSetString("ARGV", strTable(L, p.Argv))
	defer func() {
		v.host = nil
		v.globals.RawSetString("KEYS", lua.LNil)
		v.globals.RawSetString("ARGV", lua.LNil)
		L.SetTop(0)
	}()
	fn := v.mainFunc(c)
	L.SetContext(&v.budget)
	L.Push(fn)
	err := L.PCall(0, 1, v.handler)
	L.RemoveContext()
	if v.budget.spent {
		v.broken = true // stopped anywhere: do not trust its state
		return errorReply("ERR Script exceeded the busy-reply-threshold instruction budget and was stopped; its writes were undone script: " +
			string(sha) + ", on @user_script:" + itoa(v.line) + "."), ErrBudget
	}
	if err != nil {
		msg := err.Error()
		if aerr, ok := err.(*lua.ApiError); ok {
			msg = "ERR " + lua.LVAsString(aerr.Object)
			if aerr.Object == lua.LNil {
				msg = "ERR nil"
			}
			if t, ok := aerr.Object.(*lua.LTable); ok {
				msg = "ERR " + t.String()
				if s, ok := t.RawGetString("err").(lua.LString); ok {
					msg = string(s)
				}
			}
		}
		return errorReply(msg + " script: " + string(sha) + ", on @user_script:" + itoa(v.line) + "."), nil
	}
	return v.toReply(L.Get(-1), 0), nil
}

// maxFuncs bounds the main functions a vm keeps (mainFunc).
const maxFuncs = 64

// mainFunc returns the function that runs script c's main chunk in this
// state. A main chunk has no upvalues and its environment is always the
// read-only _G, so one function serves every run of c; the most recently
// used scripts' functions are kept (at most maxFuncs, all dropped when
// full: a flushed or rarely run script's costs only its re-creation).
func (v *vm) mainFunc(c *compiled) *lua.LFunction {
	if fn := v.fns[c]; fn != nil {
		return fn
	}
	if v.fns == nil || len(v.fns) >= maxFuncs {
		v.fns = make(map[*compiled]*lua.LFunction)
	}
	fn := v.L.NewFunctionFromProto(c.proto)
	fn.Env = v.env
	v.fns[c] = fn
	return fn
}

func strTable(L *lua.LState, vals [][]byte) *lua.LTable {
	t := L.CreateTable(len(vals), 0)
	for i, b := range vals {
		t.RawSetInt(i+1, lua.LString(b))
	}
	return t
}

// lrand48 is Redis's scripting random generator (rand.c): the POSIX
// drand48 recurrence x = x*0x5DEECE66D + 0xB mod 2^48, seeded as srand48.
type lrand48 struct{ x uint64 }

func (r *lrand48) seed(s int32) { r.x = uint64(uint32(s))<<16 | 0x330E }

// next returns the next 31-bit value (lrand48).
func (r *lrand48) next() int32 {
	r.x = (r.x*0x5DEECE66D + 0xB) & (1<<48 - 1)
	return int32(r.x >> 17)
}

const lrandMax = 1<<31 - 1

// random is math.random as Redis defines it (Lua 5.1's with Redis's
// generator).
func (v *vm) random(L *lua.LState) int {
	r := float64(v.rng.next()%lrandMax) / float64(lrandMax)
	switch L.GetTop() {
	case 0:
		L.Push(lua.LNumber(r))
	case 1:
		u := L.CheckInt64(1)
		if u < 1 {
			L.ArgError(1, "interval is empty")
		}
		L.Push(lua.LNumber(floor(r*float64(u)) + 1))
	case 2:
		l, u := L.CheckInt64(1), L.CheckInt64(2)
		if l > u {
			L.ArgError(2, "interval is empty")
		}
		L.Push(lua.LNumber(floor(r*float64(u-l+1)) + float64(l)))
	default:
		L.RaiseError("wrong number of arguments")
	}
	return 1
}

func (v *vm) randomseed(L *lua.LState) int {
	v.rng.seed(int32(L.CheckInt64(1)))
	return 0
}

func floor(f float64) float64 {
	i := float64(int64(f))
	if i > f {
		i--
	}
	return i
}

func itoa(n int) string {
	if n <= 0 {
		return "?"
	}
	return formatNumber(float64(n))
}
