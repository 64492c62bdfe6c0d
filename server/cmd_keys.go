package server

import "sessiond/shard"

// Keyspace commands. (Stub.)

func parseDel(_ *client, args [][]byte, _ int64) (shard.Op, error)        { return shard.Op{}, errTODO }
func parseExists(_ *client, args [][]byte, _ int64) (shard.Op, error)     { return shard.Op{}, errTODO }
func parseType(_ *client, args [][]byte, _ int64) (shard.Op, error)       { return shard.Op{}, errTODO }
func parseTouch(_ *client, args [][]byte, _ int64) (shard.Op, error)      { return shard.Op{}, errTODO }
func parseRename(_ *client, args [][]byte, _ int64) (shard.Op, error)     { return shard.Op{}, errTODO }
func parseRenameNX(_ *client, args [][]byte, _ int64) (shard.Op, error)   { return shard.Op{}, errTODO }
func parseExpire(_ *client, args [][]byte, _ int64) (shard.Op, error)     { return shard.Op{}, errTODO }
func parsePExpire(_ *client, args [][]byte, _ int64) (shard.Op, error)    { return shard.Op{}, errTODO }
func parseExpireAt(_ *client, args [][]byte, _ int64) (shard.Op, error)   { return shard.Op{}, errTODO }
func parsePExpireAt(_ *client, args [][]byte, _ int64) (shard.Op, error)  { return shard.Op{}, errTODO }
func parseTTL(_ *client, args [][]byte, _ int64) (shard.Op, error)        { return shard.Op{}, errTODO }
func parsePTTL(_ *client, args [][]byte, _ int64) (shard.Op, error)       { return shard.Op{}, errTODO }
func parseExpireTime(_ *client, args [][]byte, _ int64) (shard.Op, error) { return shard.Op{}, errTODO }
func parsePExpireTime(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{}, errTODO
}
func parsePersist(_ *client, args [][]byte, _ int64) (shard.Op, error)   { return shard.Op{}, errTODO }
func parseScan(_ *client, args [][]byte, _ int64) (shard.Op, error)      { return shard.Op{}, errTODO }
func parseKeys(_ *client, args [][]byte, _ int64) (shard.Op, error)      { return shard.Op{}, errTODO }
func parseRandomKey(_ *client, args [][]byte, _ int64) (shard.Op, error) { return shard.Op{}, errTODO }
func parseDBSize(_ *client, args [][]byte, _ int64) (shard.Op, error)    { return shard.Op{}, errTODO }
func parseFlush(_ *client, args [][]byte, _ int64) (shard.Op, error)     { return shard.Op{}, errTODO }
