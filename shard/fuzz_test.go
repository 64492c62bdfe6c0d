package shard

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"sessiond/ttl"
)

// fzT0 is where the op streams' clocks start, in Unix ms.
const fzT0 = int64(1_700_000_000_000)

// fzExpired says whether a key with deadline exp is gone at time now.
// As Redis 7's keyIsExpired (now > when), a key is still visible during
// its deadline's own millisecond, with a PTTL of 0, and gone one
// millisecond later. A deadline at or before now given by SET, EXPIRE or
// GETEX deletes the key at once (checkAlreadyExpired: when <= now).
func fzExpired(exp, now int64) bool { return exp != 0 && exp < now }

// fzModel is a plain map of strings with deadlines: what the Store must
// look like from outside.
type fzModel struct {
	m   map[string]fzVal
	now int64 // highest op time seen: time never goes back
}

type fzVal struct {
	s   string
	exp int64
}

func (m *fzModel) live(k string) (fzVal, bool) {
	v, ok := m.m[k]
	if !ok || fzExpired(v.exp, m.now) {
		return fzVal{}, false
	}
	return v, true
}

// fzInt parses a stored string as INCRBY does: canonical decimal int64.
func fzInt(s string) (int64, bool) {
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && strconv.FormatInt(v, 10) == s
}

// apply runs op on the model and returns the Result the Store must give.
func (m *fzModel) apply(op *Op) Result {
	if op.Now > m.now {
		m.now = op.Now
	}
	k := string(op.Key)
	switch op.Kind {
	case KindGet:
		if v, ok := m.live(k); ok {
			return Str(v.s)
		}
		return Nil()
	case KindSet:
		old, had := m.live(k)
		reply := OK()
		if op.Has(Get) {
			reply = Nil()
			if had {
				reply = Str(old.s)
			}
		}
		if (op.Has(NX) && had) || (op.Has(XX) && !had) {
			if op.Has(Get) {
				return reply
			}
			return Nil()
		}
		nv := fzVal{s: string(op.Args[0]), exp: op.At}
		switch {
		case op.Has(KeepTTL) && had:
			nv.exp = old.exp // live: kept even at its last millisecond
		case op.At != 0 && op.At <= m.now:
			delete(m.m, k)
			return reply
		}
		m.m[k] = nv
		return reply
	case KindGetDel:
		v, ok := m.live(k)
		if !ok {
			return Nil()
		}
		delete(m.m, k)
		return Str(v.s)
	case KindGetEx:
		v, ok := m.live(k)
		if !ok {
			return Nil()
		}
		switch {
		case op.Has(Persist):
			v.exp = 0
			m.m[k] = v
		case op.Has(SetExpiry) && op.At <= m.now:
			delete(m.m, k)
		case op.Has(SetExpiry):
			v.exp = op.At
			m.m[k] = v
		}
		return Str(v.s)
	case KindIncrBy:
		v, had := m.live(k)
		cur := int64(0)
		if had {
			n, ok := fzInt(v.s)
			if !ok {
				return Err(ErrNotInteger)
			}
			cur = n
		}
		d := op.N
		if (d > 0 && cur > math.MaxInt64-d) || (d < 0 && cur < math.MinInt64-d) {
			return Err(ErrOverflow)
		}
		cur += d
		m.m[k] = fzVal{s: strconv.FormatInt(cur, 10), exp: v.exp}
		return Int(cur)
	case KindAppend:
		v, _ := m.live(k)
		v.s += string(op.Args[0])
		m.m[k] = v
		return Int(int64(len(v.s)))
	case KindStrLen:
		v, _ := m.live(k)
		return Int(int64(len(v.s)))
	case KindMSet:
		for i := 0; i+1 < len(op.Args); i += 2 {
			m.m[string(op.Args[i])] = fzVal{s: string(op.Args[i+1])}
		}
		return OK()
	case KindMSetNX:
		for i := 0; i+1 < len(op.Args); i += 2 {
			if _, ok := m.live(string(op.Args[i])); ok {
				return Int(0)
			}
		}
		for i := 0; i+1 < len(op.Args); i += 2 {
			m.m[string(op.Args[i])] = fzVal{s: string(op.Args[i+1])}
		}
		return Int(1)
	case KindMGet:
		vals := make([]Val, len(op.Args))
		for i, a := range op.Args {
			if v, ok := m.live(string(a)); ok {
				vals[i] = Val{S: v.s}
			} else {
				vals[i] = Val{Nil: true}
			}
		}
		return Result{Kind: RList, Vals: vals}
	case KindDel:
		n := int64(0)
		for _, a := range op.Args {
			if _, ok := m.live(string(a)); ok {
				n++
			}
			delete(m.m, string(a))
		}
		return Int(n)
	case KindExists:
		n := int64(0)
		for _, a := range op.Args {
			if _, ok := m.live(string(a)); ok {
				n++
			}
		}
		return Int(n)
	case KindExpire:
		v, ok := m.live(k)
		if !ok {
			return Int(0)
		}
		switch {
		case op.Has(NX) && v.exp != 0,
			op.Has(XX) && v.exp == 0,
			op.Has(GT) && (v.exp == 0 || op.At <= v.exp),
			op.Has(LT) && v.exp != 0 && op.At >= v.exp:
			return Int(0)
		}
		if op.At <= m.now {
			delete(m.m, k)
			return Int(1)
		}
		v.exp = op.At
		m.m[k] = v
		return Int(1)
	case KindTTL:
		v, ok := m.live(k)
		switch {
		case !ok:
			return Int(-2)
		case v.exp == 0:
			return Int(-1)
		}
		t := v.exp
		if !op.Has(Absolute) {
			t -= m.now
		}
		t = max(t, 0)
		if !op.Has(Millis) {
			t = (t + 500) / 1000
		}
		return Int(t)
	case KindPersist:
		v, ok := m.live(k)
		if !ok || v.exp == 0 {
			return Int(0)
		}
		v.exp = 0
		m.m[k] = v
		return Int(1)
	case KindMulti:
		subs := make([]Result, len(op.Subs))
		for i := range op.Subs {
			sub := op.Subs[i]
			sub.Now = m.now
			subs[i] = m.apply(&sub)
		}
		return Result{Kind: RMulti, Subs: subs}
	}
	panic(fmt.Sprintf("model has no kind %d", op.Kind))
}

// fzSame reports whether the Store's result matches the model's.
func fzSame(got, want Result) bool {
	if got.Kind != want.Kind || got.Int != want.Int || got.Str != want.Str {
		return false
	}
	if want.Kind == RErr {
		return errors.Is(got.Err, want.Err)
	}
	if !slices.Equal(got.Vals, want.Vals) || len(got.Subs) != len(want.Subs) {
		return false
	}
	for i := range got.Subs {
		if !fzSame(got.Subs[i], want.Subs[i]) {
			return false
		}
	}
	return true
}

// fzStream reads ops out of fuzz bytes.
type fzStream struct {
	b   []byte
	now int64
}

func (s *fzStream) byte() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

var fzValues = []string{"", "0", "1", "-1", "10", "9223372036854775807", "-9223372036854775808", "007", "+1", " 1", "abc", "1.5"}

func (s *fzStream) key() []byte { return []byte(fmt.Sprint("k", s.byte()%6)) }

func (s *fzStream) value() []byte {
	c := s.byte()
	if c < 200 {
		return []byte(fzValues[int(c)%len(fzValues)])
	}
	n := min(int(c-200), len(s.b))
	v := slices.Clone(s.b[:n])
	s.b = s.b[n:]
	return v
}

// deadline is a time near now, in the past or the future, or exactly now.
func (s *fzStream) deadline() int64 { return s.now + int64(s.byte())*4 - 300 }

func (s *fzStream) delta() int64 {
	switch c := s.byte(); {
	case c < 100:
		return int64(c)
	case c < 110:
		return -int64(c-100) * 50 // a leader with a slower clock
	default:
		return int64(c) * 10
	}
}

// op returns the next string or keyspace op, or ok false at the end.
func (s *fzStream) op(depth int) (Op, bool) {
	if len(s.b) == 0 {
		return Op{}, false
	}
	s.now += s.delta()
	op := Op{Now: s.now}
	switch s.byte() % 17 {
	case 0:
		op.Kind, op.Key, op.Args = KindSet, s.key(), [][]byte{s.value()}
		fl := s.byte()
		if fl&1 != 0 {
			op.Flags |= NX
		} else if fl&2 != 0 {
			op.Flags |= XX
		}
		if fl&4 != 0 {
			op.Flags |= Get
		}
		switch {
		case fl&8 != 0:
			op.Flags |= KeepTTL
		case fl&16 != 0:
			op.At = s.deadline()
			op.Flags |= SetExpiry
		}
	case 1:
		op.Kind, op.Key = KindGet, s.key()
	case 2:
		op.Kind, op.Key = KindGetDel, s.key()
	case 3:
		op.Kind, op.Key = KindGetEx, s.key()
		switch s.byte() % 3 {
		case 1:
			op.Flags |= Persist
		case 2:
			op.Flags |= SetExpiry
			op.At = s.deadline()
		}
	case 4:
		op.Kind, op.Key = KindIncrBy, s.key()
		op.N = []int64{1, -1, 5, math.MaxInt64, math.MinInt64, 0}[s.byte()%6]
	case 5:
		op.Kind, op.Key, op.Args = KindAppend, s.key(), [][]byte{s.value()}
	case 6:
		op.Kind, op.Key = KindStrLen, s.key()
	case 7, 8:
		op.Kind = KindMSet
		if s.byte()%2 == 0 {
			op.Kind = KindMSetNX
		}
		for i := 0; i <= int(s.byte()%2); i++ {
			op.Args = append(op.Args, s.key(), s.value())
		}
	case 9:
		op.Kind, op.Args = KindMGet, [][]byte{s.key(), s.key()}
	case 10:
		op.Kind, op.Args = KindDel, [][]byte{s.key(), s.key()}
	case 11:
		op.Kind, op.Args = KindExists, [][]byte{s.key(), s.key()}
	case 12, 13:
		op.Kind, op.Key, op.At = KindExpire, s.key(), s.deadline()
		op.Flags = []Flags{0, 0, NX, XX, GT, LT, XX | GT, XX | LT}[s.byte()%8]
	case 14:
		op.Kind, op.Key = KindTTL, s.key()
		op.Flags = []Flags{0, Millis, Absolute, Millis | Absolute}[s.byte()%4]
	case 15:
		op.Kind, op.Key = KindPersist, s.key()
	case 16:
		if depth > 0 {
			op.Kind, op.Key = KindGet, s.key()
			break
		}
		op.Kind = KindMulti
		for i := 0; i <= int(s.byte()%3); i++ {
			sub, ok := s.op(1)
			if !ok {
				break
			}
			sub.Now = 0 // EXEC stamps the MULTI; subs carry its time
			op.Subs = append(op.Subs, sub)
		}
		s.now = op.Now
		for i := range op.Subs {
			op.Subs[i].Now = op.Now
		}
	}
	return op, true
}

// unimplemented reports whether r says the kind is not written yet.
func unimplemented(r Result) bool {
	if r.Kind == RErr && errors.Is(r.Err, ErrUnknownOp) {
		return true
	}
	for _, s := range r.Subs {
		if unimplemented(s) {
			return true
		}
	}
	return false
}

// FuzzOps applies a stream of string and keyspace ops, each one encoded
// and decoded first, to a Store and to a plain map model, with op times
// that sometimes go back (a slower leader) and reaps proposed in between,
// and checks every result, then the whole state and the memory account.
// Kinds a Store answers with ErrUnknownOp are skipped (not written yet).
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 0, 1, 1, 1})
	f.Add([]byte{5, 0, 2, 3, 16, 80, 50, 1, 2, 200, 1, 1, 2, 200, 14, 3, 1})
	f.Add([]byte{0, 12, 0, 1, 76, 0, 0, 14, 0, 1, 0, 1, 0, 250, 1, 0}) // EXPIRE exactly now, TTL, GET later
	f.Add([]byte{0, 0, 3, 1, 16, 80, 105, 1, 3, 0, 1, 3, 109, 1, 3})   // time going back
	// SET PX at +100; GET at +99; at +100 PTTL, SET KEEPTTL, GET; GET at +101.
	f.Add([]byte{0, 0, 0, 2, 16, 100, 99, 1, 0, 1, 14, 0, 1, 0, 0, 0, 3, 8, 0, 1, 0, 1, 1, 0})
	f.Add([]byte{0, 4, 1, 3, 0, 4, 1, 4, 0, 4, 1, 3, 0, 0, 1, 10, 0, 4, 1, 0}) // INCRBY overflow
	f.Add([]byte{0, 16, 2, 0, 0, 1, 2, 0, 0, 12, 1, 75, 3, 0, 1, 1})           // MULTI
	f.Add([]byte{0, 7, 1, 0, 1, 1, 2, 0, 7, 0, 2, 3, 1, 4, 0, 9, 1, 2, 0, 10, 1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		clock := ttl.NewFakeClock(time.UnixMilli(fzT0))
		s := New(Config{Stripes: 4, Clock: clock})
		m := &fzModel{m: map[string]fzVal{}} // now 0: no op applied yet, like the store
		in := &fzStream{b: data, now: fzT0}
		reaps := 0
		for step := 0; ; step++ {
			op, ok := in.op(0)
			if !ok {
				break
			}
			dec, err := Decode(AppendEncode(nil, &op))
			if err != nil {
				t.Fatalf("step %d: decoding %+v: %v", step, op, err)
			}
			before := m.snapshot()
			got := s.Apply(&dec)
			if unimplemented(got) {
				m.restore(before)
				m.now = max(m.now, op.Now)
				continue
			}
			want := m.apply(&op)
			if !fzSame(got, want) {
				t.Fatalf("step %d: %+v at %d (model now %d):\nstore %+v\nmodel %+v", step, op, op.Now, m.now, got, want)
			}
			// Now and then the leader reaps what it finds due, at a
			// time that may be behind what was applied.
			if step%3 == 2 {
				reaps++
				at := op.Now - int64(step%5)*40
				keys := s.DueKeys(at, 1+step%4, reaps)
				reap := Op{Kind: KindReap, Now: at, Args: keys}
				if r := s.Apply(&reap); r.Kind != RInt || r.Int > int64(len(keys)) {
					t.Fatalf("step %d: reap of %q gave %+v", step, keys, r)
				}
			}
			// A replica's read at the store clock sees what Apply sees.
			clock.Set(time.UnixMilli(m.now))
			k := fmt.Sprint("k", step%6)
			get := Op{Kind: KindGet, Key: []byte(k)}
			want = m.apply(&Op{Kind: KindGet, Key: []byte(k), Now: m.now})
			if got := s.Read(&get); !fzSame(got, want) {
				t.Fatalf("step %d: Read GET %s = %+v, model %+v", step, k, got, want)
			}
		}
		// Reap everything due, then the store holds exactly the live keys.
		keys := s.DueKeys(m.now, 1<<20, 0)
		s.Apply(&Op{Kind: KindReap, Now: m.now, Args: keys})
		live, volatile := 0, 0
		for k, v := range m.m {
			if fzExpired(v.exp, m.now) {
				continue
			}
			live++
			if v.exp != 0 {
				volatile++
			}
			got := s.Apply(&Op{Kind: KindGet, Key: []byte(k), Now: m.now})
			if got.Kind != RStr || got.Str != v.s {
				t.Fatalf("final %s = %+v, model %q", k, got, v.s)
			}
		}
		if n, vol := s.Len(); n != live || vol != volatile {
			t.Fatalf("after reaping: %d keys (%d volatile), model %d (%d)", n, vol, live, volatile)
		}
		// Deleting everything brings the memory account back to zero.
		del := Op{Kind: KindDel, Now: m.now}
		for i := 0; i < 6; i++ {
			del.Args = append(del.Args, []byte(fmt.Sprint("k", i)))
		}
		if r := s.Apply(&del); unimplemented(r) {
			return
		}
		if n, _ := s.Len(); n != 0 || s.UsedBytes() != 0 {
			t.Fatalf("after deleting every key: %d keys, %d bytes accounted", n, s.UsedBytes())
		}
	})
}

func (m *fzModel) snapshot() fzModel {
	c := fzModel{m: make(map[string]fzVal, len(m.m)), now: m.now}
	for k, v := range m.m {
		c.m[k] = v
	}
	return c
}

func (m *fzModel) restore(c fzModel) { *m = c }

// FuzzDecode feeds arbitrary bytes to Decode: it never panics, never
// believes more items than the input could hold, and whatever it accepts
// encodes and decodes again to the same op.
func FuzzDecode(f *testing.F) {
	for _, op := range codecSamples() {
		f.Add(AppendEncode(nil, &op))
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{2, 1, 0, 0})
	f.Add([]byte{1, 1, 0xff, 0})
	f.Add([]byte{1, 100, hasSubs, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptOp) {
				t.Fatalf("Decode error %v does not wrap ErrCorruptOp", err)
			}
			return
		}
		if items := opItems(&op); items > len(b) {
			t.Fatalf("%d items decoded from %d bytes", items, len(b))
		}
		again, err := Decode(AppendEncode(nil, &op))
		if err != nil {
			t.Fatalf("re-decoding %+v: %v", op, err)
		}
		if !sameOp(&op, &again) {
			t.Fatalf("round trip changed the op:\n%+v\n%+v", op, again)
		}
		// From an arena that already holds something, as a log entry's
		// later ops are: the same op, and the arena's earlier slots kept.
		prior := []byte("prior")
		arena := append(make([][]byte, 0, 1), prior)
		fromArena, arena, err := DecodeArena(b, arena)
		if err != nil || !sameOp(&op, &fromArena) {
			t.Fatalf("DecodeArena = %+v, %v; Decode gave %+v", fromArena, err, op)
		}
		if len(arena) != 1+opArgs(&op) || string(arena[0]) != "prior" {
			t.Fatalf("arena after DecodeArena: %d slots, first %q; want %d and prior", len(arena), arena[0], 1+opArgs(&op))
		}
	})
}

// opArgs counts the Args of op and its sub-ops.
func opArgs(op *Op) int {
	n := len(op.Args)
	for i := range op.Subs {
		n += opArgs(&op.Subs[i])
	}
	return n
}

// opItems counts the list items an op holds, nested ones included.
func opItems(op *Op) int {
	n := len(op.Args) + len(op.Subs) + len(op.Watch)
	for i := range op.Subs {
		n += opItems(&op.Subs[i])
	}
	return n
}
