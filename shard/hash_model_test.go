package shard

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// hashModel is a plain model of a hash with field deadlines, in the
// order a packed hash keeps.
type hashModel struct {
	fs []struct {
		f, v string
		exp  int64
	}
}

// purge drops the fields expired at now: as in Redis 7.4, a field is
// still there during its deadline's own millisecond.
func (m *hashModel) purge(now int64) {
	out := m.fs[:0]
	for _, x := range m.fs {
		if x.exp == 0 || x.exp >= now {
			out = append(out, x)
		}
	}
	m.fs = out
}

func (m *hashModel) find(f string) int {
	for i := range m.fs {
		if m.fs[i].f == f {
			return i
		}
	}
	return -1
}

func (m *hashModel) place(i int, exp int64) {
	x := m.fs[i]
	x.exp = exp
	m.fs = slices.Delete(m.fs, i, i+1)
	j := len(m.fs)
	if exp != 0 {
		for j = 0; j < len(m.fs); j++ {
			if e := m.fs[j].exp; e == 0 || e >= exp {
				break
			}
		}
	}
	m.fs = slices.Insert(m.fs, j, x)
}

func (m *hashModel) all() string {
	var parts []string
	for _, x := range m.fs {
		parts = append(parts, x.f, x.v)
	}
	return "map[" + strings.Join(parts, " ") + "]"
}

// TestHashModel applies random ops to a packed and a big hash and to a
// plain model, and compares contents, order (packed) and deadlines.
func TestHashModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	packed, big := hashStore(1000, 1000), hashStore(1, 1000)
	var m hashModel
	now := int64(hashT0)
	fields := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for step := range 4000 {
		f := fields[rng.IntN(len(fields))]
		var op Op
		switch r := rng.IntN(10); {
		case r < 3:
			v := strconv.Itoa(step)
			op = hop(KindHSet, now, "k", f, v)
			m.purge(now)
			if i := m.find(f); i >= 0 {
				m.fs[i].v = v
				if m.fs[i].exp != 0 {
					m.place(i, 0)
				}
			} else {
				m.fs = append(m.fs, struct {
					f, v string
					exp  int64
				}{f, v, 0})
			}
		case r < 4:
			op = hop(KindHDel, now, "k", f)
			m.purge(now)
			if i := m.find(f); i >= 0 {
				m.fs = slices.Delete(m.fs, i, i+1)
			}
		case r < 7:
			at := now + int64(rng.IntN(3000)) - 200
			conds := []Flags{0, NX, XX, GT, LT}
			fl := conds[rng.IntN(len(conds))]
			op = with(hop(KindHExpire, now, "k", f), fl, at, 0)
			m.purge(now)
			if i := m.find(f); i >= 0 {
				exp := m.fs[i].exp
				fail := (fl == NX && exp != 0) || (fl == XX && exp == 0) ||
					(fl == GT && (exp == 0 || exp >= at)) || (fl == LT && exp != 0 && exp <= at)
				switch {
				case fail:
				case at <= now:
					m.fs = slices.Delete(m.fs, i, i+1)
				default:
					m.place(i, at)
				}
			}
		case r < 8:
			op = hop(KindHPersist, now, "k", f)
			m.purge(now)
			if i := m.find(f); i >= 0 && m.fs[i].exp != 0 {
				m.place(i, 0)
			}
		case r < 9:
			now += int64(rng.IntN(400))
			op = Op{Kind: KindReap, Now: now, Args: hbs("k")}
			m.purge(now)
		default:
			op = with(hop(KindHIncrBy, now, "k", f), 0, 0, 1)
			m.purge(now)
			if i := m.find(f); i >= 0 {
				n, _ := strconv.Atoi(m.fs[i].v)
				if _, ok := ParseInt(m.fs[i].v); ok {
					m.fs[i].v = strconv.Itoa(n + 1)
				}
			} else {
				m.fs = append(m.fs, struct {
					f, v string
					exp  int64
				}{f, "1", 0})
			}
		}
		a, b := op, op
		ra, rb := fmtRes(packed.Apply(&a)), fmtRes(big.Apply(&b))
		if ra != rb {
			t.Fatalf("step %d kind %d: packed %s, big %s", step, op.Kind, ra, rb)
		}
		get := hop(KindHGetAll, now, "k")
		if got := fmtRes(packed.Apply(&get)); got != m.all() {
			t.Fatalf("step %d kind %d %s: packed %s, model %s", step, op.Kind, f, got, m.all())
		}
		get = hop(KindHGetAll, now, "k")
		gotBig := fmtRes(big.Apply(&get))
		var pairs []string
		for _, x := range m.fs {
			pairs = append(pairs, x.f+" "+x.v)
		}
		if want := "map[" + bigOrder(pairs...) + "]"; gotBig != want {
			t.Fatalf("step %d: big %s, want %s", step, gotBig, want)
		}
		ttlOp := with(hop(KindHTTL, now, "k", fields...), Absolute|Millis, 0, 0)
		tp, tb := fmtRes(packed.Apply(&ttlOp)), fmtRes(big.Apply(&ttlOp))
		var want []int64
		for _, f := range fields {
			switch i := m.find(f); {
			case i < 0:
				want = append(want, -2)
			case m.fs[i].exp == 0:
				want = append(want, -1)
			default:
				want = append(want, m.fs[i].exp)
			}
		}
		if w := fmt.Sprint(want); tp != w || tb != w {
			t.Fatalf("step %d: deadlines packed %s, big %s, model %s", step, tp, tb, w)
		}
		for _, s := range []*limStore{packed, big} {
			e, ok := rawEntry(s, "k")
			if !ok {
				continue
			}
			min := int64(0)
			for _, x := range m.fs {
				if x.exp != 0 && (min == 0 || x.exp < min) {
					min = x.exp
				}
			}
			// Stored due fields may linger until the next write or reap,
			// but the earliest deadline must be exact unless it passed.
			if fd := fieldDeadline(e); fd != min && (fd == 0 || fd >= now) {
				t.Fatalf("step %d: fieldDeadline %d, model %d", step, fd, min)
			}
		}
	}
}

// TestHashManyPackedFields crosses the decode buffer's size with a packed
// hash.
func TestHashManyPackedFields(t *testing.T) {
	n := int64(hashT0)
	s := hashStore(128, 64)
	var want []string
	for i := range 3 * hashBufLen {
		f := "f" + strconv.Itoa(i)
		op := hop(KindHSet, n, "h", f, strconv.Itoa(i))
		s.Apply(&op)
		want = append(want, f, strconv.Itoa(i))
	}
	op := with(hop(KindHExpire, n, "h", "f40", "f2"), 0, n+100, 0)
	s.Apply(&op)
	want = append([]string{"f2", "2", "f40", "40"}, slices.DeleteFunc(want, func(x string) bool { return x == "f2" || x == "2" || x == "f40" || x == "40" })...)
	runHashSteps(t, s, []hashStep{
		{hop(KindHGetAll, n, "h"), "map[" + strings.Join(want, " ") + "]"},
		{hop(KindHLen, n, "h"), strconv.Itoa(3 * hashBufLen)},
		{hop(KindHLen, n+100, "h"), strconv.Itoa(3 * hashBufLen)},
		{hop(KindHLen, n+101, "h"), strconv.Itoa(3*hashBufLen - 2)},
	})
	if e, _ := rawEntry(s, "h"); e.big != nil {
		t.Fatal("hash converted")
	}
}
