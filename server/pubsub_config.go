package server

import (
	"errors"
	"strings"
)

// client-output-buffer-limit: Redis's three classes, of which sessiond
// enforces the pubsub one (its other connections write their replies as
// they produce them and hold no unbounded output).

// Client classes of client-output-buffer-limit, in CONFIG GET's order.
const (
	classNormal = iota
	classReplica
	classPubSub
	numClasses
)

// classNames are CONFIG GET's names of the classes.
var classNames = [numClasses]string{"normal", "slave", "pubsub"}

// outputLimits is client-output-buffer-limit. Its zero value means
// Redis's defaults (set marks a value that differs from them).
type outputLimits struct {
	set    bool
	limits [numClasses]bufferLimit
}

// defaultOutputLimits are Redis's defaults: "normal 0 0 0 slave
// 268435456 67108864 60 pubsub 33554432 8388608 60".
var defaultOutputLimits = [numClasses]bufferLimit{
	{},
	{Hard: 256 << 20, Soft: 64 << 20, SoftSeconds: 60},
	{Hard: 32 << 20, Soft: 8 << 20, SoftSeconds: 60},
}

// class returns one class's limit.
func (o outputLimits) class(i int) bufferLimit {
	if !o.set {
		return defaultOutputLimits[i]
	}
	return o.limits[i]
}

// String is CONFIG GET's form.
func (o outputLimits) String() string {
	parts := make([]string, 0, numClasses)
	for i := range numClasses {
		parts = append(parts, classNames[i]+" "+o.class(i).String())
	}
	return strings.Join(parts, " ")
}

// Redis's messages for a bad client-output-buffer-limit.
var (
	errLimitArgs  = errors.New("Wrong number of arguments in buffer limit configuration.")
	errLimitClass = errors.New("Invalid client class specified in buffer limit configuration.")
	errLimitValue = errors.New("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
)

// parse applies "class hard soft seconds" groups (args, already split)
// to o, changing nothing on error. Classes not named keep their value.
func (o *outputLimits) parse(args []string) error {
	if len(args)%4 != 0 {
		return errLimitArgs
	}
	next := *o
	if !next.set {
		next.limits, next.set = defaultOutputLimits, true
	}
	for i := 0; i < len(args); i += 4 {
		var class int
		switch strings.ToLower(args[i]) {
		case "normal":
			class = classNormal
		case "slave", "replica":
			class = classReplica
		case "pubsub":
			class = classPubSub
		default:
			return errLimitClass
		}
		hard, err1 := parseMemory(args[i+1])
		soft, err2 := parseMemory(args[i+2])
		secs, ok := parseStrictInt(args[i+3])
		if err1 != nil || err2 != nil || !ok || hard < 0 || soft < 0 || secs < 0 {
			return errLimitValue
		}
		next.limits[class] = bufferLimit{Hard: hard, Soft: soft, SoftSeconds: secs}
	}
	// Values equal to the defaults are the zero value, so that two
	// configurations that say the same compare equal.
	if next.limits == defaultOutputLimits {
		next = outputLimits{}
	}
	*o = next
	return nil
}
