package shard

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// evStore returns a store whose events are recorded as "class name key"
// strings, with events on.
func evStore(t *testing.T) (*Store, *[]string) {
	t.Helper()
	s, _ := rpStore(4)
	var got []string
	s.SetEventSink(func(e Event) { got = append(got, string(e.Class)+" "+e.Name+" "+e.Key) })
	s.EnableEvents(true)
	return s, &got
}

func evApply(s *Store, op Op) Result {
	if op.Now == 0 {
		op.Now = rpT0
	}
	return s.Apply(&op)
}

func b(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, x := range ss {
		out[i] = []byte(x)
	}
	return out
}

// TestKeyspaceEvents checks the events writes report, as Redis names
// them, including "new", "expired" (once, when the reap op applies),
// "hexpired" and "evicted".
func TestKeyspaceEvents(t *testing.T) {
	s, got := evStore(t)
	steps := []struct {
		op   Op
		want []string
	}{
		{Op{Kind: KindSet, Key: []byte("k"), Args: b("v")}, []string{"n new k", "$ set k"}},
		{Op{Kind: KindSet, Key: []byte("k"), Args: b("v"), At: rpT0 + 5000, Flags: SetExpiry}, []string{"$ set k", "g expire k"}},
		{Op{Kind: KindPersist, Key: []byte("k")}, []string{"g persist k"}},
		{Op{Kind: KindPersist, Key: []byte("k")}, nil},
		{Op{Kind: KindIncrBy, Key: []byte("n"), N: 2}, []string{"n new n", "$ incrby n"}},
		{Op{Kind: KindIncrByFloat, Key: []byte("n"), Args: b("1.5")}, []string{"$ incrbyfloat n"}},
		{Op{Kind: KindAppend, Key: []byte("k"), Args: b("w")}, []string{"$ append k"}},
		{Op{Kind: KindSetRange, Key: []byte("k"), N: 1, Args: b("x")}, []string{"$ setrange k"}},
		{Op{Kind: KindExpire, Key: []byte("k"), At: rpT0 + 100}, []string{"g expire k"}},
		{Op{Kind: KindRename, Key: []byte("k"), Args: b("k2")}, []string{"n new k2", "g rename_from k", "g rename_to k2"}},
		{Op{Kind: KindGetDel, Key: []byte("n")}, []string{"g del n"}},
		{Op{Kind: KindDel, Args: b("n", "nosuch")}, nil},
		{Op{Kind: KindHSet, Key: []byte("h"), Args: b("f", "1", "g", "2")}, []string{"n new h", "h hset h"}},
		{Op{Kind: KindHIncrBy, Key: []byte("h"), Args: b("f"), N: 1}, []string{"h hincrby h"}},
		{Op{Kind: KindHDel, Key: []byte("h"), Args: b("f")}, []string{"h hdel h"}},
		{Op{Kind: KindHDel, Key: []byte("h"), Args: b("g")}, []string{"h hdel h", "g del h"}},
		{Op{Kind: KindHSet, Key: []byte("h2"), Args: b("f", "1", "g", "2")}, []string{"n new h2", "h hset h2"}},
		{Op{Kind: KindHExpire, Key: []byte("h2"), At: rpT0 + 50, Args: b("f")}, []string{"h hexpire h2"}},
		// Reaped: the key k2 (deadline rpT0+100) and the field f of h2.
		{Op{Kind: KindReap, Now: rpT0 + 200, Args: b("k2", "h2")}, []string{"x expired k2", "h hexpired h2"}},
		// A second reap of the same keys reports nothing.
		{Op{Kind: KindReap, Now: rpT0 + 300, Args: b("k2", "h2")}, nil},
		{Op{Kind: KindEvict, Now: rpT0 + 300, Args: b("h2")}, []string{"e evicted h2"}},
		// HSETEX, HGETEX, HGETDEL (Redis 8's hsetexCommand, hgetexCommand,
		// hgetdelCommand).
		{Op{Kind: KindHSetEx, Key: []byte("h3"), Args: b("f", "1", "g", "2")}, []string{"n new h3", "h hset h3"}},
		{Op{Kind: KindHSetEx, Key: []byte("h3"), Args: b("f", "1"), Flags: SetExpiry, At: rpT0 + 5000}, []string{"h hset h3", "h hexpire h3"}},
		{Op{Kind: KindHSetEx, Key: []byte("h3"), Args: b("f", "1"), Flags: FNX}, nil},
		{Op{Kind: KindHGetEx, Key: []byte("h3"), Args: b("f"), Flags: Persist}, []string{"h hpersist h3"}},
		{Op{Kind: KindHGetEx, Key: []byte("h3"), Args: b("f"), Flags: Persist}, nil},
		{Op{Kind: KindHGetEx, Key: []byte("h3"), Args: b("g", "nosuch"), Flags: SetExpiry, At: rpT0 + 6000}, []string{"h hexpire h3"}},
		{Op{Kind: KindHGetEx, Key: []byte("h3"), Args: b("nosuch"), Flags: SetExpiry, At: rpT0 + 6000}, nil},
		{Op{Kind: KindHGetEx, Key: []byte("h3"), Args: b("f")}, nil},
		{Op{Kind: KindHGetDel, Key: []byte("h3"), Args: b("f", "nosuch")}, []string{"h hdel h3"}},
		{Op{Kind: KindHGetDel, Key: []byte("h3"), Args: b("f")}, nil},
		{Op{Kind: KindHSetEx, Key: []byte("h3"), Args: b("x", "1"), Flags: SetExpiry, At: rpT0 - 1}, []string{"h hset h3", "h hdel h3"}},
		{Op{Kind: KindHGetEx, Key: []byte("h3"), Args: b("g"), Flags: SetExpiry, At: rpT0 - 1}, []string{"h hdel h3", "g del h3"}},
		{Op{Kind: KindHSetEx, Key: []byte("h4"), Args: b("f", "1")}, []string{"n new h4", "h hset h4"}},
		{Op{Kind: KindHGetDel, Key: []byte("h4"), Args: b("f")}, []string{"h hdel h4", "g del h4"}},
	}
	for i, st := range steps {
		*got = nil
		if r := evApply(s, st.op); r.Kind == RErr {
			t.Fatalf("step %d (kind %d): %v", i, st.op.Kind, r.Err)
		}
		if !slices.Equal(*got, st.want) {
			t.Errorf("step %d (kind %d): events %q, want %q", i, st.op.Kind, *got, st.want)
		}
	}
}

// TestKeyspaceEventsOff checks that nothing is reported while events are
// off, but published messages still are.
func TestKeyspaceEventsOff(t *testing.T) {
	s, got := evStore(t)
	s.EnableEvents(false)
	evApply(s, Op{Kind: KindSet, Key: []byte("k"), Args: b("v")})
	if len(*got) != 0 {
		t.Fatalf("events while off: %q", *got)
	}
	if r := evApply(s, Op{Kind: KindPublish, Key: []byte("ch"), Args: b("hello")}); r.Kind != ROK {
		t.Fatalf("publish: %+v", r)
	}
	if want := []string{"P hello ch"}; !slices.Equal(*got, want) {
		t.Fatalf("publish reported %q, want %q", *got, want)
	}
	if r := evApply(s, Op{Kind: KindPublish, Key: []byte("ch")}); r.Kind != RErr {
		t.Fatalf("publish without a message: %+v", r)
	}
	if strings.Contains(strings.Join(*got, ","), "set") {
		t.Fatal("a set event leaked")
	}
}

// TestRestoreReportsEventRestored checks that a store replaced from a
// snapshot reports one EventRestored while events are on (blocked
// clients then try again), and nothing while they are off.
func TestRestoreReportsEventRestored(t *testing.T) {
	src, _ := evStore(t)
	evApply(src, Op{Kind: KindSet, Key: []byte("k"), Args: b("v")})
	var buf bytes.Buffer
	if _, err := src.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	for _, on := range []bool{true, false} {
		dst, got := evStore(t)
		dst.EnableEvents(on)
		if err := dst.Restore(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatal(err)
		}
		want := []string{"*  "} // class, empty name, empty key
		if !on {
			want = nil
		}
		if !slices.Equal(*got, want) {
			t.Fatalf("events on=%v: %q, want %q", on, *got, want)
		}
	}
}
