package shard

// Lists: to be built (issue 5). These stubs are the hooks ext.go calls.

// execList runs a list op.
func (t *txn) execList(op *Op) Result { return Err(ErrUnknownOp) }

// listKindIsRead reports whether a list kind only reads.
func listKindIsRead(k Kind) bool { return false }

// listMultiKeys returns the keys of a list op that names several (see
// extMultiKeys).
func listMultiKeys(op *Op) ([][]byte, bool) { return nil, false }

// readList reads a list's snapshot encoding.
func (d *snapDecoder) readList(k string) collection {
	d.corrupt("key %q: lists are not supported", k)
	return nil
}
