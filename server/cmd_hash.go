package server

import "sessiond/shard"

// Hash commands. (Stub.)

func parseHSet(_ *client, args [][]byte, _ int64) (shard.Op, error)    { return shard.Op{}, errTODO }
func parseHSetNX(_ *client, args [][]byte, _ int64) (shard.Op, error)  { return shard.Op{}, errTODO }
func parseHMSet(_ *client, args [][]byte, _ int64) (shard.Op, error)   { return shard.Op{}, errTODO }
func parseHGet(_ *client, args [][]byte, _ int64) (shard.Op, error)    { return shard.Op{}, errTODO }
func parseHMGet(_ *client, args [][]byte, _ int64) (shard.Op, error)   { return shard.Op{}, errTODO }
func parseHGetAll(_ *client, args [][]byte, _ int64) (shard.Op, error) { return shard.Op{}, errTODO }
func parseHDel(_ *client, args [][]byte, _ int64) (shard.Op, error)    { return shard.Op{}, errTODO }
func parseHLen(_ *client, args [][]byte, _ int64) (shard.Op, error)    { return shard.Op{}, errTODO }
func parseHExists(_ *client, args [][]byte, _ int64) (shard.Op, error) { return shard.Op{}, errTODO }
func parseHKeys(_ *client, args [][]byte, _ int64) (shard.Op, error)   { return shard.Op{}, errTODO }
func parseHVals(_ *client, args [][]byte, _ int64) (shard.Op, error)   { return shard.Op{}, errTODO }
func parseHIncrBy(_ *client, args [][]byte, _ int64) (shard.Op, error) { return shard.Op{}, errTODO }
func parseHIncrByFloat(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{}, errTODO
}
func parseHStrLen(_ *client, args [][]byte, _ int64) (shard.Op, error)    { return shard.Op{}, errTODO }
func parseHScan(_ *client, args [][]byte, _ int64) (shard.Op, error)      { return shard.Op{}, errTODO }
func parseHRandField(_ *client, args [][]byte, _ int64) (shard.Op, error) { return shard.Op{}, errTODO }
func parseHExpire(_ *client, args [][]byte, _ int64) (shard.Op, error)    { return shard.Op{}, errTODO }
func parseHPExpire(_ *client, args [][]byte, _ int64) (shard.Op, error)   { return shard.Op{}, errTODO }
func parseHExpireAt(_ *client, args [][]byte, _ int64) (shard.Op, error)  { return shard.Op{}, errTODO }
func parseHPExpireAt(_ *client, args [][]byte, _ int64) (shard.Op, error) { return shard.Op{}, errTODO }
func parseHTTL(_ *client, args [][]byte, _ int64) (shard.Op, error)       { return shard.Op{}, errTODO }
func parseHPTTL(_ *client, args [][]byte, _ int64) (shard.Op, error)      { return shard.Op{}, errTODO }
func parseHExpireTime(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{}, errTODO
}
func parseHPExpireTime(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{}, errTODO
}
func parseHPersist(_ *client, args [][]byte, _ int64) (shard.Op, error) { return shard.Op{}, errTODO }
func parseHGetEx(_ *client, args [][]byte, _ int64) (shard.Op, error)   { return shard.Op{}, errTODO }
func parseHSetEx(_ *client, args [][]byte, _ int64) (shard.Op, error)   { return shard.Op{}, errTODO }
func parseHGetDel(_ *client, args [][]byte, _ int64) (shard.Op, error)  { return shard.Op{}, errTODO }
