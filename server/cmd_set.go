package server

// Set commands: to be built (issue 5).

// setCommands returns the set commands for the command table.
func setCommands() []*command { return nil }

// setDocLines are COMMAND DOCS lines for these commands, in
// commandDocLines's format.
var setDocLines []string
