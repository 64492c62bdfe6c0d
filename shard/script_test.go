package shard

import "testing"

// undoEngine writes what op.Args[1:] says (key, value pairs), then rolls
// back when op.N is 1.
type undoEngine struct{ loaded []string }

func (e *undoEngine) Run(tx ScriptTx, op *Op) Result {
	for i := 1; i+1 < len(op.Args); i += 2 {
		if r := tx.Exec(&Op{Kind: KindSet, Key: op.Args[i], Args: op.Args[i+1 : i+2]}); r.Kind == RErr {
			return r
		}
	}
	tx.Exec(&Op{Kind: KindHSet, Key: []byte("h"), Args: [][]byte{[]byte("f"), []byte("new")}})
	tx.Exec(&Op{Kind: KindDel, Args: [][]byte{[]byte("gone")}})
	if op.N == 1 {
		tx.Rollback()
		return Err(ErrUnknownOp)
	}
	return OK()
}

func (e *undoEngine) Load(body []byte) Result {
	e.loaded = append(e.loaded, string(body))
	return Str("sha")
}

func TestScriptKinds(t *testing.T) {
	if KindEval.IsWrite() != true || KindEvalRO.IsWrite() || !KindScriptLoad.IsWrite() {
		t.Fatal("script kinds: EVAL and SCRIPT LOAD write, EVAL_RO reads")
	}
	if needsAll(&Op{Kind: KindEval}) || !needsAll(&Op{Kind: KindMulti, Subs: []Op{{Kind: KindEval}}}) || needsAll(&Op{Kind: KindScriptLoad}) {
		t.Fatal("a script takes its stripes as it goes, except in a MULTI; SCRIPT LOAD takes none")
	}
	s := New(Config{Stripes: 16})
	if r := s.Apply(&Op{Kind: KindEval, Args: [][]byte{[]byte("x")}}); r.Kind != RErr {
		t.Fatalf("script without an engine: %+v", r)
	}
}

func TestScriptRollback(t *testing.T) {
	s := New(Config{Stripes: 16})
	e := &undoEngine{}
	s.SetScripts(e)
	s.Apply(&Op{Kind: KindSet, Key: []byte("a"), Args: [][]byte{[]byte("1")}, At: 2_000_000_000_000, Now: 1})
	s.Apply(&Op{Kind: KindSet, Key: []byte("gone"), Args: [][]byte{[]byte("x")}, Now: 1})
	var args [][]byte
	for i := 0; i < 200; i++ { // a big hash
		args = append(args, []byte{'f', byte(i)}, []byte("v"))
	}
	s.Apply(&Op{Kind: KindHSet, Key: []byte("h"), Args: args, Now: 1})
	before, mem := s.Digest(), s.UsedBytes()
	kv := func(ss ...string) [][]byte {
		out := [][]byte{[]byte("body")}
		for _, x := range ss {
			out = append(out, []byte(x))
		}
		return out
	}
	s.Apply(&Op{Kind: KindEval, N: 1, Args: kv("a", "2", "b", "3"), Now: 2})
	if s.Digest() != before || s.UsedBytes() != mem {
		t.Fatalf("rollback left changes: digest %v, mem %d -> %d", s.Digest() != before, mem, s.UsedBytes())
	}
	if r := s.Read(&Op{Kind: KindTTL, Key: []byte("a"), Flags: Millis | Absolute}); r.Int != 2_000_000_000_000 {
		t.Fatalf("deadline after rollback: %+v", r)
	}
	// Without a rollback the writes stay.
	if r := s.Apply(&Op{Kind: KindEval, Args: kv("a", "2"), Now: 3}); r.Kind != ROK {
		t.Fatalf("script: %+v", r)
	}
	if r := s.Read(&Op{Kind: KindGet, Key: []byte("a")}); r.Str != "2" {
		t.Fatalf("a = %+v", r)
	}
	// A read-only run refuses writes.
	if r := s.Read(&Op{Kind: KindEvalRO, Args: kv("a", "9")}); r.Kind != RErr || r.Err != ErrScriptWrite {
		t.Fatalf("EVAL_RO write: %+v", r)
	}
	s.Apply(&Op{Kind: KindScriptLoad, Args: [][]byte{[]byte("return 1")}})
	if len(e.loaded) != 1 {
		t.Fatalf("SCRIPT LOAD not passed to the engine: %v", e.loaded)
	}
}

// TestScriptRollbackKeys checks that a rollback restores every key a
// script wrote, once, whether the undo records are few (scanned) or many
// (indexed), and whether keys are written again.
func TestScriptRollbackKeys(t *testing.T) {
	for _, tc := range []struct {
		name        string
		keys, times int // distinct keys, writes of each
	}{
		{"one key", 1, 1},
		{"few keys rewritten", 3, 4},
		{"at the scan limit", seenScan, 2},
		{"indexed", 3 * seenScan, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Config{Stripes: 16})
			s.SetScripts(&undoEngine{})
			for i := 0; i < tc.keys; i += 2 { // half the keys exist before
				s.Apply(&Op{Kind: KindSet, Key: []byte{'k', byte(i)}, Args: [][]byte{[]byte("old")}, Now: 1})
			}
			before, mem := s.Digest(), s.UsedBytes()
			args := [][]byte{[]byte("body")}
			for n := 0; n < tc.times; n++ {
				for i := 0; i < tc.keys; i++ {
					args = append(args, []byte{'k', byte(i)}, []byte{'v', byte(n)})
				}
			}
			if r := s.Apply(&Op{Kind: KindEval, N: 1, Args: args, Now: 2}); r.Kind != RErr {
				t.Fatalf("script: %+v", r)
			}
			if s.Digest() != before || s.UsedBytes() != mem {
				t.Fatalf("rollback left changes: digest %v, mem %d -> %d", s.Digest() != before, mem, s.UsedBytes())
			}
			for i := 0; i < tc.keys; i++ {
				r := s.Read(&Op{Kind: KindGet, Key: []byte{'k', byte(i)}})
				if want := i%2 == 0; (r.Kind == RStr) != want || want && r.Str != "old" {
					t.Fatalf("k%d after rollback: %+v", i, r)
				}
			}
		})
	}
}
