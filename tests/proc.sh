# proc.sh - /proc helpers shared by the end-to-end suites (sourced by
# tests/e2e/lib.sh and tests/slurm/lib.sh; bash builtins only, so that
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
