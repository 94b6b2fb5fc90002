#!/bin/bash
# cluster.sh - a throwaway single-node Slurm cluster for tests (Debian 12,
# Slurm 22.05, no systemd needed). Everything lives in one state folder.
#
#   cluster.sh start DIR [--plugstack FILE] [--timeout SECONDS]
#       Installs missing packages, starts munged, slurmctld and slurmd with
#       all their files in DIR, waits until the node is idle and writes
#       DIR/env.sh (source it: exports SLURM_CONF and PARADE_SLURM_*).
#       FILE, if given, is included from DIR/plugstack.conf; files dropped
#       into DIR/plugstack.conf.d/*.conf are included as well (srun and
#       slurmstepd read them at once; slurmd only when it starts).
#       Batch jobs start within about 1 s of sbatch (slurmctld's background
#       tick); sruns start at once.
#   cluster.sh stop DIR [--rm]
#       Cancels all jobs, stops the daemons by their PID files, checks they
#       are gone; --rm then removes DIR. Safe to call twice or after a
#       partial start.
#   cluster.sh status DIR
#       Prints sinfo and squeue.
#   cluster.sh ensure-user NAME
#       Creates a non-root test user (useradd -m) unless it exists.
#
# start, stop and ensure-user need root. Clients, root or not, only need
#   SLURM_CONF=DIR/slurm.conf srun ...
# DIR is made world-readable (0755) so that non-root test users can read the
# configuration and reach the munge socket.
set -u

prog=cluster.sh
NODE_CPUS=16
# shellcheck disable=SC2034 # read by common.sh (install_packages)
PACKAGES="slurmctld slurmd slurm-client munge libslurm-dev"

# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

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

usage() {
	sed -n '2,26s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# ------------------------------------------------------------------- start

write_conf() {
	local node=$1 ctld_port=$2 slurmd_port=$3 mem
	mem=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n1)
	[ -n "$mem" ] || mem=1000
	cat >"$conf" <<EOF
# Written by $prog for a throwaway test cluster; do not edit.
ClusterName=parade
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
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
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=2
MinJobAge=30
InactiveLimit=0
MessageTimeout=10
SlurmdTimeout=300
MailProg=/bin/true
# With an Epilog, slurmd reports each job's end and slurmctld schedules at
# once; without one, pending jobs wait for its 1 s background tick.
Epilog=/bin/true
NodeName=$node NodeAddr=127.0.0.1 CPUs=$NODE_CPUS RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
	chmod 0644 "$conf"
}

start_failed() {
	say "error: $*"
	# the daemons run in the foreground (-D, -F): their stderr (*.out)
	# has all their log lines, including errors from before the log opens
	tail_log "$dir/munge/munged.out" "$dir/log/slurmctld.out" "$dir/log/slurmd.out"
	say "stopping what was started"
	do_stop >/dev/null 2>&1
	exit 1
}

# daemon_failed NAME: sets start_error for an exited daemon; true if it
# died of a port conflict (worth a retry).
daemon_failed() {
	start_error="$1 exited"
	if grep -qi 'address already in use\|unable to bind' "$dir/log/$1.out" 2>/dev/null; then
		start_error="$1 could not bind its port"
		return 0
	fi
	return 1
}

# start_slurm NODE CTLD_PORT: starts slurmctld, then slurmd, and waits until
# the node is idle (until $deadline). Returns 0 when up, 2 on a port
# conflict; exits through start_failed on anything else.
start_slurm() {
	local node=$1 ctld_port=$2 state resumed=0
	start_error=
	start_daemon slurmctld slurmctld -D -i -f "$conf"
	# slurmd retries a failed registration only after a while, and a client
	# asking the controller before it listens sleeps 1 s: wait for the port
	until port_listening "$ctld_port" "$(read_pidfile "$dir/run/slurmctld.pid")"; do
		if ! pid_alive "$(read_pidfile "$dir/run/slurmctld.pid")"; then
			daemon_failed slurmctld && return 2
			start_failed "$start_error"
		fi
		[ "$(now_ms)" -lt $deadline ] ||
			start_failed "slurmctld does not listen on port $ctld_port after ${timeout}s"
		sleep 0.02
	done
	start_daemon slurmd slurmd -D -N "$node" -f "$conf"
	while :; do
		if ! pid_alive "$(read_pidfile "$dir/run/slurmctld.pid")"; then
			daemon_failed slurmctld && return 2
			start_failed "$start_error"
		fi
		if ! pid_alive "$(read_pidfile "$dir/run/slurmd.pid")"; then
			daemon_failed slurmd && return 2
			start_failed "$start_error"
		fi
		state=$(node_state "$node")
		case $state in
		idle) return 0 ;;
		*'*' | '' | unk*) ;; # not registered or not responding yet
		*drain* | drng | down | fail* | inval)
			if [ $resumed -lt 3 ]; then
				SLURM_CONF=$conf timeout 10 scontrol update NodeName="$node" \
					State=RESUME >/dev/null 2>&1
				resumed=$((resumed + 1))
			fi
			;;
		esac
		[ "$(now_ms)" -lt $deadline ] ||
			start_failed "node $node not idle after ${timeout}s (state: ${state:-none})"
		sleep 0.05
	done
}

do_start() {
	local plugstack="" timeout=30 node ctld_port slurmd_port t0 attempt
	while [ $# -gt 0 ]; do
		case $1 in
		--plugstack)
			[ $# -ge 2 ] || usage
			plugstack=$2
			shift 2
			;;
		--plugstack=*)
			plugstack=${1#--plugstack=}
			shift
			;;
		--timeout)
			[ $# -ge 2 ] || usage
			case $2 in '' | *[!0-9]*) die "--timeout wants whole seconds" ;; esac
			timeout=$2
			shift 2
			;;
		*) usage ;;
		esac
	done
	need_root start
	if [ -n "$plugstack" ]; then
		[ -f "$plugstack" ] || die "plugstack file $plugstack not found"
		case $plugstack in
		/*) ;;
		*) plugstack=$(pwd)/$plugstack ;;
		esac
	fi
	t0=$(now_ms)
	install_packages
	for cmd in munged slurmctld slurmd sinfo scontrol srun; do
		command -v $cmd >/dev/null 2>&1 || die "$cmd not found after installing packages"
	done

	if [ -f "$dir/run/slurmctld.pid" ] || [ -f "$dir/run/munged.pid" ] ||
		[ -f "$dir/run/slurmd.pid" ]; then
		pid_ours "$(read_pidfile "$dir/run/slurmctld.pid")" &&
			die "a cluster already runs in $dir (stop it first)"
		do_stop >/dev/null 2>&1
	fi
	# the munge socket path must fit in sun_path (108 bytes)
	[ ${#dir} -le 80 ] || die "state folder path too long for unix sockets: $dir"
	check_reachable
	mkdir -p "$dir" || die "cannot create $dir"
	chmod 0755 "$dir"
	mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/plugstack.conf.d" ||
		die "cannot create folders in $dir"
	chmod 0755 "$dir/log" "$dir/run" "$dir/plugstack.conf.d"
	chmod 0700 "$dir/state"
	chmod 0755 "$dir/spool"
	rm -f "$dir/env.sh" "$dir"/log/*.out

	{
		echo "# Written by $prog. Add plugins with 'required /path/x.so args'"
		echo "# lines, here or in $dir/plugstack.conf.d/*.conf."
		[ -n "$plugstack" ] && echo "include $plugstack"
		echo "include $dir/plugstack.conf.d/*.conf"
	} >"$dir/plugstack.conf"
	chmod 0644 "$dir/plugstack.conf"

	node=$(hostname -s)
	[ -n "$node" ] || die "hostname -s is empty"
	start_munged || start_failed "munged did not start"
	deadline=$(($(now_ms) + timeout * 1000))
	# another process may grab a port between the check and the bind:
	# then try again with other ports
	attempt=1
	while :; do
		ctld_port=$(pick_port) || start_failed "no free TCP port"
		slurmd_port=$(pick_port "$ctld_port") || start_failed "no free TCP port"
		write_conf "$node" "$ctld_port" "$slurmd_port"
		start_slurm "$node" "$ctld_port" && break
		[ $attempt -lt 3 ] || start_failed "$start_error"
		say "port conflict ($start_error); retrying with other ports"
		stop_pid slurmd "$dir/run/slurmd.pid"
		stop_pid slurmctld "$dir/run/slurmctld.pid"
		attempt=$((attempt + 1))
	done

	warm_up

	cat >"$dir/env.sh" <<EOF
# Written by $prog: source this to use the test cluster in $dir.
export SLURM_CONF='$conf'
export PARADE_SLURM_DIR='$dir'
export PARADE_SLURM_NODE='$node'
export PARADE_SLURM_CPUS='$NODE_CPUS'
export PARADE_SLURM_PLUGSTACK='$dir/plugstack.conf'
export PARADE_SLURM_PLUGSTACK_DIR='$dir/plugstack.conf.d'
export PARADE_MUNGE_SOCKET='$dir/munge/munge.socket'
EOF
	chmod 0644 "$dir/env.sh"
	say "cluster up in $dir (node $node, ports $ctld_port/$slurmd_port, $(($(now_ms) - t0)) ms)"
	echo "$dir/env.sh"
}

# -------------------------------------------------------------------- stop

do_stop() {
	local rc=0 ids t
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
	stop_pid slurmd "$dir/run/slurmd.pid" || rc=1
	stop_pid slurmctld "$dir/run/slurmctld.pid" || rc=1
	stop_pid munged "$dir/run/munged.pid" || rc=1
	# munged's own PID file (same process; covers a start from elsewhere)
	stop_pid munged "$dir/munge/munged.pid" || rc=1
	rm -f "$dir/env.sh"
	[ $rc -eq 0 ] && rm -f "$dir/munge/munge.socket" "$dir/munge/munge.socket.lock"
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
	do_stop || die "some daemons in $dir could not be stopped"
	if [ $rm_dir -eq 1 ]; then
		# only remove a folder this script set up
		if [ -f "$conf" ] || [ -d "$dir/run" ] || [ -d "$dir/munge" ]; then
			rm -rf -- "$dir"
		else
			say "warning: $dir does not look like a cluster folder; not removing it"
		fi
	fi
	say "cluster in $dir stopped"
}

cmd_status() {
	[ -f "$conf" ] || die "no cluster configuration in $dir"
	pid_ours "$(read_pidfile "$dir/run/slurmctld.pid")" ||
		die "slurmctld of $dir is not running"
	echo "== sinfo"
	SLURM_CONF=$conf timeout 10 sinfo -N -l
	echo "== squeue"
	SLURM_CONF=$conf timeout 10 squeue
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
	status)
		set_dir "${1:-}"
		cmd_status
		;;
	ensure-user) cmd_ensure_user "${1:-}" ;;
	*) usage ;;
	esac
}

main "$@"
