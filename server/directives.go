package server

import "fmt"

// Config directives. (Stub: the directive table — redis.conf names for
// the config file, flags and CONFIG GET/SET — is implemented by the
// server-commands work.)

func (c *Config) validate() error { return nil }

// LoadConfig builds a Config from command-line arguments in redis-server's
// form: an optional config file path first, then "--directive value..."
// pairs that override it.
func LoadConfig(args []string) (Config, error) {
	c := DefaultConfig()
	for i := 0; i+1 < len(args); i += 2 {
		switch args[i] {
		case "--port":
			fmt.Sscan(args[i+1], &c.Port)
		case "--bind":
			c.Bind = args[i+1]
		case "--dir":
			c.Dir = args[i+1]
		}
	}
	return c, nil
}
