package shard

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

// setEngine sets every key in op.Args[1:] (declared or not) to the text
// of op.At, so that a run writes one value to all its keys; then it reads
// them back and answers how many hold it.
type setEngine struct{}

func (setEngine) Run(tx ScriptTx, op *Op) Result {
	v := []byte(strconv.FormatInt(op.At, 10))
	for _, k := range op.Args[1:] {
		if r := tx.Exec(&Op{Kind: KindSet, Key: k, Args: [][]byte{v}}); r.Kind == RErr {
			return r
		}
	}
	var same int64
	for _, k := range op.Args[1:] {
		if r := tx.Exec(&Op{Kind: KindGet, Key: k}); r.Str == string(v) {
			same++
		}
	}
	return Int(same)
}

func (setEngine) Load([]byte) Result { return OK() }

// keysInStripes returns one key per stripe, keys[i] in stripe i.
func keysInStripes(s *Store) [][]byte {
	keys := make([][]byte, len(s.stripes))
	left := len(keys)
	for i := 0; left > 0; i++ {
		k := []byte(fmt.Sprintf("k%d", i))
		if j := s.stripeOf(k); keys[j] == nil {
			keys[j] = k
			left--
		}
	}
	return keys
}

// allFree reports whether every stripe of s is unlocked.
func allFree(s *Store) bool {
	for i := range s.stripes {
		if !s.stripes[i].mu.TryLock() {
			return false
		}
		s.stripes[i].mu.Unlock()
	}
	return true
}

// TestScriptTakesStripesAsItGoes: a script holds only its declared keys'
// stripes at first and takes others as it names them, releasing all at
// the end; one that cannot take a stripe in order (a reader holds it)
// is undone and run again holding every stripe, its keyspace events
// reported once.
func TestScriptTakesStripesAsItGoes(t *testing.T) {
	s := New(Config{Stripes: 16})
	s.SetScripts(setEngine{})
	var mu sync.Mutex
	var events []Event
	s.SetEventSink(func(e Event) {
		if e.Name == "set" {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	})
	s.EnableEvents(true)
	keys := keysInStripes(s)

	// Declared: stripe 9; undeclared: 12 (above: waited for), 3 (below:
	// tried) and 9 again.
	op := &Op{Kind: KindEval, N: 1, At: 7, Now: 1, Args: [][]byte{[]byte("body"), keys[9], keys[12], keys[3], keys[9]}}
	if r := s.Apply(op); r.Kind != RInt || r.Int != 4 {
		t.Fatalf("script: %+v", r)
	}
	if !allFree(s) {
		t.Fatal("a stripe is still locked after the script")
	}
	if n := s.Stats().ScriptReruns.Load(); n != 0 {
		t.Fatalf("reruns = %d with no other locker", n)
	}
	if len(events) != 4 {
		t.Fatalf("events = %v, want 4 set events (one per write)", events)
	}

	// A reader holds stripe 3: the script's try fails, it is undone and
	// waits for every stripe, and finishes once the reader lets go.
	events = nil
	s.stripes[3].mu.Lock()
	done := make(chan Result, 1)
	op = &Op{Kind: KindEval, N: 1, At: 8, Now: 2, Args: [][]byte{[]byte("body"), keys[9], keys[3], keys[12]}}
	go func() { done <- s.Apply(op) }()
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().ScriptReruns.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the script never gave up its first run")
		}
		time.Sleep(time.Millisecond) // polling the counter, bounded
	}
	mu.Lock()
	if len(events) != 0 {
		t.Fatalf("the undone run reported events: %v", events)
	}
	mu.Unlock()
	// The undone run wrote keys[9] before it stopped: it must be back.
	// (The rerun waits at stripe 3, so it holds nothing above it.)
	s.stripes[9].mu.Lock()
	e, ok := s.stripes[9].m[string(keys[9])]
	s.stripes[9].mu.Unlock()
	if !ok || e.s != "7" {
		t.Fatalf("keys[9] after the undone run = %+v, %v; want the value 7 from before", e, ok)
	}
	s.stripes[3].mu.Unlock()
	if r := <-done; r.Kind != RInt || r.Int != 3 {
		t.Fatalf("rerun script: %+v", r)
	}
	if !allFree(s) {
		t.Fatal("a stripe is still locked after the rerun")
	}
	if len(events) != 3 {
		t.Fatalf("events = %v, want 3 set events", events)
	}
	for _, k := range [][]byte{keys[9], keys[3], keys[12]} {
		if r := s.Read(&Op{Kind: KindGet, Key: k}); r.Str != "8" {
			t.Fatalf("%s = %+v", k, r)
		}
	}
}

// TestScriptAtomicUnderReaders runs scripts that write one value to keys
// in several stripes (none declared) while readers MGET them: no reader
// may see two values, and nothing may deadlock.
func TestScriptAtomicUnderReaders(t *testing.T) {
	s := New(Config{Stripes: 16})
	s.SetScripts(setEngine{})
	keys := keysInStripes(s)
	pick := [][]byte{keys[14], keys[2], keys[7], keys[0], keys[11]}
	s.Apply(&Op{Kind: KindEval, At: 0, Now: 1, Args: append([][]byte{[]byte("body")}, pick...)})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Each reader asks for the keys in another order.
				ks := append([][]byte(nil), pick[(r+i)%len(pick):]...)
				ks = append(ks, pick[:(r+i)%len(pick)]...)
				res := s.Read(&Op{Kind: KindMGet, Args: ks})
				for _, v := range res.Vals[1:] {
					if v.S != res.Vals[0].S {
						errs <- fmt.Sprintf("MGET saw %q and %q together", res.Vals[0].S, v.S)
						return
					}
				}
			}
		}()
	}
	for i := 1; i <= 2000; i++ {
		if r := s.Apply(&Op{Kind: KindEval, At: int64(i), Now: 1, Args: append([][]byte{[]byte("body")}, pick...)}); r.Int != int64(len(pick)) {
			t.Fatalf("script %d: %+v", i, r)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case e := <-errs:
		t.Fatal(e)
	default:
	}
	if !allFree(s) {
		t.Fatal("a stripe is still locked")
	}
}

// TestScriptRolledBackReportsNoEvents: a run its engine rolls back (the
// instruction budget ran out) changed nothing, so it reports no event,
// alone or inside a MULTI.
func TestScriptRolledBackReportsNoEvents(t *testing.T) {
	s := New(Config{Stripes: 16})
	s.SetScripts(&undoEngine{})
	var events []Event
	s.SetEventSink(func(e Event) { events = append(events, e) })
	s.EnableEvents(true)
	args := [][]byte{[]byte("body"), []byte("a"), []byte("1")}
	s.Apply(&Op{Kind: KindEval, N: 1, Args: args, Now: 1}) // N = 1: the engine rolls back
	if len(events) != 0 {
		t.Fatalf("rolled-back script reported %v", events)
	}
	// The same inside a MULTI, where the script holds every stripe.
	s.Apply(&Op{Kind: KindMulti, Now: 2, Subs: []Op{{Kind: KindEval, N: 1, Args: args, Now: 2}}})
	if len(events) != 0 {
		t.Fatalf("rolled-back script in a MULTI reported %v", events)
	}
	s.Apply(&Op{Kind: KindEval, Args: args, Now: 3})
	if len(events) == 0 {
		t.Fatal("a script that ran to its end reported no event")
	}
	n := len(events)
	s.Apply(&Op{Kind: KindMulti, Now: 4, Subs: []Op{{Kind: KindEval, Args: args, Now: 4}}})
	if len(events) == n {
		t.Fatal("a script in a MULTI that ran to its end reported no event")
	}
}

// TestScriptEventsBeforeItsStripesAreFree: a script taking stripes as it
// goes reports its held-back events while it still holds them, so another
// writer of one of its keys (in single-node mode Apply runs on many
// goroutines) cannot report its event in between. The sink here plays
// that writer at the moment the script's first event arrives: it may run
// only if the stripe is free, and if it ran, its "del" must come last.
// (Found in review.)
func TestScriptEventsBeforeItsStripesAreFree(t *testing.T) {
	s := New(Config{Stripes: 16})
	s.SetScripts(setEngine{})
	keys := keysInStripes(s)
	var got []string
	interleaved := false
	s.SetEventSink(func(e Event) {
		got = append(got, e.Name+" "+e.Key)
		if !interleaved && e.Key == string(keys[9]) && e.Name == "set" {
			interleaved = true
			if s.stripes[12].mu.TryLock() {
				s.stripes[12].mu.Unlock()
				s.Apply(&Op{Kind: KindDel, Now: 2, Args: [][]byte{keys[12]}})
			}
		}
	})
	s.EnableEvents(true)
	op := &Op{Kind: KindEval, N: 1, At: 7, Now: 1, Args: [][]byte{[]byte("body"), keys[9], keys[12]}}
	if r := s.Apply(op); r.Kind != RInt {
		t.Fatalf("script: %+v", r)
	}
	_, present := s.stripes[12].m[string(keys[12])]
	last := ""
	for _, g := range got {
		if g[len(g)-len(keys[12]):] == string(keys[12]) {
			last = g
		}
	}
	if !present && last != "del "+string(keys[12]) {
		t.Fatalf("key %s is deleted but its last event is %q (events %v)", keys[12], last, got)
	}
	if !interleaved {
		t.Fatal("the script reported no set event for its declared key")
	}
}

// TestScriptRollbackRestoresDelVer: a rolled-back script that deleted a
// key leaves its stripe's record of removed keys (WATCH, snapshots) as it
// was, so a replica that undid and reran a script ends like one that ran
// it once; a script that ran to its end raises it.
func TestScriptRollbackRestoresDelVer(t *testing.T) {
	s := New(Config{Stripes: 16})
	s.SetScripts(&undoEngine{})
	s.Apply(&Op{Kind: KindSet, Key: []byte("gone"), Args: [][]byte{[]byte("v")}, Now: 1})
	st := &s.stripes[s.stripeOf([]byte("gone"))]
	before := st.delVer
	args := [][]byte{[]byte("body"), []byte("a"), []byte("1")}
	s.Apply(&Op{Kind: KindEval, N: 1, Args: args, Now: 2}) // N = 1: the engine rolls back
	if st.delVer != before {
		t.Fatalf("rolled-back script left delVer %d, want %d", st.delVer, before)
	}
	if r := s.Read(&Op{Kind: KindGet, Key: []byte("gone"), Now: 2}); r.Str != "v" {
		t.Fatalf("rolled-back script left gone = %+v", r)
	}
	s.Apply(&Op{Kind: KindEval, Args: args, Now: 3})
	if st.delVer <= before {
		t.Fatalf("a script that deleted a key left delVer %d (was %d)", st.delVer, before)
	}
}
