#!/bin/sh
# check-man.sh: the man pages name every config key, inferd option, inferctl command and
# inferd-golden option.
# The lists come from the code itself (conf.c's key table, main.c's getopt table,
# ctl.c's usage text), so a key or command added without its documentation fails here.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
cd "$top_srcdir" || exit 1
pass=0 fail=0
need() { # need PAGE WORD WHAT
	if grep -q "\*$2\*" "docs/man/$1"; then
		pass=$((pass + 1))
	else
		echo "FAIL: docs/man/$1 does not document $3 $2"
		fail=$((fail + 1))
	fi
}
keys=$(grep -o '{"[a-z_0-9]*", K_' src/conf.c | sed 's/{"//; s/", K_//' | sort -u)
opts=$(grep -o '{"[a-z-]*", [a-z]*_argument' src/main.c | sed 's/{"//; s/",.*//')
cmds=$(sed -n 's/^    "  \([a-z][a-z-]*\) .*/\1/p' src/ctl.c | sort -u)
[ -n "$keys" ] && [ -n "$opts" ] && [ -n "$cmds" ] || { echo "FAIL: cannot read the lists"; exit 1; }
for k in $keys; do need inferd.conf.5.scd "$k" "config key"; done
for o in $opts; do need inferd.8.scd "--$o" "option"; done
for c in $cmds; do need inferctl.1.scd "$c" "command"; done
# inferd-golden's options, from its argparse calls.
gopts=$(grep -o 'add_argument([^)]*"--[a-z-]*"' tools/inferd-golden | sed 's/.*"--//; s/"$//')
[ -n "$gopts" ] || { echo "FAIL: cannot read inferd-golden's options"; exit 1; }
for o in $gopts; do need inferd-golden.1.scd "--$o" "option"; done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
