#!/bin/bash
# mcluster.sh - a throwaway MULTI-NODE Slurm cluster on one machine, for
# tests (Debian 12, Slurm 22.05, root, no systemd). Each compute node is its
# own network namespace (a veth on a bridge of the host), UTS namespace (its
# own hostname) and mount namespace (empty private tmpfs over /tmp,
# /var/tmp, /root, /home and /dev/shm; an /etc/hosts naming every node and
# the host), running its own slurmd. slurmctld and munged run on the host,
# which plays the login node. Everything lives in one state folder DIR.
#
#   mcluster.sh start DIR [--plugstack FILE] [--share PATH]... [--user NAME]...
#                         [--timeout SECONDS]
#       Starts munged, slurmctld, the nodes and their slurmds, waits until
#       every node is idle and writes DIR/env.sh (source it: exports
#       SLURM_CONF and PM_*). FILE is included from DIR/plugstack.conf, as
#       are DIR/plugstack.conf.d/*.conf. DIR itself and every --share PATH
#       (an existing folder) are bind-mounted back into every node at the
#       same path, so they are shared by all nodes (jobs need a working
#       folder every node has); everything else under the private folders
#       is the node's own. Each --user gets an empty home on every node
#       (owned by the user), so ~ is node-local, as on clusters without
#       shared homes.
#   mcluster.sh stop DIR [--rm]
#       Cancels all jobs, stops the slurmds by their PID files, kills (and
#       names, as a warning) every process still running on a node, deletes
#       the namespaces and interfaces recorded in DIR/created, stops
#       slurmctld and munged. Exit 0 only if nothing is left. Safe after a
#       partial start and when called twice; --rm then removes DIR. (The
#       state folder of the cluster that uses a set of prefixes is named in
#       /run/parade-mcluster.PREFIXES, so that a start can name, or clean up,
#       one that a killed run left.)
#   mcluster.sh node DIR NODE CMD...   runs CMD as root on NODE (its
#       namespaces, cwd /, SLURM_CONF set).
#   mcluster.sh procs DIR [NODE...]    lists "NODE PID COMM ARGS" for every
#       process on the nodes other than their slurmd (slurmstepd, tasks,
#       agents, leftovers); exit 1 if it listed any, 0 if the nodes are clean.
#   mcluster.sh crash DIR NODE         kills NODE's slurmd and everything on
#       the node with SIGKILL, as if the machine died (its namespaces stay).
#   mcluster.sh revive DIR NODE        starts NODE's slurmd again and waits
#       until the node is idle (resuming it if Slurm marked it down).
#   mcluster.sh wait-idle DIR [SECONDS]  waits until every node is idle.
#   mcluster.sh status DIR             prints sinfo, squeue and procs.
#
# Knobs (environment, read by start and saved in DIR/settings.env; the
# defaults stay clear of the shared lab (10.233.0, 6937/6938, mn-/pn) and of
# the single-node suite (random ports)):
#   PM_NODES=3  PM_CPUS=4  PM_MEM=1024 (MiB)  PM_NET=10.240.0 (host .1,
#   node I .(10+I))  PM_CTLD_PORT=7137  PM_SLURMD_PORT=7138
#   PM_NS_PREFIX=psm- (netns psm-pm1)  PM_IF_PREFIX=psm (bridge psmbr0,
#   veths psmv-pm1)  PM_NODE_PREFIX=pm (nodes pm1..pmN)
#   PM_SLURMD_TIMEOUT=10 (seconds until a silent node is marked down)
# Differences from a real cluster: one kernel and one PID namespace (ps on
# the host sees every node's processes), /proc, /sys, /run, /usr and /etc
# (but /etc/hosts) are shared.
set -u

prog=mcluster.sh
here=$(cd "$(dirname "$0")" && pwd)
self=$here/$(basename "$0")
# shellcheck disable=SC2034 # read by common.sh (install_packages)
PACKAGES="slurmctld slurmd slurm-client munge libslurm-dev iproute2"
PRIVATE="/tmp /var/tmp /root /home /dev/shm"

# shellcheck source=common.sh
. "$here/common.sh"

usage() {
	sed -n '2,49s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

set_dir() {
	[ -n "${1:-}" ] || usage
	case $1 in
	/*) dir=$1 ;;
	*) dir=$(pwd)/$1 ;;
	esac
	dir=${dir%/}
	[ -n "$dir" ] || die "refusing to use / as the state folder"
	case $dir in
	*[[:space:]\'\"\\\$\`]*) die "the state folder path must not contain blanks or quotes: $dir" ;;
	esac
	conf=$dir/slurm.conf
}

# load_settings: the knobs of the cluster in $dir (start saved them).
load_settings() {
	[ -f "$dir/settings.env" ] || die "no cluster in $dir (no settings.env)"
	# shellcheck source=/dev/null
	. "$dir/settings.env"
	nodes_of
}

# nodes_of: NODES gets the node names.
nodes_of() {
	local i
	NODES=()
	for ((i = 1; i <= PM_NODES; i++)); do
		NODES+=("$PM_NODE_PREFIX$i")
	done
}

node_ns() { echo "$PM_NS_PREFIX$1"; }
node_veth() { echo "${PM_IF_PREFIX}v-$1"; }
node_ip() { echo "$PM_NET.$((10 + ${1#"$PM_NODE_PREFIX"}))"; }
bridge() { echo "${PM_IF_PREFIX}br0"; }

# holder_pid NODE: the PID of the process that holds NODE's namespaces
# (checked: alive and in the node's network namespace), or fails.
holder_pid() {
	local pid
	pid=$(read_pidfile "$dir/run/holder-$1.pid") || return 1
	pid_ours "$pid" || return 1
	[ -e "/run/netns/$(node_ns "$1")" ] || return 1
	[ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" = \
		"$(stat -L -c %i "/run/netns/$(node_ns "$1")" 2>/dev/null)" ] || return 1
	echo "$pid"
}

# on_node NODE CMD...: CMD in NODE's namespaces, cwd /.
on_node() {
	local node=$1 pid
	shift
	pid=$(holder_pid "$node") || die "node $node of $dir is not running"
	nsenter -t "$pid" -n -u -m --wd=/ -- env SLURM_CONF="$conf" "$@"
}

# ns_pids NS: the PIDs in network namespace NS (empty if it is gone).
ns_pids() {
	[ -e "/run/netns/$1" ] || return 0
	ip netns pids "$1" 2>/dev/null
}

# ------------------------------------------------------------------ config

write_conf() {
	local node_lines="" n host
	host=$(hostname -s)
	for n in "${NODES[@]}"; do
		node_lines+="NodeName=$n NodeAddr=$(node_ip "$n") NodeHostname=$n CPUs=$PM_CPUS Boards=1 SocketsPerBoard=1 CoresPerSocket=$PM_CPUS ThreadsPerCore=1 RealMemory=$PM_MEM State=UNKNOWN"$'\n'
	done
	cat >"$conf" <<EOF
# Written by $prog for a throwaway multi-node test cluster; do not edit.
ClusterName=parademulti
SlurmctldHost=$host($PM_NET.1)
SlurmctldPort=$PM_CTLD_PORT
SlurmdPort=$PM_SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
# %n is the node's name (slurmd -N): one spool, PID and log file per node
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
SlurmctldDebug=${PARADE_SLURM_DEBUG:-info}
SlurmdDebug=${PARADE_SLURM_DEBUG:-info}
PlugStackConfig=$dir/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=2
MinJobAge=30
InactiveLimit=0
MessageTimeout=10
SlurmdTimeout=$PM_SLURMD_TIMEOUT
MailProg=/bin/true
# With an Epilog, slurmd reports each job's end and slurmctld schedules at
# once; without one, pending jobs wait for its 1 s background tick.
Epilog=/bin/true
${node_lines}PartitionName=debug Nodes=${PM_NODE_PREFIX}[1-$PM_NODES] Default=YES MaxTime=INFINITE State=UP
EOF
	chmod 0644 "$conf"
	{
		echo "127.0.0.1 localhost"
		echo "$PM_NET.1 $host"
		for n in "${NODES[@]}"; do
			echo "$(node_ip "$n") $n"
		done
	} >"$dir/hosts"
	chmod 0644 "$dir/hosts"
}

save_settings() {
	local v
	{
		echo "# Written by $prog start: the layout of the cluster in $dir."
		for v in PM_NODES PM_CPUS PM_MEM PM_NET PM_CTLD_PORT PM_SLURMD_PORT \
			PM_NS_PREFIX PM_IF_PREFIX PM_NODE_PREFIX PM_SLURMD_TIMEOUT; do
			printf "%s='%s'\n" "$v" "${!v}"
		done
		printf "PM_SHARES='%s'\n" "$shares"
		printf "PM_USERS='%s'\n" "$users"
	} >"$dir/settings.env"
	chmod 0644 "$dir/settings.env"
}

check_knobs() {
	case $PM_NODES in [1-9] | [1-9][0-9]) ;; *) die "PM_NODES must be 1..99, not '$PM_NODES'" ;; esac
	case $PM_CPUS in '' | *[!0-9]* | 0*) die "PM_CPUS must be a positive number, not '$PM_CPUS'" ;; esac
	case $PM_MEM in '' | *[!0-9]* | 0*) die "PM_MEM must be a positive number, not '$PM_MEM'" ;; esac
	case $PM_SLURMD_TIMEOUT in '' | *[!0-9]* | 0*) die "PM_SLURMD_TIMEOUT must be a positive number" ;; esac
	[[ $PM_NET =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "PM_NET must be three octets (10.240.0), not '$PM_NET'"
	[[ $PM_IF_PREFIX =~ ^[a-z0-9]{1,6}$ ]] || die "PM_IF_PREFIX: 1 to 6 of [a-z0-9] (interface names have at most 15 characters)"
	[[ $PM_NS_PREFIX =~ ^[A-Za-z0-9_.-]{1,20}$ ]] || die "PM_NS_PREFIX: 1 to 20 of [A-Za-z0-9_.-]"
	[[ $PM_NODE_PREFIX =~ ^[a-z][a-z0-9-]{0,10}$ ]] || die "PM_NODE_PREFIX: a lower-case letter, then up to 10 of [a-z0-9-]"
	case $PM_CTLD_PORT$PM_SLURMD_PORT in *[!0-9]*) die "the ports must be numbers" ;; esac
}

# ------------------------------------------------------------------ nodes

# node_init NODE (run by start, as the node's first process, inside its new
# network, UTS and mount namespaces): makes the node look like a machine of
# its own, then becomes the holder that keeps the namespaces alive.
node_init() {
	local node=$1 m d mode s rel u h g
	# shellcheck source=/dev/null
	. "$dir/settings.env"
	hostname "$node" || return 1
	mount --make-rprivate / || return 1
	m=$dir/spool/mnt-$node
	mkdir -p "$m" || return 1
	for d in $PRIVATE; do
		[ -d "$d" ] || continue
		mode=$(stat -c %a "$d")
		mount -t tmpfs -o "mode=$mode,size=1g" "pm-$node" "$m" || return 1
		# the shared folders below d come back at the same path
		for s in $PM_SHARES; do
			case $s/ in
			"$d"/?*)
				rel=${s#"$d"/}
				mkdir -p "$m/$rel" && mount --bind "$s" "$m/$rel" || return 1
				;;
			esac
		done
		mount --move "$m" "$d" || return 1
	done
	# an empty home of each user's own on this node
	for u in $PM_USERS; do
		h=$(getent passwd "$u" | cut -d: -f6)
		g=$(id -g "$u")
		case $h in /home/?* | /root/?* | /tmp/?* | /var/tmp/?*) ;; *) continue ;; esac
		[ -d "$h" ] && continue
		mkdir -p "$h" && chown "$u:$g" "$h" && chmod 0755 "$h" || return 1
	done
	mount --bind "$dir/hosts" /etc/hosts || return 1
	echo $$ >"$dir/run/holder-$node.pid"
	touch "$dir/run/ready-$node"
	# the argv names $dir, so that pid_ours knows it
	exec </dev/null >/dev/null 2>&1
	exec -a "$dir/holder-$node" sleep infinity
}

# record KIND NAME: notes an object right after it was made; stop deletes
# only what is recorded.
record() { echo "$1 $2" >>"$dir/created"; }

# owner_file: names the state folder of the cluster whose namespaces and
# interfaces carry these prefixes, so that the next start can clean up
# after a run that was killed before it could stop its cluster.
owner_file() { echo "/run/parade-mcluster.$PM_NS_PREFIX$PM_IF_PREFIX"; }

# reclaim: if a cluster of these prefixes was left half-stopped (its state
# folder still lists what it made, its slurmctld is gone), stops the rest
# through its own state folder; refuses to touch one whose slurmctld runs
# (tests/slurm/multi/run.sh, which holds a lock, stops such a one itself).
reclaim() {
	local old
	read -r old 2>/dev/null <"$(owner_file)" || return 0
	[ "$old" != "$dir" ] || return 0
	if [ -f "$old/settings.env" ] && [ -s "$old/created" ]; then
		if (dir=$old && pid_ours "$(read_pidfile "$old/run/slurmctld.pid")"); then
			die "the cluster in $old uses the same prefixes ($PM_NS_PREFIX, $PM_IF_PREFIX) and its slurmctld runs: stop it ($prog stop $old) or set PM_NS_PREFIX and PM_IF_PREFIX"
		fi
		say "warning: cleaning up what the cluster in $old left (its slurmctld is gone)"
		"$self" stop "$old" >&2 || die "could not clean up the cluster left in $old"
	fi
	rm -f "$(owner_file)"
}

start_nodes() {
	local n ns veth br
	br=$(bridge)
	ip link show "$br" >/dev/null 2>&1 && start_failed "interface $br exists (not this cluster's): set PM_IF_PREFIX"
	for n in "${NODES[@]}"; do
		[ -e "/run/netns/$(node_ns "$n")" ] &&
			start_failed "network namespace $(node_ns "$n") exists (not this cluster's: a cluster that was not stopped? 'ip netns pids $(node_ns "$n")' shows who uses it; 'ip netns del $(node_ns "$n")' removes it), or set PM_NS_PREFIX"
		ip link show "$(node_veth "$n")" >/dev/null 2>&1 &&
			start_failed "interface $(node_veth "$n") exists (not this cluster's): set PM_IF_PREFIX"
	done
	if [ -n "$(ip -4 route show "$PM_NET.0/24" 2>/dev/null)" ] ||
		ip -4 -o addr show | grep -qF " $PM_NET."; then
		start_failed "$PM_NET.0/24 is in use on this machine: set PM_NET"
	fi
	ip link add "$br" type bridge || start_failed "cannot create bridge $br"
	record link "$br"
	echo "$dir" >"$(owner_file)"
	ip addr add "$PM_NET.1/24" dev "$br" && ip link set "$br" up ||
		start_failed "cannot bring up $br with $PM_NET.1/24"
	for n in "${NODES[@]}"; do
		ns=$(node_ns "$n")
		veth=$(node_veth "$n")
		ip netns add "$ns" || start_failed "cannot create network namespace $ns"
		record netns "$ns"
		ip link add "$veth" type veth peer name eth0 netns "$ns" ||
			start_failed "cannot create $veth"
		record link "$veth"
		ip link set "$veth" master "$br" up &&
			ip -n "$ns" addr add "$(node_ip "$n")/24" dev eth0 &&
			ip -n "$ns" link set eth0 up &&
			ip -n "$ns" link set lo up ||
			start_failed "cannot set up the network of $n"
		rm -f "$dir/run/ready-$n"
		# nsenter --net, not 'ip netns exec': that remounts /sys, which
		# hides /sys/fs/cgroup, and slurmd 22.05 then will not start
		setsid nsenter --net="/run/netns/$ns" unshare --uts --mount --propagation private -- \
			"$self" _node "$dir" "$n" </dev/null >"$dir/log/node-$n.out" 2>&1 &
	done
	for n in "${NODES[@]}"; do
		until [ -e "$dir/run/ready-$n" ]; do
			[ "$(now_ms)" -lt "$deadline" ] ||
				start_failed "node $n not set up after ${timeout}s: $(tail -n 3 "$dir/log/node-$n.out" 2>/dev/null)"
			sleep 0.02
		done
		holder_pid "$n" >/dev/null || start_failed "node $n has no holder in $(node_ns "$n")"
	done
}

start_slurmd() {
	local n=$1 pid
	pid=$(holder_pid "$n") || start_failed "node $n is not running"
	rm -f "$dir/run/slurmd-$n.pid"
	# a clean environment: revive may run from a test's shell
	nsenter -t "$pid" -n -u -m --wd=/ -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		slurmd -D -N "$n" -f "$conf" </dev/null >"$dir/log/slurmd-$n.out" 2>&1 &
}

# nodes_idle [NODE]: true when every node (or NODE) is idle; resumes nodes
# that Slurm marked down or drained (ReturnToService covers most cases).
nodes_idle() {
	local node st bad=0 count=0
	while read -r node st; do
		count=$((count + 1))
		[ -z "${1:-}" ] || [ "$node" = "$1" ] || continue
		case $st in
		idle) ;;
		*drain* | down* | fail* | inval*)
			SLURM_CONF=$conf timeout 10 scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1
			bad=1
			;;
		*) bad=1 ;;
		esac
	done < <(SLURM_CONF=$conf timeout 10 sinfo -h -N -o '%N %t' 2>/dev/null)
	[ "$bad" -eq 0 ] && [ "$count" -eq "${#NODES[@]}" ]
}

start_failed() {
	local n
	say "error: $*"
	tail_log "$dir/munge/munged.out" "$dir/log/slurmctld.out"
	for n in "${NODES[@]}"; do
		tail_log "$dir/log/node-$n.out" "$dir/log/slurmd-$n.out"
	done
	say "stopping what was started"
	do_stop >/dev/null 2>&1
	exit 1
}

do_start() {
	local plugstack="" n t0 pid
	timeout=30
	shares=$dir
	users=""
	while [ $# -gt 0 ]; do
		case $1 in
		--plugstack)
			[ $# -ge 2 ] || usage
			plugstack=$2
			shift
			;;
		--share)
			[ $# -ge 2 ] || usage
			case $2 in /*) ;; *) die "--share wants an absolute path, not $2" ;; esac
			[ -d "$2" ] || die "--share $2: no such folder"
			case $2 in *[[:space:]\'\"\\\$\`]*) die "--share $2: no blanks or quotes, please" ;; esac
			shares="$shares ${2%/}"
			shift
			;;
		--user)
			[ $# -ge 2 ] || usage
			id -u "$2" >/dev/null 2>&1 || die "--user $2: no such user"
			users="$users $2"
			shift
			;;
		--timeout)
			[ $# -ge 2 ] || usage
			case $2 in '' | *[!0-9]*) die "--timeout wants whole seconds" ;; esac
			timeout=$2
			shift
			;;
		*) usage ;;
		esac
		shift
	done
	need_root start
	if [ -n "$plugstack" ]; then
		[ -f "$plugstack" ] || die "plugstack file $plugstack not found"
		case $plugstack in /*) ;; *) plugstack=$(pwd)/$plugstack ;; esac
	fi
	: "${PM_NODES:=3}" "${PM_CPUS:=4}" "${PM_MEM:=1024}" "${PM_NET:=10.240.0}"
	: "${PM_CTLD_PORT:=7137}" "${PM_SLURMD_PORT:=7138}" "${PM_NS_PREFIX:=psm-}"
	: "${PM_IF_PREFIX:=psm}" "${PM_NODE_PREFIX:=pm}" "${PM_SLURMD_TIMEOUT:=10}"
	check_knobs
	nodes_of
	t0=$(now_ms)
	install_packages
	for cmd in munged slurmctld slurmd sinfo scontrol srun ip nsenter unshare setsid; do
		command -v $cmd >/dev/null 2>&1 || die "$cmd not found after installing packages"
	done
	if [ -f "$dir/settings.env" ] || [ -s "$dir/created" ]; then
		pid_ours "$(read_pidfile "$dir/run/slurmctld.pid")" &&
			die "a cluster already runs in $dir (stop it first)"
		(load_settings && do_stop) >/dev/null 2>&1
	fi
	reclaim
	[ ${#dir} -le 80 ] || die "state folder path too long for unix sockets: $dir"
	check_reachable
	mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/plugstack.conf.d" ||
		die "cannot create folders in $dir"
	chmod 0755 "$dir" "$dir/log" "$dir/run" "$dir/plugstack.conf.d" "$dir/spool"
	chmod 0700 "$dir/state"
	rm -f "$dir/env.sh" "$dir"/log/*.out
	: >"$dir/created"
	save_settings
	{
		echo "# Written by $prog. Add plugins with 'required /path/x.so args'"
		echo "# lines, here or in $dir/plugstack.conf.d/*.conf."
		[ -n "$plugstack" ] && echo "include $plugstack"
		echo "include $dir/plugstack.conf.d/*.conf"
	} >"$dir/plugstack.conf"
	chmod 0644 "$dir/plugstack.conf"
	write_conf
	port_listening "$PM_CTLD_PORT" && die "TCP port $PM_CTLD_PORT (SlurmctldPort) has a listener: set PM_CTLD_PORT"
	deadline=$(($(now_ms) + timeout * 1000))

	start_nodes
	start_munged || start_failed "munged did not start"
	start_daemon slurmctld slurmctld -D -i -f "$conf"
	until port_listening "$PM_CTLD_PORT" "$(read_pidfile "$dir/run/slurmctld.pid")"; do
		pid_alive "$(read_pidfile "$dir/run/slurmctld.pid")" || start_failed "slurmctld exited"
		[ "$(now_ms)" -lt "$deadline" ] ||
			start_failed "slurmctld does not listen on port $PM_CTLD_PORT after ${timeout}s"
		sleep 0.02
	done
	for n in "${NODES[@]}"; do
		start_slurmd "$n"
	done
	until nodes_idle; do
		for n in "${NODES[@]}"; do
			pid=$(read_pidfile "$dir/run/slurmd-$n.pid") || continue
			pid_alive "$pid" || start_failed "slurmd of $n exited"
		done
		pid_alive "$(read_pidfile "$dir/run/slurmctld.pid")" || start_failed "slurmctld exited"
		[ "$(now_ms)" -lt "$deadline" ] ||
			start_failed "nodes not idle after ${timeout}s: $(SLURM_CONF=$conf sinfo -h -N -o '%N:%t' 2>/dev/null | tr '\n' ' ')"
		sleep 0.05
	done
	warm_up

	cat >"$dir/env.sh" <<EOF
# Written by $prog: source this to use the test cluster in $dir.
export SLURM_CONF='$conf'
export PM_DIR='$dir'
export PM_NODES='${NODES[*]}'
export PM_CPUS='$PM_CPUS'
export PM_HOST='$(hostname -s)'
export PM_PLUGSTACK_DIR='$dir/plugstack.conf.d'
EOF
	chmod 0644 "$dir/env.sh"
	say "cluster up in $dir: nodes ${NODES[*]} ($PM_CPUS CPUs each) on $PM_NET.0/24, ports $PM_CTLD_PORT/$PM_SLURMD_PORT, $(($(now_ms) - t0)) ms"
	echo "$dir/env.sh"
}

# -------------------------------------------------------------------- stop

# kill_on_nodes: ends every process in the cluster's network namespaces but
# the holders (TERM, then KILL after 3 s), naming each as a warning.
# Fails if one survives.
kill_on_nodes() {
	local ns p c all="" holders=" " n t left
	for n in "${NODES[@]}"; do
		holders+="$(read_pidfile "$dir/run/holder-$n.pid") "
	done
	for ns in $netns_list; do
		for p in $(ns_pids "$ns"); do
			case $holders in *" $p "*) continue ;; esac
			pid_alive "$p" || continue
			c=$(cat "/proc/$p/comm" 2>/dev/null) || continue
			say "warning: left on ${ns#"$PM_NS_PREFIX"}: $p ($c) $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-100)"
			all="$all $p"
		done
	done
	[ -n "$all" ] || return 0
	# shellcheck disable=SC2086
	kill -TERM $all 2>/dev/null
	t=$(($(now_ms) + 3000))
	while :; do
		left=""
		for p in $all; do
			pid_alive "$p" && left="$left $p"
		done
		[ -z "$left" ] && return 0
		[ "$(now_ms)" -lt $t ] || break
		sleep 0.05
	done
	# slurmstepd blocks SIGTERM
	# shellcheck disable=SC2086
	kill -KILL $left 2>/dev/null
	sleep 0.2
	for p in $left; do
		pid_alive "$p" && {
			say "error: pid $p on a node survives SIGKILL"
			return 1
		}
	done
	return 0
}

do_stop() {
	local rc=0 ids t kind name n links="" pid
	netns_list=""
	if [ -f "$dir/created" ]; then
		while read -r kind name; do
			case $kind in
			netns) netns_list="$netns_list $name" ;;
			link) links="$name $links" ;;
			esac
		done <"$dir/created"
	fi
	if [ -f "$conf" ] && pid_ours "$(read_pidfile "$dir/run/slurmctld.pid")"; then
		ids=$(SLURM_CONF=$conf timeout 10 squeue -h -o '%i' 2>/dev/null)
		if [ -n "$ids" ]; then
			# shellcheck disable=SC2086
			SLURM_CONF=$conf timeout 10 scancel $ids >/dev/null 2>&1
			t=$(($(now_ms) + 8000))
			while [ "$(now_ms)" -lt $t ]; do
				ids=$(SLURM_CONF=$conf timeout 5 squeue -h -o '%i' 2>/dev/null)
				[ -z "$ids" ] && break
				sleep 0.1
			done
			[ -z "$ids" ] || say "warning: jobs still listed:" "$(echo "$ids" | tr '\n' ' ')"
		fi
	fi
	for n in "${NODES[@]}"; do
		stop_pid "slurmd of $n" "$dir/run/slurmd-$n.pid" || rc=1
	done
	kill_on_nodes || rc=1
	for n in "${NODES[@]}"; do
		stop_pid "holder of $n" "$dir/run/holder-$n.pid" || rc=1
		rm -f "$dir/run/ready-$n"
	done
	# anything that entered a node after the holders were asked to go
	kill_on_nodes || rc=1
	for name in $netns_list; do
		[ -e "/run/netns/$name" ] || continue
		ip netns del "$name" 2>/dev/null || {
			say "error: cannot delete network namespace $name"
			rc=1
		}
	done
	for name in $links; do
		ip link show "$name" >/dev/null 2>&1 || continue
		ip link del "$name" 2>/dev/null
		ip link show "$name" >/dev/null 2>&1 && {
			say "error: cannot delete interface $name"
			rc=1
		}
	done
	stop_pid slurmctld "$dir/run/slurmctld.pid" || rc=1
	stop_pid munged "$dir/run/munged.pid" || rc=1
	stop_pid munged "$dir/munge/munged.pid" || rc=1
	rm -f "$dir/env.sh"
	if [ $rc -eq 0 ]; then
		rm -f "$dir/munge/munge.socket" "$dir/munge/munge.socket.lock"
		: >"$dir/created" 2>/dev/null
		[ "$(cat "$(owner_file)" 2>/dev/null)" != "$dir" ] || rm -f "$(owner_file)"
	fi
	for pid in $(cat "$dir"/run/*.pid 2>/dev/null); do
		pid_ours "$pid" && {
			say "error: pid $pid of $dir still runs"
			rc=1
		}
	done
	return $rc
}

cmd_stop() {
	local rm_dir=0
	while [ $# -gt 0 ]; do
		case $1 in
		--rm) rm_dir=1 ;;
		*) usage ;;
		esac
		shift
	done
	[ -d "$dir" ] || {
		say "$dir does not exist; nothing to stop"
		return 0
	}
	need_root stop
	if [ -f "$dir/settings.env" ]; then
		load_settings
		do_stop || die "some parts of the cluster in $dir could not be stopped (see above)"
	fi
	if [ $rm_dir -eq 1 ]; then
		if [ -f "$dir/settings.env" ] || [ -d "$dir/run" ]; then
			rm -rf -- "$dir"
		else
			say "warning: $dir does not look like a cluster folder; not removing it"
		fi
	fi
	say "cluster in $dir stopped"
}

# ------------------------------------------------------------------ others

# cmd_procs [NODE...]: the processes on the nodes but their slurmd.
cmd_procs() {
	local n p c found=1 holder list
	list=("$@")
	[ ${#list[@]} -gt 0 ] || list=("${NODES[@]}")
	for n in "${list[@]}"; do
		holder=$(read_pidfile "$dir/run/holder-$n.pid")
		for p in $(ns_pids "$(node_ns "$n")"); do
			[ "$p" = "$holder" ] && continue
			pid_alive "$p" || continue
			c=$(cat "/proc/$p/comm" 2>/dev/null) || continue
			[ "$c" = slurmd ] && continue
			echo "$n $p $c $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-160)"
			found=0
		done
	done
	# 0 = clean, as a test wants it
	[ $found -eq 1 ]
}

cmd_crash() {
	local n=$1 p all=""
	need_root crash
	holder_pid "$n" >/dev/null || die "node $n of $dir is not running"
	for p in $(ns_pids "$(node_ns "$n")"); do
		[ "$p" = "$(read_pidfile "$dir/run/holder-$n.pid")" ] && continue
		all="$all $p"
	done
	# shellcheck disable=SC2086
	[ -z "$all" ] || kill -KILL $all 2>/dev/null
	for p in $all; do
		while pid_alive "$p"; do sleep 0.02; done
	done
	say "node $n crashed: killed$all"
}

cmd_revive() {
	local n=$1 t
	need_root revive
	pid_alive "$(read_pidfile "$dir/run/slurmd-$n.pid")" && die "slurmd of $n still runs"
	start_slurmd "$n"
	t=$(($(now_ms) + 30000))
	until nodes_idle "$n"; do
		[ "$(now_ms)" -lt $t ] || die "node $n not idle 30 s after its slurmd started: $(SLURM_CONF=$conf sinfo -h -N -n "$n" -o %t)"
		sleep 0.1
	done
}

cmd_wait_idle() {
	local secs=${1:-30} t
	t=$(($(now_ms) + secs * 1000))
	until nodes_idle; do
		[ "$(now_ms)" -lt $t ] || die "nodes not idle after ${secs}s: $(SLURM_CONF=$conf sinfo -h -N -o '%N:%t' | tr '\n' ' ')"
		sleep 0.1
	done
}

main() {
	local sub=${1:-}
	[ $# -gt 0 ] && shift
	case $sub in
	start)
		set_dir "${1:-}"
		shift
		do_start "$@"
		;;
	stop)
		set_dir "${1:-}"
		shift
		cmd_stop "$@"
		;;
	node)
		[ $# -ge 3 ] || usage
		set_dir "$1"
		load_settings
		need_root node
		n=$2
		shift 2
		on_node "$n" "$@"
		;;
	procs)
		set_dir "${1:-}"
		shift
		load_settings
		cmd_procs "$@"
		;;
	crash | revive)
		[ $# -eq 2 ] || usage
		set_dir "$1"
		load_settings
		"cmd_$sub" "$2"
		;;
	wait-idle)
		set_dir "${1:-}"
		load_settings
		cmd_wait_idle "${2:-30}"
		;;
	status)
		set_dir "${1:-}"
		load_settings
		echo "== sinfo"
		SLURM_CONF=$conf timeout 10 sinfo -N -l
		echo "== squeue"
		SLURM_CONF=$conf timeout 10 squeue
		echo "== processes on the nodes"
		cmd_procs
		return 0
		;;
	_node)
		set_dir "$1"
		node_init "$2" || {
			echo "$prog: error: setting up node $2 failed" >&2
			exit 1
		}
		;;
	*) usage ;;
	esac
}

main "$@"
