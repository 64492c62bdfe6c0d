// Package script runs Redis Lua scripts (EVAL, EVALSHA, SCRIPT LOAD) on
// gopher-lua, the only package that imports it.
//
// An Engine holds the compiled scripts, by the SHA1 of their body, and a
// pool of Lua states. Run executes one script: its redis.call and
// redis.pcall go to a Host (the server, which parses each command into a
// store op and runs it inside the same Apply), and its return value comes
// back as a Reply, converted from Lua as Redis 7 converts it.
//
// # Determinism
//
// A script that writes runs inside Apply on every replica, so the same
// script, keys, arguments and data must give the same result everywhere:
//
//   - math.random and math.randomseed use Redis's own generator (the
//     48-bit drand48 recurrence), reseeded with 0 before every run, so a
//     script sees the same sequence on every node and on every run, as in
//     Redis.
//   - There is no os, io, debug, package, require, dofile, loadfile,
//     print, setfenv, getfenv, coroutine or newproxy: no clock, no files,
//     no environment.
//   - Globals are read-only (writing one, even with rawset, raises
//     "Attempt to modify a readonly table"; reading an unknown one raises
//     "Script attempted to access nonexistent global variable"), and so
//     are the library tables and the string metatable, so one run cannot
//     leave state behind for the next one on the same pooled Lua state.
//   - Runaway scripts are stopped by an instruction budget, not a clock:
//     every VM instruction counts one, every redis.call one plus one per
//     64 bytes of its reply. A script that exhausts its budget stops at
//     the same instruction on every replica (Run returns ErrBudget).
//   - Map replies ({map=...}, {set=...}) list a table's keys in
//     gopher-lua's order, which is deterministic (insertion order) but
//     not Redis's (C Lua's hash order).
//
// cjson, cmsgpack, bit and struct are not provided.
package script
