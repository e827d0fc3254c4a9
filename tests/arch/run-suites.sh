#!/bin/sh
# run-suites.sh: make check of a cross build tree, every foreign program run under qemu-user.
#
# Usage: run-suites.sh ARCH BUILDDIR
# binfmt_misc is not mounted on the build machines, so a foreign program cannot be exec'ed
# directly. The Check suites run through automake's LOG_COMPILER; the daemon and inferctl,
# which the scripts and the suites start by path, are wrapped (arch_wrap in arch.sh).
# Tests that read `uname -m` see the emulated machine's name through a uname on PATH that
# answers as the emulated programs' uname(2) does.
# Ends with "suites ARCH: N passed, N failed, N skipped" and exits 1 on any failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/arch.sh"
arch=$1 b=$(cd "$2" && pwd)
arch_names "$arch" || { echo "run-suites: unknown architecture $arch"; exit 2; }
qemu_prog=${QEMU%% *}
command -v "$qemu_prog" >/dev/null || { echo "run-suites: $qemu_prog missing (apt-get install qemu-user)"; exit 1; }

# Built first (a relink would replace the wrappers), then the daemon and client wrapped.
make -C "$b" -j"${JOBS:-2}" all >"$b/build-$arch.out" 2>&1 &&
	make -C "$b/tests" -j"${JOBS:-2}" check TESTS= >>"$b/build-$arch.out" 2>&1 ||
	{ tail -n 40 "$b/build-$arch.out"; echo "suites $arch: 0 passed, 1 failed, 0 skipped (build)"; exit 1; }
arch_wrap "$arch" "$b" || exit 1

# uname as the emulated programs see it.
shim=$(mktemp -d "${TMPDIR:-/tmp}/inferd-arch-bin.XXXXXX") || exit 1
trap 'rm -rf "$shim"' EXIT
host_m=$(uname -m)
cat >"$shim/uname" <<EOS
#!/bin/sh
# uname -m as $QEMU reports it to the programs it runs.
/bin/uname "\$@" | sed 's/$host_m/$UNAME_M/g'
EOS
chmod 755 "$shim/uname"

rm -f "$b"/tests/*.trs "$b"/tests/*.log
t0=$(date +%s)
# INFERD_EMULATOR names the emulator, for a suite that cannot run under it to skip (77).
# ARCH_TESTS narrows the run (CI's arch stage: '$(UNIT_TESTS)', the Check suites); unset, all.
if [ -n "${ARCH_TESTS:-}" ]; then set -- TESTS="$ARCH_TESTS"; else set --; fi
PATH="$shim:$PATH" INFERD_EMULATOR=${QEMU%% *} make -C "$b" -j"${JOBS:-2}" check LOG_COMPILER="$QEMU" "$@" >"$b/check-$arch.out" 2>&1
rc=$?
t1=$(date +%s)
pass=0 fail=0 skip=0
for trs in "$b"/tests/*.trs; do
	[ -f "$trs" ] || continue
	r=$(sed -n 's/^:test-result: //p' "$trs")
	name=$(basename "$trs" .trs)
	case $r in
	PASS) pass=$((pass + 1)) ;;
	SKIP) skip=$((skip + 1)); echo "SKIP $name: $(grep -m1 -i 'skip' "$b/tests/$name.log")" ;;
	*) fail=$((fail + 1)); echo "FAIL $name"; grep -E '^(FAIL|.*:F:|.*:E:)' "$b/tests/$name.log" | head -n 8 ;;
	esac
done
grep -h '^summary:' "$b/tests/exactness.log" 2>/dev/null | sed "s/^/exactness $arch: /"
[ $rc -eq 0 ] || [ $fail -gt 0 ] || { fail=$((fail + 1)); tail -n 30 "$b/check-$arch.out"; }
echo "suites $arch: $pass passed, $fail failed, $skip skipped ($((t1 - t0)) s)"
[ $fail -eq 0 ]
