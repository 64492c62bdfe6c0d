package server

// Server commands. (Stub.)

func cmdInfo(c *client, args [][]byte)     { c.w.err(errTODO) }
func cmdConfig(c *client, args [][]byte)   { c.w.err(errTODO) }
func cmdCommand(c *client, args [][]byte)  { c.w.array(0) }
func cmdClient(c *client, args [][]byte)   { c.w.err(errTODO) }
func cmdTime(c *client, args [][]byte)     { c.w.err(errTODO) }
func cmdLastSave(c *client, args [][]byte) { c.w.err(errTODO) }

// validClientName checks a CLIENT SETNAME / HELLO SETNAME name.
func validClientName(name []byte) error { return nil }
