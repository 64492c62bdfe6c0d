package script

import (
	"bytes"
	"math"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// Kind is the RESP shape of a Reply.
type Kind uint8

// Reply kinds. The RESP3-only ones (Map, Set, Double, Bool, BigNumber,
// Verbatim) are written in their RESP2 forms to RESP2 clients, as Redis
// does.
const (
	Nil       Kind = iota // null bulk
	Int                   // Int
	Bulk                  // Str
	Status                // Str, a simple string
	Error                 // Str, the whole error line ("ERR ...")
	Array                 // Elems
	Map                   // Elems: key, value, key, value...
	Set                   // Elems
	Double                // F
	Bool                  // Int: 1 true, 0 false
	BigNumber             // Str
	Verbatim              // Str (the text), Format (three letters)
)

// Reply is a script's return value as Redis replies it.
type Reply struct {
	Kind   Kind
	Int    int64
	F      float64
	Str    string
	Format string
	Elems  []Reply
}

func errorReply(msg string) Reply { return Reply{Kind: Error, Str: msg} }

// maxDepth bounds the nesting of a returned table (a table that holds
// itself would never end).
const maxDepth = 1000

// toReply converts a script's return value as Redis 7's
// luaReplyToRedisReply does.
func (v *vm) toReply(lv lua.LValue, depth int) Reply {
	if depth > maxDepth {
		return errorReply("ERR reached lua stack limit")
	}
	switch x := lv.(type) {
	case lua.LString:
		return Reply{Kind: Bulk, Str: string(x)}
	case lua.LBool:
		if v.resp3 {
			return Reply{Kind: Bool, Int: b2i(bool(x))}
		}
		if x {
			return Reply{Kind: Int, Int: 1}
		}
		return Reply{Kind: Nil}
	case lua.LNumber:
		return Reply{Kind: Int, Int: toInt64(float64(x))}
	case *lua.LTable:
		if s, ok := x.RawGetString("err").(lua.LString); ok {
			return errorReply(string(s))
		}
		if s, ok := x.RawGetString("ok").(lua.LString); ok {
			return Reply{Kind: Status, Str: string(s)}
		}
		if n, ok := x.RawGetString("double").(lua.LNumber); ok {
			return Reply{Kind: Double, F: float64(n)}
		}
		if s, ok := x.RawGetString("big_number").(lua.LString); ok {
			return Reply{Kind: BigNumber, Str: string(s)}
		}
		if m, ok := x.RawGetString("map").(*lua.LTable); ok {
			r := Reply{Kind: Map}
			m.ForEach(func(k, val lua.LValue) {
				r.Elems = append(r.Elems, v.toReply(k, depth+1), v.toReply(val, depth+1))
			})
			return r
		}
		if m, ok := x.RawGetString("set").(*lua.LTable); ok {
			r := Reply{Kind: Set}
			m.ForEach(func(k, _ lua.LValue) { r.Elems = append(r.Elems, v.toReply(k, depth+1)) })
			return r
		}
		if m, ok := x.RawGetString("verbatim_string").(*lua.LTable); ok {
			f, ok1 := m.RawGetString("format").(lua.LString)
			s, ok2 := m.RawGetString("string").(lua.LString)
			if ok1 && ok2 {
				return Reply{Kind: Verbatim, Str: string(s), Format: string(f)}
			}
		}
		r := Reply{Kind: Array}
		for i := 1; ; i++ {
			e := x.RawGetInt(i)
			if e == lua.LNil {
				break
			}
			r.Elems = append(r.Elems, v.toReply(e, depth+1))
		}
		return r
	}
	return Reply{Kind: Nil}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// toInt64 truncates a Lua number as C's (long long) cast does on x86-64:
// out of range or NaN gives the smallest integer.
func toInt64(f float64) int64 {
	if f != f || f >= math.MaxInt64 || f < math.MinInt64 {
		return math.MinInt64
	}
	return int64(f)
}

// fromRESP converts one RESP reply into the Lua value Redis hands a
// script (redisProtocolToLuaType): RESP2 nulls are false, statuses
// {ok=...}, errors {err=...}; RESP3 nulls are nil and the RESP3 shapes
// become {map=...}, {set=...}, {double=...}, {big_number=...},
// {verbatim_string={format=..., string=...}}. It returns the value and
// the rest of b.
func (v *vm) fromRESP(b []byte) (lua.LValue, []byte) {
	L := v.L
	if len(b) == 0 {
		return lua.LNil, nil
	}
	line, rest := splitLine(b[1:])
	switch b[0] {
	case '+':
		t := L.CreateTable(0, 1)
		t.RawSetString("ok", lua.LString(line))
		return t, rest
	case '-':
		t := L.CreateTable(0, 1)
		t.RawSetString("err", lua.LString(line))
		return t, rest
	case ':':
		n, _ := strconv.ParseInt(string(line), 10, 64)
		return lua.LNumber(n), rest
	case '$', '=':
		n, _ := strconv.Atoi(string(line))
		if n < 0 {
			return lua.LFalse, rest
		}
		if n > len(rest) {
			n = len(rest)
		}
		s, rest := rest[:n], rest[min(n+2, len(rest)):]
		if b[0] == '=' && len(s) >= 4 {
			vt := L.CreateTable(0, 2)
			vt.RawSetString("format", lua.LString(s[:3]))
			vt.RawSetString("string", lua.LString(s[4:]))
			t := L.CreateTable(0, 1)
			t.RawSetString("verbatim_string", vt)
			return t, rest
		}
		return lua.LString(s), rest
	case '*', '~', '%', '>':
		n, _ := strconv.Atoi(string(line))
		if n < 0 {
			return lua.LFalse, rest
		}
		t := L.CreateTable(0, 0)
		switch b[0] {
		case '%':
			for i := 0; i < n; i++ {
				var k, val lua.LValue
				k, rest = v.fromRESP(rest)
				val, rest = v.fromRESP(rest)
				if k != lua.LNil {
					t.RawSet(k, val)
				}
			}
			w := L.CreateTable(0, 1)
			w.RawSetString("map", t)
			return w, rest
		case '~':
			for i := 0; i < n; i++ {
				var k lua.LValue
				k, rest = v.fromRESP(rest)
				if k != lua.LNil {
					t.RawSet(k, lua.LTrue)
				}
			}
			w := L.CreateTable(0, 1)
			w.RawSetString("set", t)
			return w, rest
		}
		for i := 0; i < n; i++ {
			var e lua.LValue
			e, rest = v.fromRESP(rest)
			t.RawSetInt(i+1, e)
		}
		return t, rest
	case '_':
		return lua.LNil, rest
	case '#':
		return lua.LBool(len(line) > 0 && line[0] == 't'), rest
	case ',':
		f, _ := strconv.ParseFloat(string(line), 64)
		switch string(line) {
		case "inf":
			f = math.Inf(1)
		case "-inf":
			f = math.Inf(-1)
		}
		t := L.CreateTable(0, 1)
		t.RawSetString("double", lua.LNumber(f))
		return t, rest
	case '(':
		t := L.CreateTable(0, 1)
		t.RawSetString("big_number", lua.LString(line))
		return t, rest
	}
	return lua.LNil, nil
}

// splitLine returns b up to its first CRLF and what follows it.
func splitLine(b []byte) (line, rest []byte) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i+2:]
}
