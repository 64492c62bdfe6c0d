package replication

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"sessiond/shard"
)

// evalOp is a KindEval op running body, named by its SHA1 hex as the
// server names it.
func evalOp(body string, keys ...string) shard.Op {
	sum := sha1.Sum([]byte(body))
	op := shard.Op{Kind: shard.KindEval, Now: 1_700_000_000_000, At: 42, N: int64(len(keys)),
		Key: []byte(hex.EncodeToString(sum[:])), Args: [][]byte{[]byte(body)}}
	for _, k := range keys {
		op.Args = append(op.Args, []byte(k))
	}
	return op
}

// entryOf builds the log entry the batcher would propose for ops.
func entryOf(ops []shard.Op) []byte {
	calls := make([]*call, len(ops))
	for i := range ops {
		calls[i] = &call{}
		calls[i].encode(&ops[i])
	}
	data, typ := appendOpsEntry(make([]byte, entryHeader), calls, map[string]uint64{})
	return sealEntry(data, typ)
}

// decodeAll decodes every op of entry, each re-encoded in full (the
// canonical form to compare).
func decodeAll(entry []byte) ([][]byte, error) {
	typ, body, err := openEntry(entry)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	_, err = decodeOps(typ, body, nil, func(op *shard.Op) { out = append(out, shard.AppendEncode(nil, op)) })
	return out, err
}

func TestScriptBodiesStoredOncePerEntry(t *testing.T) {
	lock := `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`
	other := `return redis.call("incr", KEYS[1])`
	multi := shard.Op{Kind: shard.KindMulti, Subs: []shard.Op{evalOp(lock, "m")}}
	cases := []struct {
		name     string
		ops      []shard.Op
		typ      byte
		lockSeen int // times lock's body is in the entry
	}{
		{"no scripts", []shard.Op{{Kind: shard.KindSet, Key: []byte("k"), Args: [][]byte{[]byte("v")}}}, entryOps, 0},
		{"one script", []shard.Op{evalOp(lock, "a")}, entryShared, 1},
		{"same script many times", []shard.Op{evalOp(lock, "a"), evalOp(lock, "b"), evalOp(lock, "c")}, entryShared, 1},
		{"two scripts among other ops", []shard.Op{
			evalOp(lock, "a"), {Kind: shard.KindDel, Key: []byte("x")}, evalOp(other, "n"),
			evalOp(lock, "b"), {Kind: shard.KindSet, Key: []byte("k"), Args: [][]byte{[]byte(lock)}}, evalOp(other, "o"),
		}, entryShared, 2}, // once shared, once as SET's value
		{"empty body", []shard.Op{evalOp(""), evalOp("")}, entryShared, 0},
		{"inside MULTI the body stays in the op", []shard.Op{multi, evalOp(lock, "a")}, entryShared, 2},
		{"a script op not named by its SHA keeps its body", []shard.Op{{Kind: shard.KindEval, Key: []byte("short"), Args: [][]byte{[]byte(lock)}}}, entryOps, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := entryOf(c.ops)
			if e[5] != c.typ {
				t.Errorf("entry type %d, want %d", e[5], c.typ)
			}
			if n := bytes.Count(e, []byte(lock)); n != c.lockSeen {
				t.Errorf("lock body in the entry %d times, want %d", n, c.lockSeen)
			}
			if err := checkEntry(e); err != nil {
				t.Fatalf("checkEntry: %v", err)
			}
			got, err := decodeAll(e)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.ops) {
				t.Fatalf("%d ops decoded, want %d", len(got), len(c.ops))
			}
			for i := range c.ops {
				if want := shard.AppendEncode(nil, &c.ops[i]); !bytes.Equal(got[i], want) {
					t.Errorf("op %d decodes to %q, want %q", i, got[i], want)
				}
			}
		})
	}
}

func TestSharedEntryCorruption(t *testing.T) {
	lock := `return redis.call("del", KEYS[1])`
	ev := evalOp(lock, "a")
	set := shard.Op{Kind: shard.KindSet, Key: []byte("k"), Args: [][]byte{[]byte("v")}}
	noBody := shard.AppendEncodeNoBody(nil, &ev)
	full := shard.AppendEncode(nil, &ev)
	plain := shard.AppendEncode(nil, &set)
	// build writes an entryShared entry by hand: one script, then ops as
	// (ref, encoding) pairs.
	build := func(pairs ...any) []byte {
		b := make([]byte, entryHeader)
		b = binary.AppendUvarint(b, 1)
		b = binary.AppendUvarint(b, uint64(len(ev.Key)))
		b = append(b, ev.Key...)
		b = binary.AppendUvarint(b, uint64(len(lock)))
		b = append(b, lock...)
		b = binary.AppendUvarint(b, uint64(len(pairs)/2))
		for i := 0; i < len(pairs); i += 2 {
			b = binary.AppendUvarint(b, pairs[i].(uint64))
			enc := pairs[i+1].([]byte)
			b = binary.AppendUvarint(b, uint64(len(enc)))
			b = append(b, enc...)
		}
		return sealEntry(b, entryShared)
	}
	if err := checkEntry(build(uint64(1), noBody, uint64(0), plain)); err != nil {
		t.Fatalf("well-formed entry: %v", err)
	}
	for name, e := range map[string][]byte{
		"reference past the scripts":      build(uint64(2), noBody),
		"reference on an op without body": build(uint64(1), plain),
		"reference on an op with a body":  build(uint64(1), full),
		"too many scripts announced": func() []byte {
			b := binary.AppendUvarint(make([]byte, entryHeader), 1<<40)
			return sealEntry(b, entryShared)
		}(),
	} {
		if err := checkEntry(e); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: checkEntry = %v, want ErrCorrupt", name, err)
		}
	}
	e := build(uint64(1), noBody, uint64(0), plain)
	for n := entryHeader; n < len(e); n++ {
		cut := sealEntry(append([]byte(nil), e[:n]...), entryShared)
		if err := checkEntry(cut); !errors.Is(err, ErrCorrupt) {
			t.Errorf("body truncated to %d bytes: %v", n-entryHeader, err)
		}
	}
}

// bodyEngine is a ScriptEngine whose scripts answer their own body and
// first key, and which records every body it ran.
type bodyEngine struct {
	mu  sync.Mutex
	ran map[string]int
}

func (e *bodyEngine) Run(_ shard.ScriptTx, op *shard.Op) shard.Result {
	e.mu.Lock()
	e.ran[string(op.Args[0])]++
	e.mu.Unlock()
	return shard.Str(string(op.Args[0]) + "|" + string(op.Args[1]))
}

func (e *bodyEngine) Load([]byte) shard.Result { return shard.OK() }

// TestScriptOpsThroughTheLog submits script ops of three bodies from many
// goroutines at once, so that entries hold several ops of each, and checks
// that every op ran its own body, and that a restart replays them so.
func TestScriptOpsThroughTheLog(t *testing.T) {
	dir := t.TempDir()
	g, st := openSingle(t, dir, nil)
	eng := &bodyEngine{ran: map[string]int{}}
	st.SetScripts(eng)
	bodies := []string{"return 1", `return redis.call("get", KEYS[1])`, "-- " + string(bytes.Repeat([]byte("x"), 300))}
	const workers, each = 8, 60
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ps []Pending
			var want []string
			for i := range each {
				body := bodies[(w+i)%len(bodies)]
				key := fmt.Sprintf("k%d-%d", w, i)
				op := evalOp(body, key)
				p, err := g.Submit(&op)
				if err != nil {
					errs <- err
					return
				}
				ps = append(ps, p)
				want = append(want, body+"|"+key)
			}
			for i, p := range ps {
				res, err := p.Wait()
				if err != nil {
					errs <- err
					return
				}
				if res.Str != want[i] {
					errs <- fmt.Errorf("op %d of worker %d answered %.40q, want %.40q", i, w, res.Str, want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if e, o := g.entries.Load(), g.ops.Load(); e >= o {
		t.Logf("no entry held more than one op (%d entries, %d ops): sharing untested this run", e, o)
	}
	eng.mu.Lock()
	first := maps.Clone(eng.ran)
	eng.mu.Unlock()
	for _, b := range bodies {
		if first[b] != workers*each/len(bodies) {
			t.Errorf("body %.20q ran %d times, want %d", b, first[b], workers*each/len(bodies))
		}
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}

	// The restart checks every stored entry and replays the log.
	eng2 := &bodyEngine{ran: map[string]int{}}
	g2, _ := openSingle(t, dir, func(c *Config) { c.Store.SetScripts(eng2) })
	defer g2.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		eng2.mu.Lock()
		replayed := maps.Clone(eng2.ran)
		eng2.mu.Unlock()
		if maps.Equal(replayed, first) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replay ran %v, want %v", replayed, first)
		}
		time.Sleep(5 * time.Millisecond) // polling the replay, bounded
	}
}

// FuzzEntry feeds arbitrary bytes, as a log entry's body of each type, to
// the start-up check and the decoder: they must refuse what is corrupt
// (never panic), and an entry they accept must rebuild, through the
// batcher's own encoding, into one that decodes to the same ops.
func FuzzEntry(f *testing.F) {
	lock := `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`
	set := shard.Op{Kind: shard.KindSet, Now: 1, Key: []byte("k"), Args: [][]byte{[]byte("v")}}
	for _, ops := range [][]shard.Op{
		{set},
		{evalOp(lock, "a"), set, evalOp(lock, "b"), evalOp("return 1")},
		{{Kind: shard.KindMulti, Subs: []shard.Op{evalOp(lock, "m"), set}}, evalOp("")},
	} {
		e := entryOf(ops)
		f.Add(e[5], e[entryHeader:])
	}
	f.Fuzz(func(t *testing.T, typ byte, body []byte) {
		e := sealEntry(append(make([]byte, entryHeader), body...), typ)
		if err := checkEntry(e); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("checkEntry: %v, not ErrCorrupt", err)
			}
			return
		}
		if typ != entryOps && typ != entryShared {
			return
		}
		var ops []shard.Op
		first, err := decodeAll(e)
		if err != nil {
			t.Fatalf("checkEntry passed, decode failed: %v", err)
		}
		for _, enc := range first {
			op, err := shard.Decode(enc)
			if err != nil {
				t.Fatalf("re-encoded op does not decode: %v", err)
			}
			ops = append(ops, op)
		}
		again, err := decodeAll(entryOf(ops))
		if err != nil {
			t.Fatalf("rebuilt entry: %v", err)
		}
		if len(again) != len(first) {
			t.Fatalf("rebuilt entry holds %d ops, want %d", len(again), len(first))
		}
		for i := range first {
			if !bytes.Equal(again[i], first[i]) {
				t.Fatalf("op %d: %q after rebuilding, %q before", i, again[i], first[i])
			}
		}
	})
}
