package replication

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"sessiond/shard"
)

// Log entry format (persisted; see DESIGN.md):
//
//	version:1 (=1)  crc32c:4 (little endian, of everything after it)  type:1  body
//
// type 1 (entryOps):    uvarint n, then n times uvarint len + shard op encoding
// type 2 (entryNode):   uvarint len + node ID, uvarint len + client address
// type 3 (entryShared): uvarint m, then m scripts (uvarint len + SHA1 hex,
// uvarint len + body); uvarint n, then n times uvarint ref + uvarint len +
// shard op encoding. ref 0 is an op as encoded; ref k (1..m) a script op
// encoded without its SHA and body (shard.AppendEncodeNoBody), which are
// the k-th script's.
const (
	entryVersion byte = 1
	entryOps     byte = 1
	entryNode    byte = 2
	entryShared  byte = 3
	entryHeader       = 6 // version, crc, type
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt marks bytes on disk (a log entry or a snapshot) that fail
// their checksum or do not decode.
var ErrCorrupt = errors.New("corrupt replication data")

// sealEntry fills in the header of an entry whose body follows
// entryHeader bytes of room at the start of b.
func sealEntry(b []byte, typ byte) []byte {
	b[0] = entryVersion
	b[5] = typ
	binary.LittleEndian.PutUint32(b[1:5], crc32.Checksum(b[5:], castagnoli))
	return b
}

// openEntry checks an entry's header and checksum and returns its type
// and body.
func openEntry(b []byte) (byte, []byte, error) {
	if len(b) < entryHeader {
		return 0, nil, fmt.Errorf("%w: entry of %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != entryVersion {
		return 0, nil, fmt.Errorf("%w: entry version %d", ErrCorrupt, b[0])
	}
	if crc32.Checksum(b[5:], castagnoli) != binary.LittleEndian.Uint32(b[1:5]) {
		return 0, nil, fmt.Errorf("%w: entry checksum mismatch", ErrCorrupt)
	}
	return b[5], b[6:], nil
}

// encodeNode builds an entry recording a node's client address.
func encodeNode(id, addr string) []byte {
	b := make([]byte, entryHeader, entryHeader+len(id)+len(addr)+4)
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	b = binary.AppendUvarint(b, uint64(len(addr)))
	b = append(b, addr...)
	return sealEntry(b, entryNode)
}

// readBytes reads one uvarint-prefixed byte string from b.
func readBytes(b []byte) ([]byte, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, fmt.Errorf("%w: bad length", ErrCorrupt)
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}

// appendOpsEntry appends the body of an entry holding calls' ops to data
// and returns it with the entry's type: entryOps, or entryShared when
// one of them is a script op, so that each script's body is stored once.
// scripts is scratch space, cleared here.
func appendOpsEntry(data []byte, calls []*call, scripts map[string]uint64) ([]byte, byte) {
	clear(scripts)
	var shared []*call // the first call of each script
	for _, c := range calls {
		if len(c.sha) == 0 {
			continue
		}
		if _, ok := scripts[string(c.sha)]; !ok {
			shared = append(shared, c)
			scripts[string(c.sha)] = uint64(len(shared))
		}
	}
	typ := entryOps
	if len(shared) > 0 {
		typ = entryShared
		data = binary.AppendUvarint(data, uint64(len(shared)))
		for _, c := range shared {
			data = binary.AppendUvarint(data, uint64(len(c.sha)))
			data = append(data, c.sha...)
			data = binary.AppendUvarint(data, uint64(len(c.body)))
			data = append(data, c.body...)
		}
	}
	data = binary.AppendUvarint(data, uint64(len(calls)))
	for _, c := range calls {
		if typ == entryShared {
			var ref uint64
			if len(c.sha) > 0 {
				ref = scripts[string(c.sha)]
			}
			data = binary.AppendUvarint(data, ref)
		}
		data = binary.AppendUvarint(data, uint64(len(c.enc)))
		data = append(data, c.enc...)
	}
	return data, typ
}

// decodeOps calls fn for each encoded op of an entryOps or entryShared
// body (typ). The op passed to fn is reused for the next one; the ops'
// Args come from arena (shard.DecodeArena), returned grown.
func decodeOps(typ byte, body []byte, arena [][]byte, fn func(op *shard.Op)) ([][]byte, error) {
	var shas, bodies [][]byte
	if typ == entryShared {
		m, k := binary.Uvarint(body)
		if k <= 0 || m > uint64(len(body)/2) {
			return arena, fmt.Errorf("%w: bad script count", ErrCorrupt)
		}
		body = body[k:]
		shas, bodies = make([][]byte, m), make([][]byte, m)
		for i := range bodies {
			var err error
			if shas[i], body, err = readBytes(body); err != nil {
				return arena, err
			}
			if bodies[i], body, err = readBytes(body); err != nil {
				return arena, err
			}
		}
	}
	n, k := binary.Uvarint(body)
	if k <= 0 || n > uint64(len(body)) {
		return arena, fmt.Errorf("%w: bad op count", ErrCorrupt)
	}
	body = body[k:]
	var op shard.Op
	for i := uint64(0); i < n; i++ {
		var ref uint64
		if typ == entryShared {
			if ref, k = binary.Uvarint(body); k <= 0 || ref > uint64(len(bodies)) {
				return arena, fmt.Errorf("%w: op %d: bad script reference", ErrCorrupt, i)
			}
			body = body[k:]
		}
		var ob []byte
		var err error
		if ob, body, err = readBytes(body); err != nil {
			return arena, err
		}
		if op, arena, err = shard.DecodeArena(ob, arena); err != nil {
			return arena, fmt.Errorf("%w: op %d: %w", ErrCorrupt, i, err)
		}
		if ref > 0 && !shard.RestoreScript(&op, shas[ref-1], bodies[ref-1]) {
			return arena, fmt.Errorf("%w: op %d: script reference on an op that takes none", ErrCorrupt, i)
		}
		if fn != nil {
			fn(&op)
		}
	}
	if len(body) != 0 {
		return arena, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(body))
	}
	return arena, nil
}

// checkEntry validates a command entry completely (start-up check).
func checkEntry(data []byte) error {
	typ, body, err := openEntry(data)
	if err != nil {
		return err
	}
	switch typ {
	case entryOps, entryShared:
		_, err := decodeOps(typ, body, nil, nil)
		return err
	case entryNode:
		_, _, err := decodeNode(body)
		return err
	}
	return fmt.Errorf("%w: entry type %d", ErrCorrupt, typ)
}

func decodeNode(body []byte) (string, string, error) {
	id, rest, err := readBytes(body)
	if err != nil {
		return "", "", err
	}
	addr, rest, err := readBytes(rest)
	if err != nil {
		return "", "", err
	}
	if len(rest) != 0 {
		return "", "", fmt.Errorf("%w: node entry trailing bytes", ErrCorrupt)
	}
	return string(id), string(addr), nil
}

// fsm applies committed entries to the store. Raft calls Apply, Snapshot
// and Restore from one goroutine; the accessors may be called from any.
// prefetchMinOps is the smallest entry whose keys are prefetched: below
// it the 256 lock and unlock pairs cost more than the overlapped misses
// save.
const prefetchMinOps = 16

type fsm struct {
	store   *shard.Store
	applied atomic.Uint64          // index of the last applied entry
	notify  atomic.Pointer[func()] // called after each applied batch

	mu    sync.RWMutex
	nodes map[string]string // node ID -> client address, replicated

	ops  []shard.Op // decoded ops of the entry being applied (FSM goroutine only)
	args [][]byte   // their Args (shard.DecodeArena), reused entry after entry
}

func newFSM(store *shard.Store) *fsm {
	return &fsm{store: store, nodes: make(map[string]string)}
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) interface{} {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch implements raft.BatchingFSM. An entry that does not decode
// is a bug or corruption that start-up checks missed: the node stops
// rather than diverge from its peers.
func (f *fsm) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	for i, l := range logs {
		if l.Type == raft.LogCommand {
			out[i] = f.applyCommand(l)
		}
		f.applied.Store(l.Index)
	}
	if fn := f.notify.Load(); fn != nil {
		(*fn)()
	}
	return out
}

func (f *fsm) applyCommand(l *raft.Log) interface{} {
	typ, body, err := openEntry(l.Data)
	if err != nil {
		panic(fmt.Sprintf("replication: log entry %d: %v", l.Index, err))
	}
	switch typ {
	case entryOps, entryShared:
		ops := f.ops[:0]
		if f.args == nil {
			f.args = make([][]byte, 0, 256)
		}
		f.args, err = decodeOps(typ, body, f.args[:0], func(op *shard.Op) { ops = append(ops, *op) })
		if err != nil {
			panic(fmt.Sprintf("replication: log entry %d: %v", l.Index, err))
		}
		// Keys first, all at once, then the ops in order: see
		// shard.Store.Prefetch. A short entry is not worth taking every
		// stripe's lock for.
		if len(ops) >= prefetchMinOps {
			f.store.Prefetch(ops)
		}
		res := make([]shard.Result, len(ops))
		for i := range ops {
			res[i] = f.store.Apply(&ops[i])
		}
		clear(ops) // the ops point into l.Data; keep none of it alive
		f.ops = ops[:0]
		clear(f.args)
		f.args = f.args[:0]
		if cap(f.args) > 1<<16 {
			f.args = nil // one huge entry: do not keep its arena
		}
		return res
	case entryNode:
		id, addr, err := decodeNode(body)
		if err != nil {
			panic(fmt.Sprintf("replication: log entry %d: %v", l.Index, err))
		}
		f.mu.Lock()
		f.nodes[id] = addr
		f.mu.Unlock()
		return nil
	}
	panic(fmt.Sprintf("replication: log entry %d: unknown type %d", l.Index, typ))
}

// nodeAddr returns the client address a node recorded in the log.
func (f *fsm) nodeAddr(id string) (string, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	a, ok := f.nodes[id]
	return a, ok
}

// Snapshot implements raft.FSM: it captures the store at this index (raft
// calls it between applies) and leaves the writing to Persist.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	nodes := make(map[string]string, len(f.nodes))
	for k, v := range f.nodes {
		nodes[k] = v
	}
	f.mu.RUnlock()
	return &fsmSnapshot{index: f.applied.Load(), nodes: nodes, store: f.store.Snapshot()}, nil
}

// Snapshot stream format (persisted; see DESIGN.md):
//
//	magic "SESSIONDRAFT" version:1 (=1) uvarint index uvarint n {uvarint len id, uvarint len addr}*n crc32c:4
//
// index is the last log index the snapshot includes.
//
//	then the shard snapshot (which carries its own checksum)
const snapMagic = "SESSIONDRAFT"

type fsmSnapshot struct {
	index uint64
	nodes map[string]string
	store *shard.Snapshot
}

// Persist writes the snapshot; raft runs it concurrently with Apply.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	b := append([]byte(snapMagic), 1)
	ids := make([]string, 0, len(s.nodes))
	for id := range s.nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	b = binary.AppendUvarint(b, s.index)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
		b = binary.AppendUvarint(b, uint64(len(s.nodes[id])))
		b = append(b, s.nodes[id]...)
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	if _, err := bw.Write(b); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if _, err := s.store.WriteTo(bw); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

// Release implements raft.FSMSnapshot.
func (s *fsmSnapshot) Release() {}

// readSnapHeader reads and checks the replication header of a snapshot.
func readSnapHeader(r *bufio.Reader) (uint64, map[string]string, error) {
	var raw bytes.Buffer
	head := make([]byte, len(snapMagic)+1)
	if _, err := io.ReadFull(r, head); err != nil {
		return 0, nil, fmt.Errorf("%w: snapshot header: %w", ErrCorrupt, err)
	}
	if string(head[:len(snapMagic)]) != snapMagic || head[len(snapMagic)] != 1 {
		return 0, nil, fmt.Errorf("%w: not a sessiond snapshot (version %d)", ErrCorrupt, head[len(snapMagic)])
	}
	raw.Write(head)
	tr := io.TeeReader(r, &raw)
	readUvarint := func() (uint64, error) {
		v, err := binary.ReadUvarint(byteReader{tr})
		if err != nil {
			return 0, fmt.Errorf("%w: snapshot header: %w", ErrCorrupt, err)
		}
		return v, nil
	}
	readString := func() (string, error) {
		n, err := readUvarint()
		if err != nil {
			return "", err
		}
		if n > 1<<16 {
			return "", fmt.Errorf("%w: snapshot header: string of %d bytes", ErrCorrupt, n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(tr, b); err != nil {
			return "", fmt.Errorf("%w: snapshot header: %w", ErrCorrupt, err)
		}
		return string(b), nil
	}
	index, err := readUvarint()
	if err != nil {
		return 0, nil, err
	}
	n, err := readUvarint()
	if err != nil {
		return 0, nil, err
	}
	if n > 1<<12 {
		return 0, nil, fmt.Errorf("%w: snapshot header: %d nodes", ErrCorrupt, n)
	}
	nodes := make(map[string]string, n)
	for i := uint64(0); i < n; i++ {
		id, err := readString()
		if err != nil {
			return 0, nil, err
		}
		addr, err := readString()
		if err != nil {
			return 0, nil, err
		}
		nodes[id] = addr
	}
	want := crc32.Checksum(raw.Bytes(), castagnoli)
	var sum [4]byte
	if _, err := io.ReadFull(r, sum[:]); err != nil {
		return 0, nil, fmt.Errorf("%w: snapshot header: %w", ErrCorrupt, err)
	}
	if binary.LittleEndian.Uint32(sum[:]) != want {
		return 0, nil, fmt.Errorf("%w: snapshot header checksum mismatch", ErrCorrupt)
	}
	return index, nodes, nil
}

// byteReader reads one byte at a time from r (the header is tiny).
type byteReader struct{ r io.Reader }

func (b byteReader) ReadByte() (byte, error) {
	var x [1]byte
	_, err := io.ReadFull(b.r, x[:])
	return x[0], err
}

// Restore implements raft.FSM: it builds a new store from the snapshot
// and swaps it in; on error the store is unchanged.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	r := bufio.NewReaderSize(rc, 1<<16)
	index, nodes, err := readSnapHeader(r)
	if err != nil {
		return err
	}
	if err := f.store.Restore(r); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	f.mu.Lock()
	f.nodes = nodes
	f.mu.Unlock()
	f.applied.Store(index)
	return nil
}

// checkSnapshot validates a whole snapshot stream.
func checkSnapshot(rc io.Reader) error {
	r := bufio.NewReaderSize(rc, 1<<16)
	if _, _, err := readSnapHeader(r); err != nil {
		return err
	}
	if err := shard.CheckSnapshot(r); err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return nil
}
