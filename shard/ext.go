package shard

import (
	"bufio"
	"slices"

	"github.com/cespare/xxhash/v2"
)

// Lists, sets, sorted sets and scripts (list.go, set.go, zset.go,
// script.go) plug into the store through the hooks in this file, so that
// each type lives in files of its own.
//
// Op kinds: each type owns a range of numbers. Like every Kind they are
// persisted in the log: never reuse or renumber one.
const (
	kindListFirst   Kind = 120 // lists: 120-149
	kindListLast    Kind = 149
	kindSetFirst    Kind = 150 // sets: 150-179
	kindSetLast     Kind = 179
	kindZSetFirst   Kind = 180 // sorted sets: 180-219
	kindZSetLast    Kind = 219
	kindScriptFirst Kind = 220 // scripts: 220-229
	kindScriptLast  Kind = 229
	kindPubFirst    Kind = 230 // pub/sub through the log: 230-239
	kindPubLast     Kind = 239
	kindKeysFirst   Kind = 240 // more keyspace commands (COPY...): 240-254
	kindKeysLast    Kind = 254
)

// collection is the value of a list, set or sorted set. It lives in a
// *large (entry.big.coll) and, like a big hash's map, is changed in place
// by writes: each write installs a new *large header (edit) sharing the
// collection, unless a snapshot froze the header, in which case edit
// clones the collection first (copy on write). Readers hold the stripe
// lock. Every write installs a new header (never the old one again), so
// that put can account the old size (recorded in the old header) and the
// new one. An empty collection is never stored: the key is deleted
// instead, as Redis does.
type collection interface {
	// size is the accounted bytes of the value beyond its entry: what it
	// adds to the live heap (elements at their allocation size, plus the
	// structure), as cost counts strings and big hashes.
	size() int64
	// clone returns a deep copy that shares nothing mutable with the
	// receiver.
	clone() collection
	// write writes the value's snapshot encoding (after the type,
	// encoding and deadline): a function of the content alone (sets in a
	// sorted order, lists in list order), since DEBUG DIGEST hashes it
	// too. snapDecoder.collection reads it back.
	write(w *bufio.Writer)
	// length is the number of elements (LLEN, SCARD, ZCARD).
	length() int
	// encoding is OBJECT ENCODING's answer ("listpack", "quicklist",
	// "hashtable", "intset", "skiplist").
	encoding() string
}

// collection reads the snapshot encoding of a typ collection (written by
// collection.write) for key k. It returns nil after d.corrupt.
func (d *snapDecoder) collection(k string, typ Type) collection {
	switch typ {
	case TypeList:
		return d.readList(k)
	case TypeSet:
		return d.readSet(k)
	case TypeZSet:
		return d.readZSet(k)
	}
	d.corrupt("key %q: type %d is not a collection", k, typ)
	return nil
}

// execExt runs the kinds of the extension types.
func (t *txn) execExt(op *Op) Result {
	switch k := op.Kind; {
	case k >= kindListFirst && k <= kindListLast:
		return t.execList(op)
	case k >= kindSetFirst && k <= kindSetLast:
		return t.execSet(op)
	case k >= kindZSetFirst && k <= kindZSetLast:
		return t.execZSet(op)
	case k >= kindScriptFirst && k <= kindScriptLast:
		return t.execScript(op)
	case k >= kindPubFirst && k <= kindPubLast:
		return t.execPub(op)
	case k >= kindKeysFirst && k <= kindKeysLast:
		return t.execKeysExt(op)
	}
	return Err(ErrUnknownOp)
}

// extIsRead reports whether an extension kind only reads (Kind.IsWrite).
func extIsRead(k Kind) bool {
	switch {
	case k >= kindListFirst && k <= kindListLast:
		return listKindIsRead(k)
	case k >= kindSetFirst && k <= kindSetLast:
		return setKindIsRead(k)
	case k >= kindZSetFirst && k <= kindZSetLast:
		return zsetKindIsRead(k)
	case k >= kindScriptFirst && k <= kindScriptLast:
		return scriptKindIsRead(k)
	case k >= kindPubFirst && k <= kindPubLast:
		return pubKindIsRead(k)
	case k >= kindKeysFirst && k <= kindKeysLast:
		return keysExtKindIsRead(k)
	}
	return false
}

// extMultiKeys returns, for an extension op that touches more keys than
// op.Key (SMOVE, SINTERSTORE, LMOVE, ZUNIONSTORE, COPY...), every key it
// touches, op.Key included, and true. The store locks their stripes.
func extMultiKeys(op *Op) ([][]byte, bool) {
	switch k := op.Kind; {
	case k >= kindListFirst && k <= kindListLast:
		return listMultiKeys(op)
	case k >= kindSetFirst && k <= kindSetLast:
		return setMultiKeys(op)
	case k >= kindZSetFirst && k <= kindZSetLast:
		return zsetMultiKeys(op)
	case k >= kindScriptFirst && k <= kindScriptLast:
		return scriptMultiKeys(op)
	case k >= kindKeysFirst && k <= kindKeysLast:
		return keysExtMultiKeys(op)
	}
	return nil, false
}

// extNeedsAll reports whether an extension op must hold every stripe.
func extNeedsAll(op *Op) bool {
	if k := op.Kind; k >= kindScriptFirst && k <= kindScriptLast {
		return scriptNeedsAll(op)
	}
	return false
}

// Keyspace events (notify-keyspace-events). Apply reports what each write
// did, on every replica, to the sink SetEventSink installed; the server
// filters them by class and publishes them. Events are reported only
// while EnableEvents is on, so a store nobody listens to builds none.

// EventClass is the class of a keyspace event, as Redis names classes
// in notify-keyspace-events.
type EventClass byte

// Event classes (Redis's letters).
const (
	EventGeneric EventClass = 'g' // DEL, EXPIRE, RENAME, COPY...
	EventString  EventClass = '$'
	EventList    EventClass = 'l'
	EventSet     EventClass = 's'
	EventHash    EventClass = 'h'
	EventZSet    EventClass = 'z'
	EventExpired EventClass = 'x' // a key (or hash field: hexpired) reaped at its deadline
	EventEvicted EventClass = 'e'
	EventNew     EventClass = 'n' // a key was created
	EventKeyMiss EventClass = 'm' // a read found no key (keymiss), reported by the node that read
	// EventRestored: the whole store was replaced from a snapshot
	// (Restore), which reports no per-key events; Key and Name are
	// empty. Not a Redis keyspace event: nothing publishes it.
	EventRestored EventClass = '*'
)

// Event is one keyspace event: Name is Redis's event name ("set", "del",
// "expired", "hset", "lpush"...) and Key the key it happened to.
type Event struct {
	Class EventClass
	Name  string
	Key   string
}

// SetEventSink installs where keyspace events go. sink is called with
// stripes locked, from Apply's goroutine: it must not block or call the
// store. Call it before the store is used.
func (s *Store) SetEventSink(sink func(Event)) { s.sink = sink }

// EnableEvents turns the reporting of keyspace events on or off (it has
// no effect without a sink).
func (s *Store) EnableEvents(on bool) { s.events.Store(on && s.sink != nil) }

// miss counts a read's lookup that found no key and reports Redis's
// keymiss event (class m): for a read, on the node that ran it, since
// reads do not go through the log; for a lookup inside a write (a source
// of SUNIONSTORE, ZRANGESTORE or COPY, a read inside MULTI or a script),
// on every replica as it applies the write, like the write's own events.
func (t *txn) miss(key []byte) {
	t.s.stats.Misses.Add(1)
	if !t.s.events.Load() {
		return
	}
	if t.read {
		t.s.sink(Event{Class: EventKeyMiss, Name: "keymiss", Key: string(key)})
		return
	}
	t.event(EventKeyMiss, "keymiss", key)
}

// readSource counts a write's lookup of a key it reads from (the
// sources of SUNIONSTORE, ZUNIONSTORE, ZRANGESTORE, COPY...) as Redis
// does, which looks them up as reads: a hit (and an access) or a miss.
func (t *txn) readSource(key []byte, e entry, ok bool) {
	if !ok {
		t.miss(key)
		return
	}
	t.s.stats.Hits.Add(1)
	t.access(key, e)
}

// event reports a keyspace event of a write being applied (never of a
// read). It is cheap when events are off.
func (t *txn) event(class EventClass, name string, key []byte) {
	if t.read || !t.s.events.Load() {
		return
	}
	if t.evbuf != nil {
		*t.evbuf = append(*t.evbuf, Event{Class: class, Name: name, Key: string(key)})
		return
	}
	t.s.sink(Event{Class: class, Name: name, Key: string(key)})
}

// hashOrder returns m's keys ordered by xxhash, ties by name: the order
// big hashes, sets and sorted sets keep in their order caches, and that
// their SCAN cursors (a hash to resume at) walk.
func hashOrder[V any](m map[string]V) []hkey {
	o := make([]hkey, 0, len(m))
	for k := range m {
		o = append(o, hkey{h: xxhash.Sum64String(k), f: k})
	}
	slices.SortFunc(o, cmpHkey)
	return o
}

// scanOrder walks o for a SCAN-like call: from the first entry whose
// hash is at least cursor, visiting count entries (more when several
// share the hash where it would stop, so that the next call's cursor, a
// hash, skips none), and returns the cursor to resume at, 0 at the end.
func scanOrder(o *keyOrder, cursor uint64, count int, visit func(f string)) (next uint64) {
	visited := 0
	var prev uint64
	for k := range o.from(cursor) {
		if visited >= count && k.h != prev {
			return k.h
		}
		visited++
		prev = k.h
		visit(k.f)
	}
	return 0
}
