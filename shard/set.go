package shard

import "bytes"

// Set operations (Redis 7 semantics). The value is in set_value.go; the
// operations are here and in set_ops.go.
//
// Every member list a set op returns comes in the set's order (see
// setData.members), never Go map order, so replicas agree.

// Set op kinds. Persisted: never renumber or reuse (range 150-179).
const (
	KindSAdd        Kind = 150 // Key, Args = members
	KindSRem        Kind = 151 // Key, Args = members
	KindSMembers    Kind = 152 // Key
	KindSIsMember   Kind = 153 // Key, Args[0] = member
	KindSMIsMember  Kind = 154 // Key, Args = members
	KindSCard       Kind = 155 // Key
	KindSPop        Kind = 156 // Key; At = random seed; HasCount: N = count (>= 0)
	KindSRandMember Kind = 157 // Key; At = random seed; HasCount: N = count (< 0: may repeat)
	KindSScan       Kind = 158 // Key, N = cursor, At = count; Match: Args[0]
	KindSInter      Kind = 159 // Key = Args[0], Args = keys
	KindSUnion      Kind = 160 // Key = Args[0], Args = keys
	KindSDiff       Kind = 161 // Key = Args[0], Args = keys
	KindSInterStore Kind = 162 // Key = destination, Args = keys
	KindSUnionStore Kind = 163 // Key = destination, Args = keys
	KindSDiffStore  Kind = 164 // Key = destination, Args = keys
	KindSInterCard  Kind = 165 // Key = Args[0], Args = keys; N = limit (0: none)
	KindSMove       Kind = 166 // Key = source, Args[0] = destination, Args[1] = member
)

// execSet runs a set op.
func (t *txn) execSet(op *Op) Result {
	switch op.Kind {
	case KindSAdd:
		return t.sadd(op)
	case KindSRem:
		return t.srem(op)
	case KindSMembers:
		return t.smembers(op)
	case KindSIsMember:
		return t.sismember(op)
	case KindSMIsMember:
		return t.smismember(op)
	case KindSCard:
		return t.scard(op)
	case KindSPop:
		return t.spop(op)
	case KindSRandMember:
		return t.srandMember(op)
	case KindSScan:
		return t.sscan(op)
	case KindSInter, KindSUnion, KindSDiff:
		return t.setAlgebra(op)
	case KindSInterStore, KindSUnionStore, KindSDiffStore:
		return t.setAlgebraStore(op)
	case KindSInterCard:
		return t.sinterCard(op)
	case KindSMove:
		return t.smove(op)
	}
	return Err(ErrUnknownOp)
}

// setKindIsRead reports whether a set kind only reads.
func setKindIsRead(k Kind) bool {
	switch k {
	case KindSMembers, KindSIsMember, KindSMIsMember, KindSCard, KindSRandMember,
		KindSScan, KindSInter, KindSUnion, KindSDiff, KindSInterCard:
		return true
	}
	return false
}

// setMultiKeys returns the keys of a set op that names several (see
// extMultiKeys): the set algebra ops and SMOVE.
func setMultiKeys(op *Op) ([][]byte, bool) {
	switch op.Kind {
	case KindSInter, KindSUnion, KindSDiff, KindSInterCard:
		if len(op.Args) == 1 && bytes.Equal(op.Args[0], op.Key) {
			return nil, false
		}
		return append([][]byte{op.Key}, op.Args...), true
	case KindSInterStore, KindSUnionStore, KindSDiffStore:
		return append([][]byte{op.Key}, op.Args...), true
	case KindSMove:
		if len(op.Args) > 0 {
			return [][]byte{op.Key, op.Args[0]}, true
		}
	}
	return nil, false
}
