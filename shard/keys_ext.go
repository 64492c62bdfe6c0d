package shard

// More keyspace commands (COPY...): to be built (issue 5). These stubs are
// the hooks ext.go calls.

// execKeysExt runs a keyspace op of the extension range.
func (t *txn) execKeysExt(op *Op) Result { return Err(ErrUnknownOp) }

// keysExtKindIsRead reports whether such a kind only reads.
func keysExtKindIsRead(k Kind) bool { return false }

// keysExtMultiKeys returns the keys of such an op (see extMultiKeys).
func keysExtMultiKeys(op *Op) ([][]byte, bool) { return nil, false }
