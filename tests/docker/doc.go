// Package docker tests sessiond's container packaging: the FROM scratch
// Dockerfile and the three-node docker-compose.yml at the top of the
// repository.
//
// TestComposePartition builds a static binary and an image of its own
// (a unique tag, removed afterwards), starts docker-compose.yml under a
// unique project name on a free /24 subnet without host ports, and then
// partitions the Raft leader away with `docker network disconnect`. The
// isolated node must not acknowledge a write, the majority must elect a
// leader and take writes, and after `docker network connect` (same IP)
// every node must serve every acknowledged key and agree on DEBUG
// DIGEST. The test reaches the nodes from the host over a second,
// internal network that it creates, so that the isolated node can still
// be asked for a write while its Raft traffic is cut.
//
// It needs a Docker engine and docker-compose (v1) on Linux, where the
// host can reach container addresses; otherwise, and under -short, it is
// skipped with a message that says why. Everything it creates
// (containers, volumes, networks, the image) is removed when it ends,
// also on failure.
package docker
