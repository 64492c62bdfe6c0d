package server

// ZSet commands: to be built (issue 5).

// zsetCommands returns the zset commands for the command table.
func zsetCommands() []*command { return nil }

// zsetDocLines are COMMAND DOCS lines for these commands, in
// commandDocLines's format.
var zsetDocLines []string
