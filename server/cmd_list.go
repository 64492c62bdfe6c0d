package server

// List commands: to be built (issue 5).

// listCommands returns the list commands for the command table.
func listCommands() []*command { return nil }

// listDocLines are COMMAND DOCS lines for these commands, in
// commandDocLines's format.
var listDocLines []string
