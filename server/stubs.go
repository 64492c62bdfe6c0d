package server

import "errors"

// errTODO answers commands whose handlers are not written yet. Delete this
// file once no stub uses it.
var errTODO = errors.New("ERR not implemented yet")
