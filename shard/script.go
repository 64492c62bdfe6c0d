package shard

// Scripts (EVAL): to be built (issue 5). These stubs are the hooks ext.go
// calls.

// ScriptEngine runs a script's op inside Apply (SetScripts).
type ScriptEngine interface{}

// SetScripts installs the engine that runs scripts inside Apply. Call it
// before the store is used.
func (s *Store) SetScripts(e ScriptEngine) { s.scripts = e }

// execScript runs a script op.
func (t *txn) execScript(op *Op) Result { return Err(ErrUnknownOp) }

// scriptKindIsRead reports whether a script kind only reads.
func scriptKindIsRead(k Kind) bool { return false }

// scriptMultiKeys returns the keys of a script op (see extMultiKeys).
func scriptMultiKeys(op *Op) ([][]byte, bool) { return nil, false }

// scriptNeedsAll reports whether a script op must hold every stripe.
func scriptNeedsAll(op *Op) bool { return false }
