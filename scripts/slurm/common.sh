# shellcheck shell=bash disable=SC2154
# common.sh - helpers shared by cluster.sh (one node) and mcluster.sh (several
# nodes in namespaces); sourced, never run. The caller sets:
#   prog      its name, the prefix of every message
#   dir       the state folder (absolute); pid_ours trusts a PID only if its
#             command line names a file below it
#   conf      dir's slurm.conf
#   PACKAGES  the Debian packages install_packages makes sure of
#   deadline, timeout   (start only) when to give up, in now_ms, and the
#             seconds that deadline stands for (for messages)
# and defines start_failed MSG (tell why, stop what started, exit 1).
say() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

now_ms() {
	local s
	s=$(date +%s%N)
	echo $((s / 1000000))
}

# pid_alive PID: true if PID exists and is not a zombie. kill -0 is not
# enough here: zombies are reaped lazily on these machines.
pid_alive() {
	local stat state
	[ -n "${1:-}" ] || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	state=${stat##*) }
	state=${state%% *}
	case $state in
	Z | X | x | '') return 1 ;;
	esac
	return 0
}

# pid_ours PID: true if PID is alive and its command line names a file in
# $dir (guards against a PID file naming a recycled PID).
pid_ours() {
	local cmd
	pid_alive "$1" || return 1
	cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
	case $cmd in
	*"$dir/"*) return 0 ;;
	esac
	return 1
}

read_pidfile() {
	local pid
	[ -f "$1" ] || return 1
	pid=$(head -n1 "$1" 2>/dev/null) || return 1
	case $pid in
	'' | *[!0-9]*) return 1 ;;
	esac
	echo "$pid"
}

need_root() {
	[ "$(id -u)" -eq 0 ] || die "$1 needs root"
}

# tail_log FILE...: the last lines of each non-empty FILE, without the
# harmless pmix noise.
tail_log() {
	local f
	for f in "$@"; do
		[ -s "$f" ] || continue
		echo "----- last lines of $f" >&2
		grep -v 'pmix\|MPI: Cannot create context' "$f" | tail -n 15 >&2
	done
}

# ---------------------------------------------------------------- packages

install_packages() {
	local p missing="" apt_opts
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt_opts="-y -q --no-install-recommends -o DPkg::Lock::Timeout=300"
	# shellcheck disable=SC2086
	if ! apt-get install $apt_opts $missing >"/tmp/parade-apt.$$.log" 2>&1; then
		say "apt-get install failed; running apt-get update and retrying"
		apt-get update -q -o DPkg::Lock::Timeout=300 >>"/tmp/parade-apt.$$.log" 2>&1 ||
			say "apt-get update failed; retrying with the cached lists"
		# shellcheck disable=SC2086
		if ! apt-get install $apt_opts $missing >>"/tmp/parade-apt.$$.log" 2>&1; then
			tail -n 30 "/tmp/parade-apt.$$.log" >&2
			rm -f "/tmp/parade-apt.$$.log"
			die "could not install:$missing"
		fi
	fi
	rm -f "/tmp/parade-apt.$$.log"
}

# ------------------------------------------------------------------- ports

# port_used PORT: true if any TCP socket (v4 or v6) uses PORT locally.
port_used() {
	local hex
	hex=$(printf ':%04X ' "$1")
	grep -qs -- "$hex" /proc/net/tcp /proc/net/tcp6 && return 0
	# a listener could hide in another network namespace view; probe too
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
	return 1
}

# port_listening PORT [PID]: true if a TCP socket listens on PORT (and, if
# PID is given, belongs to process PID). Asking the controller before it
# listens costs a 1 s retry inside the Slurm clients.
port_listening() {
	local hex inodes ino fd
	hex=$(printf ':%04X' "$1")
	inodes=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v p="$hex" 'substr($2, length($2) - 4) == p && $4 == "0A" { print $10 }')
	[ -n "$inodes" ] || return 1
	[ -n "${2:-}" ] || return 0
	for fd in /proc/"$2"/fd/*; do
		for ino in $inodes; do
			[ "$(readlink "$fd" 2>/dev/null)" = "socket:[$ino]" ] && return 0
		done
	done
	return 1
}

pick_port() {
	local p tries=0
	while [ $tries -lt 200 ]; do
		tries=$((tries + 1))
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
		case " $* " in
		*" $p "*) continue ;;
		esac
		port_used "$p" || {
			echo "$p"
			return 0
		}
	done
	return 1
}

start_munged() {
	local m=$dir/munge t
	mkdir -p "$m"
	chmod 0755 "$m"
	if [ ! -s "$m/munge.key" ]; then
		if command -v mungekey >/dev/null 2>&1; then
			mungekey -c -k "$m/munge.key" >/dev/null 2>&1 ||
				dd if=/dev/urandom of="$m/munge.key" bs=1024 count=1 2>/dev/null
		else
			dd if=/dev/urandom of="$m/munge.key" bs=1024 count=1 2>/dev/null
		fi
	fi
	chmod 0400 "$m/munge.key"
	munged -F --key-file="$m/munge.key" --socket="$m/munge.socket" \
		--pid-file="$m/munged.pid" --log-file="$m/munged.log" \
		--seed-file="$m/munged.seed" --num-threads=2 \
		</dev/null >"$m/munged.out" 2>&1 &
	echo $! >"$dir/run/munged.pid"
	t=$(($(now_ms) + 10000))
	while [ ! -S "$m/munge.socket" ]; do
		if ! pid_alive "$(cat "$dir/run/munged.pid")" || [ "$(now_ms)" -gt $t ]; then
			return 1
		fi
		sleep 0.05
	done
	chmod 0777 "$m/munge.socket" 2>/dev/null
	return 0
}

# check_reachable: munged refuses a socket below a folder that others
# cannot search, and non-root test users need to reach DIR too.
check_reachable() {
	local p=$dir perm
	while [ -n "$p" ] && [ "$p" != / ]; do
		p=$(dirname "$p")
		perm=$(stat -c %A "$p" 2>/dev/null) || continue
		case $perm in
		*x | *t) ;;
		*)
			die "$p is not searchable by others (chmod o+x); munged and non-root users need that"
			;;
		esac
	done
}

start_daemon() { # name command...
	local name=$1
	shift
	"$@" </dev/null >"$dir/log/$name.out" 2>&1 &
	echo $! >"$dir/run/$name.pid"
}

node_state() {
	SLURM_CONF=$conf timeout 10 sinfo -h -N -n "$1" -o '%t' 2>/dev/null | head -n1
}

# warm_up: slurmctld applies SchedulerParameters (batch_sched_delay=0)
# only in its first scheduling pass, which otherwise comes ~3 s after it
# starts; until then batch jobs stay pending, and sruns queue behind them.
# A job's end (epilog complete) triggers that pass at once: allocate and
# cancel a job, without any plugin (an empty plugstack, no step launched).
warm_up() {
	local wconf=$dir/run/warmup.conf cycles
	: >"$dir/run/warmup-plugstack.conf"
	sed "s|^PlugStackConfig=.*|PlugStackConfig=$dir/run/warmup-plugstack.conf|" \
		"$conf" >"$wconf"
	SLURM_CONF=$wconf timeout 10 salloc --no-shell -Q -J parade-warmup -n1 \
		>"$dir/log/warmup.out" 2>&1 ||
		start_failed "cannot allocate a job: $(tail -n 3 "$dir/log/warmup.out")"
	SLURM_CONF=$wconf timeout 10 scancel -n parade-warmup >>"$dir/log/warmup.out" 2>&1
	while :; do
		cycles=$(SLURM_CONF=$conf timeout 10 sdiag 2>/dev/null |
			sed -n '/Main schedule/,/^$/s/.*Total cycles: *\([0-9]*\).*/\1/p')
		[ "${cycles:-0}" -ge 1 ] &&
			[ -z "$(SLURM_CONF=$conf timeout 10 squeue -h -o %i 2>/dev/null)" ] && break
		[ "$(now_ms)" -lt $deadline ] ||
			start_failed "no scheduling pass after ${timeout}s"
		sleep 0.02
	done
	rm -f "$wconf" "$dir/run/warmup-plugstack.conf" "$dir/log/warmup.out"
}

# -------------------------------------------------------------------- stop

# stop_pid NAME PIDFILE: SIGTERM, wait, SIGKILL; fails if it survives.
stop_pid() {
	local name=$1 pidfile=$2 pid t
	pid=$(read_pidfile "$pidfile") || {
		rm -f "$pidfile"
		return 0
	}
	if ! pid_ours "$pid"; then
		rm -f "$pidfile"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null
	t=$(($(now_ms) + 5000))
	while pid_alive "$pid" && [ "$(now_ms)" -lt $t ]; do
		sleep 0.05
	done
	if pid_alive "$pid"; then
		say "$name (pid $pid) ignored SIGTERM; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null
		t=$(($(now_ms) + 3000))
		while pid_alive "$pid" && [ "$(now_ms)" -lt $t ]; do
			sleep 0.05
		done
	fi
	if pid_alive "$pid"; then
		say "error: $name (pid $pid) is still running"
		return 1
	fi
	rm -f "$pidfile"
	return 0
}


cmd_ensure_user() {
	local name=${1:-}
	[ -n "$name" ] || usage
	id -u "$name" >/dev/null 2>&1 && return 0
	need_root ensure-user
	# ignore a failure caused by a concurrent creation; check again
	useradd -m -s /bin/sh "$name" >/dev/null 2>&1
	id -u "$name" >/dev/null 2>&1 || die "could not create user $name"
	say "created user $name"
}

