package shard

import "errors"

// Sentinel errors. Their text is exactly the error line Redis sends
// (without the leading '-'), so the server can write err.Error() as is.
var (
	ErrWrongType      = errors.New("WRONGTYPE Operation against a key holding the wrong kind of value")
	ErrNotInteger     = errors.New("ERR value is not an integer or out of range")
	ErrNotFloat       = errors.New("ERR value is not a valid float")
	ErrOverflow       = errors.New("ERR increment or decrement would overflow")
	ErrNaN            = errors.New("ERR increment would produce NaN or Infinity")
	ErrNoSuchKey      = errors.New("ERR no such key")
	ErrHashNotInteger = errors.New("ERR hash value is not an integer")
	ErrHashNotFloat   = errors.New("ERR hash value is not a float")
	ErrStringTooLong  = errors.New("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	ErrOffsetRange    = errors.New("ERR offset is out of range")
	ErrOOM            = errors.New("OOM command not allowed when used memory > 'maxmemory'.")
	ErrUnknownOp      = errors.New("ERR unknown operation")
)
