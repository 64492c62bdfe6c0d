package shard

// Sets: to be built (issue 5). These stubs are the hooks ext.go calls.

// execSet runs a set op.
func (t *txn) execSet(op *Op) Result { return Err(ErrUnknownOp) }

// setKindIsRead reports whether a set kind only reads.
func setKindIsRead(k Kind) bool { return false }

// setMultiKeys returns the keys of a set op that names several (see
// extMultiKeys).
func setMultiKeys(op *Op) ([][]byte, bool) { return nil, false }

// readSet reads a set's snapshot encoding.
func (d *snapDecoder) readSet(k string) collection {
	d.corrupt("key %q: sets are not supported", k)
	return nil
}
