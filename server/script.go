package server

// Scripting (EVAL, EVALSHA, SCRIPT): to be built (issue 5).

// scriptCommands returns the scripting commands for the command table.
func scriptCommands() []*command { return nil }

// scriptDocLines are COMMAND DOCS lines for these commands, in
// commandDocLines's format.
var scriptDocLines []string
