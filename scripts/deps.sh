#!/bin/sh
# deps.sh - installs the Debian 12 packages parade needs, if any is missing.
#   scripts/deps.sh build   what building needs
#   scripts/deps.sh test    what building and the test suite need
# Needs root (or sudo) only when something is missing.
set -eu
build="build-essential autoconf automake pkg-config libgnutls28-dev libnanomsg-dev
libsqlite3-dev libcunit1-dev libslurm-dev"
test="gnutls-bin nanomsg-utils procps openssh-server openssh-client iproute2 socat sshfs
slurmctld slurmd slurm-client munge r-base-core python3 clang libclang-rt-14-dev"
want=$build
[ "${1:-build}" = test ] && want="$build $test"
missing=
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "parade: installing:$missing" >&2
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2 || echo "parade: apt-get update failed; trying the cached lists" >&2
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >&2
