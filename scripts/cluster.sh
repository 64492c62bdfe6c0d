#!/usr/bin/env bash
# cluster.sh starts or stops a local sessiond cluster of NODES nodes
# (default 3, at most 9).
#
#   scripts/cluster.sh start [dir]   # start n1..nN, wait for a leader
#   scripts/cluster.sh stop  [dir]   # stop the nodes started from dir
#   scripts/cluster.sh status [dir]  # show which nodes run and their role
#
# Nodes listen on 127.0.0.1: client ports 7001-700N, Raft ports
# 17001-1700N, node ids n1..nN. Data, logs and pid files live under dir
# (default ./cluster-data): dir/n1/ holds n1's data, dir/n1.log its log,
# dir/n1.pid its process id. The binary is bin/sessiond (SESSIOND_BIN
# overrides it); `make cluster` builds it first. CLUSTER_FLAGS adds flags
# to every node's command line (e.g. "--cluster-enabled yes").
#
# stop signals exactly the processes named by the pid files (and only
# when that pid still runs a sessiond): SIGTERM, then SIGKILL for a node
# still alive after STOP_TIMEOUT seconds. Data is kept; remove dir to
# start afresh.
set -euo pipefail

cmd=${1:-}
dir=${2:-./cluster-data}
bin=${SESSIOND_BIN:-bin/sessiond}
start_timeout=${START_TIMEOUT:-20} # seconds to wait for a leader
stop_timeout=${STOP_TIMEOUT:-10}   # seconds to wait after SIGTERM
nodes=${NODES:-3}
case "$nodes" in
[1-9]) ;;
*)
	echo "cluster.sh: NODES must be 1 to 9, not '$nodes'" >&2
	exit 2
	;;
esac
host=127.0.0.1
ids=()
peers=""
for i in $(seq 1 "$nodes"); do
	ids+=("n$i")
	peers="${peers:+$peers,}n$i=$host:$((17000 + i))"
done
if [ "${1:-}" != start ]; then
	# stop and status act on every node that has a pid file in dir,
	# whatever NODES was when they started.
	found=()
	for f in "$dir"/n[1-9].pid; do
		[ -e "$f" ] && found+=("$(basename "$f" .pid)")
	done
	[ ${#found[@]} -gt 0 ] && ids=("${found[@]}")
fi

usage() {
	echo "usage: $0 start|stop|status [dir]" >&2
	exit 2
}

# client_port and raft_port map a node id (n1..n3) to its ports.
client_port() { echo $((7000 + ${1#n})); }
raft_port() { echo $((17000 + ${1#n})); }

# running_pid prints the pid recorded for node $1 when that process is
# alive and is a sessiond; it prints nothing otherwise.
running_pid() {
	local f="$dir/$1.pid" pid
	[ -f "$f" ] || return 0
	pid=$(tr -dc '0-9' <"$f")
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	# A pid can be reused by an unrelated process after a reboot or a
	# crash: only claim it if it still runs sessiond.
	if [ -r "/proc/$pid/cmdline" ] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q sessiond; then
		return 0
	fi
	echo "$pid"
}

# send sends one command to 127.0.0.1:$1 and prints the reply: with
# redis-cli when installed, else over bash's /dev/tcp (inline command;
# the raw RESP lines).
send() {
	local port=$1
	shift
	if command -v redis-cli >/dev/null 2>&1; then
		timeout 2 redis-cli -h "$host" -p "$port" "$@" 2>/dev/null || true
		return
	fi
	(
		exec 3<>"/dev/tcp/$host/$port" || exit 0
		printf '%s\r\n' "$*" >&3
		local n=0 line
		while [ $n -lt 100 ] && IFS= read -r -t 1 line <&3; do
			printf '%s\n' "${line%$'\r'}"
			n=$((n + 1))
		done
		exec 3<&-
	) 2>/dev/null || true
}

# role prints master, slave or nothing for the node on port $1.
role() {
	local out
	out=$(send "$1" INFO replication)
	case "$out" in
	*role:master*) echo master ;;
	*role:slave*) echo slave ;;
	esac
}

start() {
	[ -x "$bin" ] || {
		echo "cluster.sh: $bin not found; run 'make build' (or 'make cluster')" >&2
		exit 1
	}
	mkdir -p "$dir"
	local id pid port started=0
	for id in "${ids[@]}"; do
		port=$(client_port "$id")
		pid=$(running_pid "$id")
		if [ -n "$pid" ]; then
			echo "$id already running (pid $pid, port $port)"
			continue
		fi
		mkdir -p "$dir/$id"
		nohup "$bin" --node-id "$id" --bind "$host" --port "$port" \
			--raft-port "$(raft_port "$id")" --dir "$dir/$id" --peers "$peers" \
			${CLUSTER_FLAGS:-} >>"$dir/$id.log" 2>&1 </dev/null &
		echo $! >"$dir/$id.pid"
		echo "started $id (pid $!, port $port, log $dir/$id.log)"
		started=$((started + 1))
	done
	local deadline=$((SECONDS + start_timeout)) leader=""
	while [ -z "$leader" ] && [ "$SECONDS" -lt "$deadline" ]; do
		for id in "${ids[@]}"; do
			# The pid was written by this script or checked above; a
			# process just forked may not have exec'd sessiond yet, so
			# only ask whether it is alive.
			if ! kill -0 "$(tr -dc '0-9' <"$dir/$id.pid")" 2>/dev/null; then
				echo "cluster.sh: $id exited; last log lines:" >&2
				tail -n 20 "$dir/$id.log" >&2 2>/dev/null || true
				exit 1
			fi
			if [ "$(role "$(client_port "$id")")" = master ]; then
				leader=$id
				break
			fi
		done
		[ -n "$leader" ] || sleep 0.2 # polling for a leader, bounded by the deadline
	done
	if [ -z "$leader" ]; then
		echo "cluster.sh: no leader after ${start_timeout}s; logs are in $dir/n*.log" >&2
		exit 1
	fi
	echo "leader: $leader (port $(client_port "$leader"))"
	echo "connect: redis-cli -p 7001   (any node accepts writes: 7001 to $((7000 + nodes)))"
	echo "inspect: redis-cli -p 7001 INFO raft"
	echo "stop:    $0 stop $dir"
}

stop() {
	local id pid pids=() deadline
	for id in "${ids[@]}"; do
		pid=$(running_pid "$id")
		if [ -z "$pid" ]; then
			rm -f "$dir/$id.pid"
			continue
		fi
		kill -TERM "$pid" 2>/dev/null || true
		pids+=("$id:$pid")
	done
	if [ ${#pids[@]} -eq 0 ]; then
		echo "no node running under $dir"
		return
	fi
	deadline=$((SECONDS + stop_timeout))
	for entry in "${pids[@]}"; do
		id=${entry%%:*}
		pid=${entry#*:}
		while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
			sleep 0.1 # waiting for the process to exit, bounded by the deadline
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "$id (pid $pid) still alive after ${stop_timeout}s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		else
			echo "stopped $id (pid $pid)"
		fi
		rm -f "$dir/$id.pid"
	done
	echo "data kept in $dir"
}

status() {
	local id pid port
	for id in "${ids[@]}"; do
		port=$(client_port "$id")
		pid=$(running_pid "$id")
		if [ -n "$pid" ]; then
			echo "$id pid $pid port $port role $(role "$port")"
		else
			echo "$id not running"
		fi
	done
}

case "$cmd" in
start) start ;;
stop) stop ;;
status) status ;;
*) usage ;;
esac
