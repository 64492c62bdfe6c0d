package shard

// ZSets: to be built (issue 5). These stubs are the hooks ext.go calls.

// execZSet runs a zset op.
func (t *txn) execZSet(op *Op) Result { return Err(ErrUnknownOp) }

// zsetKindIsRead reports whether a zset kind only reads.
func zsetKindIsRead(k Kind) bool { return false }

// zsetMultiKeys returns the keys of a zset op that names several (see
// extMultiKeys).
func zsetMultiKeys(op *Op) ([][]byte, bool) { return nil, false }

// readZSet reads a zset's snapshot encoding.
func (d *snapDecoder) readZSet(k string) collection {
	d.corrupt("key %q: zsets are not supported", k)
	return nil
}
