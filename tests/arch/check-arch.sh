#!/bin/sh
# check-arch.sh: cross-builds inferd for ARCH, runs its suites under qemu-user, compares its answers with amd64's.
#
# Usage: check-arch.sh ARCH [ARCH...]   (make check-arch ARCH=arm64; check-arch-all)
# Environment: top_srcdir, top_builddir (an amd64 build tree, made first: the reference
# daemon); CHECK_ARCH_DEBS=no skips the packages; JOBS (default 2).
# For each ARCH (arm64: another ISA; i386: 32 bits, no __int128, SSE2 floats):
#   deps     the cross compiler, qemu-user and the Build-Depends for ARCH (multiarch),
#            installed when missing (root) with apt, as on a fresh machine
#   build    ./configure --host=TRIPLET --enable-werror in $top_builddir/arch-ARCH, make
#   suites   make check there, foreign programs under qemu-user (run-suites.sh): each
#            Check suite and script, the exactness suite among them, is one result
#   compare  compare.py: amd64 and every ARCH daemon given the same requests, answers
#            identical byte for byte (one result); fingerprint-diff.sh: inferctl
#            fingerprint --diff of the two builds names the architecture only (one result)
#   deb      dpkg-buildpackage -a ARCH twice: built, bit-identical, lintian-clean (three
#            results; cross-deb.sh)
# Ends with one line per ARCH: "check-arch ARCH: N passed, N failed", and exits 1 on a
# failure.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/arch.sh"
jobs=${JOBS:-2}
export DEBIAN_FRONTEND=noninteractive
apt="apt-get -q -y -o DPkg::Lock::Timeout=600"
status=0
now() { date +%s; }

# deps ARCH: what a cross build and its tests need, installed when missing.
deps() {
	if (cd "$top_srcdir" && dpkg-checkbuilddeps -a "$1" -Pnocheck >/dev/null 2>&1) &&
		command -v "$GNU_TYPE-gcc" >/dev/null && command -v "${QEMU%% *}" >/dev/null; then
		return 0
	fi
	[ "$(id -u)" = 0 ] || { echo "deps: run as root to install the $1 build dependencies"; return 1; }
	case " $(dpkg --print-foreign-architectures | tr '\n' ' ') " in
	*" $1 "*) ;;
	*) dpkg --add-architecture "$1" ;;
	esac
	$apt update >/dev/null &&
		$apt install --no-install-recommends "crossbuild-essential-$1" qemu-user >/dev/null &&
		(cd "$top_srcdir" && $apt build-dep -a "$1" ./ >/dev/null)
}

result() { # NAME RC
	if [ "$2" = 0 ]; then pass=$((pass + 1)); echo "PASS $1"; else fail=$((fail + 1)); echo "FAIL $1"; fi
}

amd64_ok=
daemons="amd64=$top_builddir/src/inferd"
for arch in "$@"; do
	pass=0 fail=0
	arch_names "$arch" || { echo "check-arch: unknown architecture '$arch' (arm64, i386)"; exit 2; }
	b=$top_builddir/arch-$arch
	t0=$(now)
	deps "$arch"; result "deps $arch ($(($(now) - t0)) s)" $?
	t0=$(now)
	mkdir -p "$b" &&
		{ [ -f "$b/config.status" ] ||
			(cd "$b" && "$top_srcdir/configure" --host="$GNU_TYPE" --enable-werror >configure.out 2>&1) ||
			{ tail -n 30 "$b/configure.out"; false; }; } &&
		{ make -C "$b" -j"$jobs" >"$b/make.out" 2>&1 || { tail -n 40 "$b/make.out"; false; }; } &&
		make -C "$b/tests" -j"$jobs" check TESTS= >>"$b/make.out" 2>&1
	rc=$?; result "build $arch ($(($(now) - t0)) s)" $rc
	if [ $rc = 0 ]; then
		t0=$(now)
		sh "$here/run-suites.sh" "$arch" "$b" | tee "$b/suites.out"
		p=$(sed -n 's/^suites .*: \([0-9]*\) passed.*/\1/p' "$b/suites.out")
		f=$(sed -n 's/^suites .*, \([0-9]*\) failed.*/\1/p' "$b/suites.out")
		pass=$((pass + ${p:-0})) fail=$((fail + ${f:-1}))
		echo "suites $arch: $(($(now) - t0)) s"
		arch_wrap "$arch" "$b"
		daemons="$daemons $arch=$b/src/inferd"
		t0=$(now)
		top_srcdir=$top_srcdir /usr/bin/python3 "$here/compare.py" "amd64=$top_builddir/src/inferd" \
			"$arch=$b/src/inferd"
		result "compare amd64 $arch ($(($(now) - t0)) s)" $?
		top_srcdir=$top_srcdir sh "$here/fingerprint-diff.sh" "$arch" "$top_builddir" "$b"
		result "fingerprint --diff amd64 $arch" $?
	fi
	if [ "${CHECK_ARCH_DEBS:-yes}" != no ]; then
		t0=$(now)
		d=$top_builddir/arch-deb-$arch
		pv=$(sed -n 's/^PACKAGE = //p' "$top_builddir/Makefile")-$(sed -n 's/^VERSION = //p' "$top_builddir/Makefile")
		rm -rf "$d" && mkdir -p "$d" && make -C "$top_builddir" distdir >/dev/null 2>&1 &&
			mv "$top_builddir/$pv" "$d/$pv" &&
			sh "$here/cross-deb.sh" "$arch" "$d/$pv" "$d/out" | tee "$d/deb.out"
		grep -q ": built " "$d/deb.out"; result "deb $arch built" $?
		grep -q "reproducible: yes" "$d/deb.out"; result "deb $arch reproducible" $?
		grep -q "lintian: clean" "$d/deb.out"; result "deb $arch lintian" $?
		echo "deb $arch: $(($(now) - t0)) s"
	fi
	[ $fail = 0 ] || status=1
	eval "summary_$arch=\"check-arch $arch: $pass passed, $fail failed\""
done
if [ $# -gt 1 ]; then
	t0=$(now)
	# shellcheck disable=SC2086 # one word per daemon
	top_srcdir=$top_srcdir /usr/bin/python3 "$here/compare.py" $daemons
	rc=$?; [ $rc = 0 ] || status=1
	echo "compare all ($daemons): $([ $rc = 0 ] && echo PASS || echo FAIL) ($(($(now) - t0)) s)"
fi
for arch in "$@"; do eval "echo \"\$summary_$arch\""; done
exit $status
