package server

// ZSet commands: to be built (issue 5).

// zsetCommands returns the zset commands for the command table.
func zsetCommands() []*command { return nil }
