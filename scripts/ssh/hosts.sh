#!/usr/bin/env bash
# hosts.sh - throwaway SSH "hosts" for tests: Linux network namespaces on
# this machine, each running a real OpenSSH sshd as root.
#
#   hosts.sh up DIR N [--no-route]    make N hosts; DIR must be new or empty
#   hosts.sh down DIR                 remove everything `up` made, then DIR
#   hosts.sh exec DIR I CMD...        run CMD inside host I's namespace
#   hosts.sh kill-sessions DIR I [--all]
#                                     SIGKILL host I's per-connection sshd
#                                     processes (not the listener); --all also
#                                     kills the commands those sessions run
#   hosts.sh break DIR I hostkey      give host I a new host key (known_hosts
#                                     no longer matches)
#   hosts.sh break DIR I auth         empty host I's authorized_keys
#   hosts.sh break DIR I port PORT    occupy TCP PORT (all addresses) inside
#                                     host I; prints the pid of the holder
#
# Needs root. `up` installs what is missing (openssh-server openssh-client
# iproute2 procps socat) with apt-get. After `up`, `. DIR/env.sh` gives:
#   SSH_TEST_DIR           DIR (absolute)
#   SSH_TEST_KEY           the client's private key (ed25519, no passphrase)
#   SSH_TEST_KNOWN_HOSTS   known_hosts holding every host's key
#   SSH_TEST_CONFIG        an ssh_config file with the same options as below
#   SSH_TEST_OPTS          "-o IdentityFile=... -o UserKnownHostsFile=... ..."
#                          (no spaces inside an option: split on blanks)
#   SSH_TEST_HOSTS         "root@ADDR1 root@ADDR2 ..." (sshd on port 22)
#   SSH_TEST_ADDRS         "ADDR1 ADDR2 ..."
#   SSH_TEST_PORT          22
#   SSH_TEST_HOST_ADDR     this machine's address as seen from the hosts (the
#                          one agents dial in direct mode)
#   SSH_TEST_NS            "NS1 NS2 ..." namespace names
#   SSH_TEST_MODE          direct | no-route
#
# Network layout (one private /24 per `up`, 10.213.K.0/24, K chosen under a
# lock so that no existing route or address of this machine overlaps it):
#   host i: namespace pdt-TAG-i, veth pair pdtTAGh<i> (here) / pdtTAGn<i>
#   (inside); inside address 10.213.K.(i+1)/32, this machine's end of every
#   pair holds 10.213.K.1/32 (the same address on each pair, point-to-point
#   style) plus a /32 route to that host. The namespaces get no default route
#   and no route to each other, IPv6 is off on the veths, and this machine
#   does not forward, so nothing leaves the machine and the hosts only see
#   10.213.K.1.
#   direct mode: the namespace has a route to 10.213.K.1, so an agent there
#   can dial the controller at SSH_TEST_HOST_ADDR.
#   --no-route: the namespace's main routing table has no route to
#   10.213.K.1 at all. A policy rule (`ip rule ... ipproto tcp sport 22
#   lookup 100`) sends only TCP packets whose source port is 22, i.e.
#   sshd's replies, through table 100, which alone holds the route back.
#   Any other socket in the namespace (an agent's connect(), whose source
#   port is ephemeral) gets "Network is unreachable", while ssh from this
#   machine to the host works; the agent must use a tunnel (ssh -R) to
#   reach the controller. No firewall (iptables/nft) is needed.
#
# Everything `up` starts carries DIR in its command line (sshd -f DIR/...)
# or runs inside the namespaces; `down` finds processes only that way (pid
# files, `ip netns pids`, the DIR/sshd- marker, the namespaces' inodes),
# never by name. A failed `up` removes what it made (set PDT_HOSTS_KEEP=1 to
# keep it for a look; then run `down`).
set -euo pipefail
export LC_ALL=C

PROG=hosts.sh
SELF=$(readlink -f "${BASH_SOURCE[0]}")
SSHD=/usr/sbin/sshd
PKGS="openssh-server openssh-client iproute2 procps socat"
NET_PREFIX=10.213

say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
	say "$*"
	exit 1
}
usage() {
	sed -n '2,20p' "$SELF" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }

# Serialises package installs and subnet allocation between concurrent runs.
# Locks this script itself, so no lock file is created anywhere.
take_lock() {
	exec 9<"$SELF"
	flock -w 300 9 || die "could not take the lock on $SELF in 300 s"
}
drop_lock() { exec 9<&-; }

ensure_packages() {
	local p missing=()
	for p in $PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	local apt=(apt-get -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300)
	# Update the lists only when the install cannot go ahead without it.
	if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
		apt-get -qq -o DPkg::Lock::Timeout=300 update >&2
	fi
	if ! "${apt[@]}" install "${missing[@]}" >&2; then
		say "install failed; running apt-get update and trying again"
		apt-get -qq -o DPkg::Lock::Timeout=300 update >&2
		"${apt[@]}" install "${missing[@]}" >&2 || die "could not install ${missing[*]}"
	fi
}

# DIR must be a plain absolute-able path without blanks or shell-special
# characters: it ends up in sshd_config lines and in SSH_TEST_OPTS.
check_dir_name() {
	case $1 in
	*[!A-Za-z0-9/._+-]*) die "DIR '$1' may only hold letters, digits and / . _ + -" ;;
	'') die "DIR is empty" ;;
	esac
}

abs_dir() { (cd "$1" && pwd -P); }

ip2int() {
	local IFS=.
	# shellcheck disable=SC2086
	set -- $1
	echo $((($1 << 24) + ($2 << 16) + ($3 << 8) + $4))
}

# Is 10.213.K.0/24 free: no IPv4 route (any table) or address of this
# machine overlaps it? The default route (0/0) is ignored.
subnet_free() {
	local k=$1 net lo pfx p len base mask
	net=$(ip2int "$NET_PREFIX.$k.0")
	{
		ip -4 route show table all | awk '{
			t = $1
			if (t ~ /^(unicast|local|broadcast|multicast|anycast|unreachable|blackhole|prohibit|throw|nat)$/) t = $2
			print t }'
		ip -4 -o addr show | awk '{ print $4 }'
	} >"$TMPF"
	while read -r pfx; do
		case $pfx in default | '' | *[!0-9./]*) continue ;; esac
		p=${pfx%/*}
		len=32
		[ "$p" != "$pfx" ] && len=${pfx#*/}
		[ "$len" -eq 0 ] && continue
		base=$(ip2int "$p")
		# The two prefixes overlap iff the shorter one holds the other's base.
		lo=$((len < 24 ? len : 24))
		mask=$(((0xffffffff << (32 - lo)) & 0xffffffff))
		if [ $((base & mask)) -eq $((net & mask)) ]; then
			return 1
		fi
	done <"$TMPF"
	return 0
}

pick_subnet() {
	local start k j
	start=$((RANDOM % 200 + 20))
	for ((j = 0; j < 235; j++)); do
		k=$(((start + j) % 235 + 20))
		if subnet_free "$k"; then
			echo "$k"
			return 0
		fi
	done
	return 1
}

# --- the DIR/hosts table ----------------------------------------------------
# one line per host: I NS VETH_HERE VETH_INSIDE ADDR HOST_ADDR PORT NETNS_INODE
# (written before the host's resources are made, INODE filled in after)

load_host() { # DIR I -> H_NS H_ADDR
	local line
	[ -f "$1/hosts" ] || die "$1/hosts: no such file (not made by '$PROG up'?)"
	line=$(awk -v i="$2" '$1 == i' "$1/hosts")
	[ -n "$line" ] || die "host '$2' is not in $1/hosts"
	read -r _ H_NS _ _ H_ADDR _ <<<"$line"
}

ns_exists() { [ -e "/run/netns/$1" ]; }

# The listener's pid, from its pid file, only if that pid is really the
# sshd started with this DIR's config (so a recycled pid is never killed).
listener_pid() { # DIR I
	local pid f=$1/sshd-$2.pid
	[ -s "$f" ] || return 1
	pid=$(head -n1 "$f")
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$1/sshd-$2.conf" || return 1
	echo "$pid"
}

descendants() { # PID -> all descendants' pids, parents first
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}

wait_gone() { # TENTHS PID... ; returns 1 if some are still alive
	local n=$1 p alive
	shift
	while :; do
		alive=0
		for p in "$@"; do
			if kill -0 "$p" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; then
				alive=1
			fi
		done
		[ $alive -eq 0 ] && return 0
		[ "$n" -le 0 ] && return 1
		n=$((n - 1))
		sleep 0.1
	done
}

# --- up -----------------------------------------------------------------------

write_sshd_config() { # DIR I ADDR
	cat >"$1/sshd-$2.conf" <<EOF
# sshd for throwaway test host $2 (made by scripts/ssh/hosts.sh)
Port 22
ListenAddress $3
AddressFamily inet
HostKey $1/hostkey-$2
PidFile $1/sshd-$2.pid
AuthorizedKeysFile $1/authorized_keys-$2
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
AllowTcpForwarding yes
GatewayPorts no
X11Forwarding no
PermitUserEnvironment no
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 100:30:200
MaxSessions 100
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF
}

up_cleanup() { # EXIT trap of `up`
	local rc=$?
	trap - EXIT
	[ -n "${TMPF:-}" ] && rm -f "$TMPF"
	[ $rc -eq 0 ] && return 0
	if [ "${PDT_HOSTS_KEEP:-0}" = 1 ]; then
		say "up failed; PDT_HOSTS_KEEP=1, so everything is left in place: run '$PROG down $UP_DIR'"
	elif [ -n "${UP_DIR:-}" ] && [ -f "$UP_DIR/.pdt-hosts" ]; then
		say "up failed; removing what it made"
		(do_down "$UP_DIR") || say "cleanup after the failed up was incomplete (see above)"
	fi
	exit $rc
}

cmd_up() {
	local dir=${1:-} n=${2:-} mode=direct
	if [ -z "$dir" ] || [ -z "$n" ]; then usage; fi
	shift 2
	while [ $# -gt 0 ]; do
		case $1 in
		--no-route) mode=no-route ;;
		*) usage ;;
		esac
		shift
	done
	case $n in '' | *[!0-9]*) die "N must be a number" ;; esac
	if [ "$n" -lt 1 ] || [ "$n" -gt 250 ]; then die "N must be 1..250"; fi
	check_dir_name "$dir"
	need_root
	if [ -e "$dir" ]; then
		[ -d "$dir" ] || die "$dir exists and is not a folder"
		[ -z "$(ls -A "$dir")" ] || die "$dir exists and is not empty"
	else
		mkdir -p "$dir"
	fi
	dir=$(abs_dir "$dir")
	check_dir_name "$dir"
	[ "$dir" != / ] || die "DIR cannot be /"
	chmod 700 "$dir"
	echo "parade scripts/ssh/hosts.sh test hosts; remove with: $SELF down $dir" >"$dir/.pdt-hosts"
	: >"$dir/hosts"
	UP_DIR=$dir
	TMPF=$(mktemp)
	trap up_cleanup EXIT
	local t0=$SECONDS t

	take_lock
	ensure_packages
	for t in ip ssh ssh-keygen ssh-keyscan socat ps flock; do
		command -v "$t" >/dev/null || die "$t not found after installing $PKGS"
	done
	[ -x "$SSHD" ] || die "$SSHD not found after installing openssh-server"
	local rootpw
	rootpw=$(awk -F: '$1 == "root" { print $2 }' /etc/shadow 2>/dev/null || true)
	case $rootpw in !*) die "root's account is locked ('!' in /etc/shadow): sshd with UsePAM no refuses it" ;; esac
	# sshd's privilege separation directory (what Debian's init script makes).
	mkdir -p /run/sshd
	chmod 0755 /run/sshd

	ssh-keygen -q -t ed25519 -N '' -C "pdt-test-user@$dir" -f "$dir/id_ed25519"
	: >"$dir/known_hosts"

	local tag k i ns vh vn addr haddr inode have_v6=0
	tag=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	[ -d /proc/sys/net/ipv6 ] && have_v6=1
	k=$(pick_subnet) || die "no free 10.213.K.0/24 subnet"
	haddr=$NET_PREFIX.$k.1
	echo "$NET_PREFIX.$k.0/24 $mode" >"$dir/net"
	say "making $n host(s): namespaces pdt-$tag-1..$n, $NET_PREFIX.$k.0/24, $mode"
	for ((i = 1; i <= n; i++)); do
		ns=pdt-$tag-$i
		vh=pdt${tag}h$i
		vn=pdt${tag}n$i
		addr=$NET_PREFIX.$k.$((i + 1))
		echo "$i $ns $vh $vn $addr $haddr 22 0" >>"$dir/hosts"
		[ "${PDT_HOSTS_FAIL_AT:-}" = "ns-$i" ] && die "failing on purpose (PDT_HOSTS_FAIL_AT=ns-$i)"
		ip netns add "$ns"
		inode=$(stat -L -c %i "/run/netns/$ns")
		sed -i "s/^$i $ns .* 0\$/$i $ns $vh $vn $addr $haddr 22 $inode/" "$dir/hosts"
		ip link add "$vh" type veth peer name "$vn" netns "$ns"
		[ $have_v6 = 1 ] && sysctl -qw "net.ipv6.conf.$vh.disable_ipv6=1"
		ip addr add "$haddr/32" dev "$vh" noprefixroute
		ip link set "$vh" up
		ip route add "$addr/32" dev "$vh" src "$haddr"
		ip -n "$ns" link set lo up
		if [ $have_v6 = 1 ]; then
			ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$vn.disable_ipv6=1"
		fi
		ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$vn.rp_filter=0"
		ip -n "$ns" addr add "$addr/32" dev "$vn" noprefixroute
		ip -n "$ns" link set "$vn" up
		if [ $mode = direct ]; then
			ip -n "$ns" route add "$haddr/32" dev "$vn" src "$addr"
		else
			ip -n "$ns" route add "$haddr/32" dev "$vn" src "$addr" table 100
			ip -n "$ns" rule add pref 100 ipproto tcp sport 22 lookup 100
		fi

		ssh-keygen -q -t ed25519 -N '' -C "pdt-host-$i" -f "$dir/hostkey-$i"
		cp "$dir/id_ed25519.pub" "$dir/authorized_keys-$i"
		echo "$addr $(cut -d' ' -f1,2 "$dir/hostkey-$i.pub")" >>"$dir/known_hosts"
		write_sshd_config "$dir" "$i" "$addr"
		"$SSHD" -t -f "$dir/sshd-$i.conf" || die "sshd -t rejects $dir/sshd-$i.conf"
		[ "${PDT_HOSTS_FAIL_AT:-}" = "sshd-$i" ] && die "failing on purpose (PDT_HOSTS_FAIL_AT=sshd-$i)"
		# sshd binds, daemonizes and writes its pid file; -E appends its log.
		if ! ip netns exec "$ns" "$SSHD" -f "$dir/sshd-$i.conf" -E "$dir/sshd-$i.log"; then
			tail -n 20 "$dir/sshd-$i.log" >&2 || true
			die "sshd of host $i did not start"
		fi
	done
	drop_lock

	local opts hosts='' addrs='' nss=''
	opts="-o IdentityFile=$dir/id_ed25519 -o IdentitiesOnly=yes -o UserKnownHostsFile=$dir/known_hosts"
	opts="$opts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes"
	opts="$opts -o UpdateHostKeys=no -o ControlPath=none -o ConnectTimeout=5"
	cat >"$dir/ssh_config" <<EOF
# ssh -F $dir/ssh_config root@ADDR
Host *
	User root
	IdentityFile $dir/id_ed25519
	IdentitiesOnly yes
	UserKnownHostsFile $dir/known_hosts
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	BatchMode yes
	UpdateHostKeys no
	ControlPath none
	ConnectTimeout 5
EOF
	while read -r i ns _ _ addr _ _ _; do
		hosts="$hosts root@$addr"
		addrs="$addrs $addr"
		nss="$nss $ns"
	done <"$dir/hosts"
	cat >"$dir/env.sh.tmp" <<EOF
# made by scripts/ssh/hosts.sh up; source it: . $dir/env.sh
export SSH_TEST_DIR='$dir'
export SSH_TEST_KEY='$dir/id_ed25519'
export SSH_TEST_KNOWN_HOSTS='$dir/known_hosts'
export SSH_TEST_CONFIG='$dir/ssh_config'
export SSH_TEST_OPTS='$opts'
export SSH_TEST_HOSTS='${hosts# }'
export SSH_TEST_ADDRS='${addrs# }'
export SSH_TEST_PORT='22'
export SSH_TEST_HOST_ADDR='$haddr'
export SSH_TEST_NS='${nss# }'
export SSH_TEST_MODE='$mode'
EOF

	# Wait until every sshd takes a real login.
	local deadline err
	for ((i = 1; i <= n; i++)); do
		load_host "$dir" "$i"
		addr=$H_ADDR
		deadline=$((SECONDS + 15))
		# shellcheck disable=SC2086
		until err=$(ssh $opts -o ConnectTimeout=2 "root@$addr" true 2>&1 </dev/null); do
			if [ $SECONDS -ge $deadline ]; then
				say "host $i (root@$addr in $H_NS) takes no ssh login after 15 s; ssh said: $err"
				say "last lines of $dir/sshd-$i.log:"
				tail -n 30 "$dir/sshd-$i.log" >&2 || true
				exit 1
			fi
			sleep 0.2
		done
	done
	mv "$dir/env.sh.tmp" "$dir/env.sh"
	say "$n host(s) up in $((SECONDS - t0)) s ($mode, $NET_PREFIX.$k.0/24); . $dir/env.sh"
}

# --- down -----------------------------------------------------------------------

# Pids of live processes whose net namespace has inode $1.
pids_in_netns_inode() {
	local p l
	for p in /proc/[0-9]*; do
		l=$(readlink "$p/ns/net" 2>/dev/null) || continue
		[ "$l" = "net:[$1]" ] && echo "${p#/proc/}"
	done
	return 0
}

# Pids of processes whose command line holds MARKER (never this process or
# its ancestors).
pids_with_marker() {
	local p pid skip=" $$ $BASHPID " a
	a=$$
	while [ "$a" -gt 1 ]; do
		a=$(awk '{ print $4 }' "/proc/$a/stat" 2>/dev/null) || break
		skip="$skip$a "
	done
	# A marker is a path, never split over two arguments, so the NUL
	# separators of cmdline do not matter.
	# grep matches itself too: collect first, then keep only the live ones.
	local found
	found=$(grep -laF -- "$1" /proc/[0-9]*/cmdline 2>/dev/null || true)
	for p in $found; do
		pid=${p#/proc/}
		pid=${pid%/cmdline}
		case $skip in *" $pid "*) continue ;; esac
		grep -qaF -- "$1" "$p" 2>/dev/null && echo "$pid"
	done
	return 0
}

# Same, less other hosts.sh invocations on DIR (a concurrent `down`, say).
others_with_marker() {
	local pid
	for pid in $(pids_with_marker "$1"); do
		tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q 'hosts\.sh' || echo "$pid"
	done
	return 0
}

do_down() {
	local dir=$1 problems=() i ns vh vn inode pid pids round lines l
	if [ ! -e "$dir" ]; then
		say "down: $dir is already gone"
		return 0
	fi
	[ -d "$dir" ] || die "down: $dir is not a folder"
	dir=$(abs_dir "$dir")
	if [ ! -f "$dir/.pdt-hosts" ]; then
		# An empty folder (an `up` that stopped before making anything).
		rmdir "$dir" 2>/dev/null && return 0
		die "down: refusing to touch $dir: not made by '$PROG up' (no .pdt-hosts) and not empty"
	fi
	[ "$dir" != / ] || die "down: DIR cannot be /"
	lines=()
	[ -f "$dir/hosts" ] && mapfile -t lines <"$dir/hosts"

	# 1. The listeners, by pid file.
	for l in "${lines[@]}"; do
		read -r i _ <<<"$l"
		if pid=$(listener_pid "$dir" "$i"); then
			kill -TERM "$pid" 2>/dev/null || true
			wait_gone 20 "$pid" || kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	# 2. Whatever still runs inside each namespace (sessions, agents,
	#    `break port` holders), then the namespace and the veths.
	for l in "${lines[@]}"; do
		read -r i ns vh vn _ _ _ inode <<<"$l"
		if ns_exists "$ns"; then
			for ((round = 0; round < 30; round++)); do
				pids=$(ip netns pids "$ns" 2>/dev/null || true)
				[ -z "$pids" ] && break
				# shellcheck disable=SC2086
				kill -KILL $pids 2>/dev/null || true
				sleep 0.1
			done
			ip netns del "$ns" 2>/dev/null || problems+=("cannot delete namespace $ns")
		fi
	done
	# 3. Any sshd of this DIR that lost its pid file (marker: its config),
	#    then anything else naming DIR/ (ssh clients using DIR's key, say):
	#    they get 2 s to end by themselves now that the servers are gone.
	pids=$(pids_with_marker "$dir/sshd-")
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
		# shellcheck disable=SC2086
		wait_gone 30 $pids || true
	fi
	pids=$(others_with_marker "$dir/")
	# shellcheck disable=SC2086
	if [ -n "$pids" ] && ! wait_gone 20 $pids; then
		for pid in $(others_with_marker "$dir/"); do
			say "down: killing leftover process $pid: $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")"
			kill -KILL "$pid" 2>/dev/null || true
			wait_gone 20 "$pid" || true
		done
	fi
	# 4. Veths vanish once the namespace is freed (asynchronously).
	for l in "${lines[@]}"; do
		read -r i ns vh vn _ _ _ inode <<<"$l"
		for ((round = 0; round < 50; round++)); do
			ip link show dev "$vh" >/dev/null 2>&1 || break
			[ $round -eq 20 ] && { ip link del "$vh" 2>/dev/null || true; }
			sleep 0.1
		done
	done
	# 5. Check that nothing remains.
	for l in "${lines[@]}"; do
		read -r i ns vh vn _ _ _ inode <<<"$l"
		ns_exists "$ns" && problems+=("namespace $ns still exists")
		ip link show dev "$vh" >/dev/null 2>&1 && problems+=("link $vh still exists")
		if [ "${inode:-0}" != 0 ]; then
			pids=$(pids_in_netns_inode "$inode")
			[ -n "$pids" ] && problems+=("processes still in the namespace of $ns (net:[$inode]): ${pids//$'\n'/ }")
		fi
	done
	for pid in $(others_with_marker "$dir/"); do
		problems+=("process $pid still has $dir/ in its command line: $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")")
	done
	if [ ${#problems[@]} -gt 0 ]; then
		for l in "${problems[@]}"; do say "down: $l"; done
		say "down: $dir kept because the above could not be removed"
		return 1
	fi
	rm -rf -- "$dir"
	say "down: removed ${#lines[@]} host(s) and $dir"
}

cmd_down() {
	[ $# -eq 1 ] || usage
	need_root
	do_down "$1"
}

# --- exec / kill-sessions / break --------------------------------------------------

cmd_exec() {
	[ $# -ge 3 ] || usage
	local dir i
	dir=$(abs_dir "$1") || die "no folder $1"
	i=$2
	shift 2
	load_host "$dir" "$i"
	ns_exists "$H_NS" || die "namespace $H_NS of host $i does not exist"
	exec ip netns exec "$H_NS" "$@"
}

cmd_kill_sessions() {
	[ $# -ge 2 ] || usage
	local dir i all=0 lp p victims=() c
	dir=$(abs_dir "$1") || die "no folder $1"
	i=$2
	[ "${3:-}" = --all ] && all=1
	load_host "$dir" "$i"
	lp=$(listener_pid "$dir" "$i") || die "host $i: no live sshd listener (pid file $dir/sshd-$i.pid)"
	for p in $(descendants "$lp"); do
		c=$(cat "/proc/$p/comm" 2>/dev/null) || continue
		if [ $all = 1 ] || [ "$c" = sshd ]; then
			victims+=("$p")
		fi
	done
	[ ${#victims[@]} -gt 0 ] || die "host $i: no ssh sessions to kill"
	kill -KILL "${victims[@]}" 2>/dev/null || true
	printf '%s\n' "${victims[@]}"
}

cmd_break() {
	[ $# -ge 3 ] || usage
	local dir i what lp old new deadline
	dir=$(abs_dir "$1") || die "no folder $1"
	i=$2
	what=$3
	load_host "$dir" "$i"
	case $what in
	hostkey)
		lp=$(listener_pid "$dir" "$i") || die "host $i: no live sshd listener"
		old=$(cut -d' ' -f2 "$dir/hostkey-$i.pub")
		rm -f "$dir/hostkey-$i.new" "$dir/hostkey-$i.new.pub"
		ssh-keygen -q -t ed25519 -N '' -C "pdt-host-$i-replaced" -f "$dir/hostkey-$i.new"
		mv "$dir/hostkey-$i.new.pub" "$dir/hostkey-$i.pub"
		mv "$dir/hostkey-$i.new" "$dir/hostkey-$i"
		new=$(cut -d' ' -f2 "$dir/hostkey-$i.pub")
		# SIGHUP: sshd re-executes itself (same pid) and reads the new key.
		kill -HUP "$lp"
		deadline=$((SECONDS + 10))
		until ssh-keyscan -T 2 -t ed25519 "$H_ADDR" 2>/dev/null | grep -qF -- "$new"; do
			[ $SECONDS -lt $deadline ] || die "host $i still serves its old host key after SIGHUP"
			sleep 0.1
		done
		say "host $i now has a new host key (was ${old:0:16}...)"
		;;
	auth)
		: >"$dir/authorized_keys-$i"
		say "host $i: authorized_keys emptied"
		;;
	port)
		local port=${4:-} pid
		case $port in '' | *[!0-9]*) die "break port needs a PORT number" ;; esac
		# One dual-stack [::]:PORT listener also holds 127.0.0.1:PORT and
		# ::1:PORT, which is what `ssh -R PORT:...` asks sshd to bind.
		ip netns exec "$H_NS" socat "TCP6-LISTEN:$port,ipv6only=0,fork" /dev/null </dev/null >/dev/null 2>"$dir/break-port-$i-$port.log" &
		pid=$!
		echo "$pid" >"$dir/break-port-$i-$port.pid"
		deadline=$((SECONDS + 5))
		until ip netns exec "$H_NS" ss -Hltn "sport = :$port" | grep -q .; do
			if ! kill -0 "$pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
				cat "$dir/break-port-$i-$port.log" >&2 || true
				die "host $i: could not occupy port $port"
			fi
			sleep 0.05
		done
		echo "$pid"
		;;
	*) usage ;;
	esac
}

main() {
	local cmd=${1:-}
	[ $# -gt 0 ] && shift
	case $cmd in
	up) cmd_up "$@" ;;
	down) cmd_down "$@" ;;
	exec) cmd_exec "$@" ;;
	kill-sessions) cmd_kill_sessions "$@" ;;
	break) cmd_break "$@" ;;
	-h | --help | help) usage ;;
	*) usage ;;
	esac
}

main "$@"
