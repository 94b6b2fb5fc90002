# proc.sh - /proc helpers shared by the end-to-end suites (sourced by
# tests/e2e/lib.sh, tests/slurm/lib.sh and the Slurm suites' run.sh; bash
# builtins only, so that
# looking never starts a process of its own).

# is_alive PID: exists and is not a zombie (zombies are reaped lazily here,
# so kill -0 would say yes).
is_alive() {
	local line st
	[ -r "/proc/$1/stat" ] || return 1
	read -r line 2>/dev/null <"/proc/$1/stat" || return 1
	st=${line##*) }
	st=${st%% *}
	case $st in
	Z | X | x | "") return 1 ;;
	esac
	return 0
}

# cmdline_of PID: its argv joined with spaces (empty for zombies).
cmdline_of() {
	local -a a=()
	mapfile -d "" a 2>/dev/null <"/proc/$1/cmdline" || true
	echo "${a[*]:-}"
}

# marked: PIDS gets the live processes that carry a Slurm suite's test
# folders ($W/t/) in their command line or environment, or run a binary
# from $W/bin (W: the suite's folder; tests/slurm/run.sh, multi/run.sh).
marked() {
	local d p c e
	local -a a b
	PIDS=()
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		[ "$p" = "$$" ] && continue
		[ "$p" = "$BASHPID" ] && continue
		a=()
		mapfile -d "" a 2>/dev/null <"$d/cmdline" || continue
		[ ${#a[@]} -gt 0 ] || continue
		c="${a[*]}"
		b=()
		mapfile -d "" b 2>/dev/null <"$d/environ" || true
		e="${b[*]:-}"
		case "${a[0]} " in
		"$W/bin/"*) ;;
		*)
			case "$c $e" in
			*"$W/t/"*) ;;
			*) continue ;;
			esac
			;;
		esac
		is_alive "$p" && PIDS+=("$p")
	done
	return 0
}
