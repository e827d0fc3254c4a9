#!/bin/sh
# check-hardening.sh: hardening-check (devscripts) on inferd's binaries, in a .deb or as installed.
#
# Usage: tests/check-hardening.sh DEB-OR-BINARY...
#   A .deb is unpacked and its usr/sbin/inferd and usr/bin/inferctl are checked; any
#   other argument is a binary (e.g. /usr/local/sbin/inferd after the README's build).
# Every check hardening-check makes for a feature of Debian's hardening=+all (what
# debian/rules and the README's build ask dpkg-buildflags for) must pass: PIE, stack
# protector, fortify source, read-only relocations, immediate binding. Control-flow
# protection is required only where dpkg-buildflags has it (its "branch" feature, not in
# Debian 12's dpkg 1.21: there, Debian's own binaries such as curl fail that check too).
# Exit status: 0 all pass, 1 a check failed
# or a file is missing, 2 usage, 77 hardening-check is not installed (devscripts).
set -u

if [ $# -eq 0 ]; then
	echo "usage: check-hardening.sh DEB-OR-BINARY..." >&2
	exit 2
fi
if ! command -v hardening-check >/dev/null 2>&1; then
	echo "SKIP: hardening-check is not installed (Debian: apt-get install devscripts)"
	exit 77
fi

opts=
if ! DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --query-features hardening 2>/dev/null |
	grep -qx 'Feature: branch'; then
	opts=--nocfprotection
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bins=
n=0
for a in "$@"; do
	case $a in
	*.deb)
		n=$((n + 1))
		dpkg-deb -x "$a" "$tmp/$n" || exit 1
		bins="$bins $tmp/$n/usr/sbin/inferd $tmp/$n/usr/bin/inferctl"
		;;
	*) bins="$bins $a" ;;
	esac
done

rc=0
for b in $bins; do
	if [ ! -f "$b" ]; then
		echo "FAIL: no such file: $b"
		rc=1
		continue
	fi
	# A failed check makes the exit status non-zero; every line is shown either way.
	if out=$(hardening-check $opts "$b" 2>&1); then
		echo "ok: hardening-check $opts $b"
	else
		echo "FAIL: hardening-check $opts $b"
		rc=1
	fi
	echo "$out" | tail -n +2 | sed 's/^ */  /'
done
exit $rc
