#!/bin/sh
# run-all.sh: installs what the tests need, builds, and runs every test (README, CI).
#
# Run as root on a fresh Debian 12 machine from the top of a clean checkout:
#     ./tests/run-all.sh
# Stages, each timed:
#   deps        Build-Depends from debian/control, plus the system-test tools
#   werror      --enable-werror build, `make check` (unit, integration, exactness, ...)
#   valgrind    the same suites under memcheck: zero errors, no definite leaks
#   sanitizers  ASan+UBSan build, `make check`
#   distcheck   `make distcheck`
#   fuzz        each libFuzzer harness for FUZZ_SECONDS (default 60) under ASan+UBSan
#   soak        60 s at 64 connections: zero errors, flat RSS and fds
#   package     `make deb`, lintian (errors and warnings fail), hardening-check on its
#               binaries, two builds bit-identical
#   e2e         the .deb in a real systemd container (podman): install, smoke, reload,
#               restart, upgrade with rollback, kill -9, watchdog, purge; autopkgtest;
#               piuparts
#   container   the OCI image from the same .deb, run and driven from the host
#   arch        `make check-arch ARCH=${INFERD_ARCH:-arm64}` without the packages: the
#               cross build's Check suites under qemu-user, its answers against amd64's
#               byte for byte (every suite and the packages: make check-arch-all)
# A stage that cannot run on this machine (no podman, no clang) is counted as skipped,
# with its reason. INFERD_STAGES="werror sanitizers" runs only those stages.
# Ends with one line: "tests: N passed, N failed, N skipped".
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
jobs=$(nproc 2>/dev/null || echo 2)
export DEBIAN_FRONTEND=noninteractive
stages=${INFERD_STAGES:-deps werror valgrind sanitizers distcheck fuzz soak package e2e container arch}

passed=0 failed=0 skipped=0 status=0
summary=""

say() { printf '\n=== %s\n' "$*"; }
want() { case " $stages " in *" $1 "*) return 0 ;; esac; return 1; }
now() { date +%s; }

# record NAME RC T0: one result per stage-level check (0 pass, 77 skip, else fail).
record() {
	dt=$(($(now) - $3))
	case $2 in
	0) passed=$((passed + 1)); r=PASS ;;
	77) skipped=$((skipped + 1)); r=SKIP ;;
	*) failed=$((failed + 1)); status=1; r=FAIL ;;
	esac
	summary="$summary
  $r $1 (${dt} s)"
	say "$r $1 (${dt} s)"
}

# count DIR: adds the automake .trs results below DIR to the totals.
count() {
	for trs in $(find "$1" -name '*.trs'); do
		case $(sed -n 's/^:test-result: //p' "$trs") in
		PASS) passed=$((passed + 1)) ;;
		SKIP) skipped=$((skipped + 1)) ;;
		*) failed=$((failed + 1)); status=1 ;;
		esac
	done
}

# build NAME CONFIGURE-ARGS...: a fresh build tree build-NAME.
build() {
	name=$1; shift
	say "build-$name: configure $*"
	rm -rf "build-$name" && mkdir "build-$name" || return 1
	(cd "build-$name" && ../configure "$@" >configure.out 2>&1) || {
		tail -n 40 "build-$name/configure.out"; return 1; }
	make -C "build-$name" -j"$jobs" >"build-$name/make.out" 2>&1 || {
		tail -n 60 "build-$name/make.out"; return 1; }
}

# check NAME [TARGET]: `make TARGET` (default check) in build-NAME, counting each test.
check() {
	rm -f "build-$1/tests/"*.trs
	rc=0
	make -C "build-$1" -j"$jobs" "${2:-check}" || rc=$?
	[ $rc -eq 0 ] || tail -n 200 "build-$1/tests/test-suite.log" 2>/dev/null
	count "build-$1/tests"
	[ $rc -eq 0 ] || { status=1; say "build-$1: make ${2:-check} failed"; }
}

if want deps; then
	t0=$(now)
	say "installing build and test dependencies (debian/control Build-Depends)"
	apt-get update -q &&
		apt-get build-dep -y -q ./ &&
		apt-get install -y -q --no-install-recommends \
			clang libclang-rt-14-dev \
			lintian diffoscope-minimal fakeroot \
			podman buildah runc uidmap mmdebstrap piuparts autopkgtest \
			python3-sklearn python3-prometheus-client python3-yaml &&
		{ command -v hardening-check >/dev/null 2>&1 ||
			apt-get install -y -q --no-install-recommends devscripts; }
	record deps $? "$t0"
fi

say "autoreconf"
autoreconf -fi || exit 1

if want werror; then
	t0=$(now)
	if build werror --enable-werror; then check werror; else record "werror build" 1 "$t0"; fi
	say "werror: $(($(now) - t0)) s"
fi

if want valgrind; then
	t0=$(now)
	if ! command -v valgrind >/dev/null 2>&1; then
		echo "SKIP: valgrind is not installed"; record valgrind 77 "$t0"
	elif [ -d build-werror ] || build werror --enable-werror; then
		say "build-werror: make check-valgrind (memcheck: zero errors, no definite leaks)"
		rm -f build-werror/tests/*.trs
		rc=0; make -C build-werror/tests check-valgrind || rc=$?
		[ $rc -eq 0 ] || tail -n 200 build-werror/tests/test-suite.log
		count build-werror/tests
		[ $rc -eq 0 ] || status=1
	fi
	say "valgrind: $(($(now) - t0)) s"
fi

if want sanitizers; then
	t0=$(now)
	if build sanitizers --enable-werror --enable-sanitizers; then check sanitizers
	else record "sanitizers build" 1 "$t0"; fi
	say "sanitizers: $(($(now) - t0)) s"
fi

# The system-level stages need a configured tree; build-werror serves them all.
[ -d build-werror ] || build werror --enable-werror || { record "werror build" 1 "$(now)"; }

if want distcheck; then
	t0=$(now)
	say "make distcheck"
	make -C build-werror -j"$jobs" distcheck >build-werror/distcheck.out 2>&1
	rc=$?; [ $rc -eq 0 ] && tail -n 4 build-werror/distcheck.out || tail -n 80 build-werror/distcheck.out
	record distcheck $rc "$t0"
fi

if want fuzz; then
	t0=$(now)
	say "make fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-60}"
	make -C build-werror fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
	record fuzz $? "$t0"
fi

if want soak; then
	t0=$(now)
	say "make check-soak"
	make -C build-werror check-soak
	record soak $? "$t0"
fi

if want package; then
	t0=$(now)
	say "make deb"
	make -C build-werror deb >build-werror/deb.out 2>&1
	rc=$?; tail -n 6 build-werror/deb.out
	record "deb build" $rc "$t0"
	if [ $rc -eq 0 ]; then
		t0=$(now); say "lintian --fail-on error,warning"
		make -C build-werror deb-lint
		record lintian $? "$t0"
		t0=$(now); say "hardening-check on the packaged binaries"
		sh tests/check-hardening.sh build-werror/deb-build/inferd_*.deb
		record "hardening-check" $? "$t0"
	fi
	t0=$(now); say "make check-repro (two builds, bit-identical .deb)"
	make -C build-werror check-repro
	record "reproducible .deb" $? "$t0"
fi

if want e2e; then
	t0=$(now)
	say "make check-e2e (the .deb in a systemd container)"
	if [ -n "$(ls build-werror/deb-build/*.deb 2>/dev/null)" ]; then
		top_srcdir=$top top_builddir=$top/build-werror \
			bash tests/e2e/systemd-e2e.sh build-werror/deb-build
	else
		make -C build-werror check-e2e
	fi
	record "systemd e2e" $? "$t0"
fi

if want container; then
	t0=$(now)
	say "make check-container (OCI image from the .deb)"
	make -C build-werror check-container
	record "container" $? "$t0"
fi

if want arch; then
	t0=$(now)
	say "make check-arch ARCH=${INFERD_ARCH:-arm64} (cross build under qemu-user, compared with amd64)"
	# The Check suites under qemu (the script suites, exactness among them, run there in
	# make check-arch; under emulation they would take most of CI's time).
	ARCH_TESTS='$(UNIT_TESTS)' CHECK_ARCH_DEBS=no make -C build-werror check-arch ARCH="${INFERD_ARCH:-arm64}"
	record "check-arch ${INFERD_ARCH:-arm64}" $? "$t0"
fi

say "summary"
printf '%s\n' "$summary"
echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
