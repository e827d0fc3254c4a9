#!/bin/sh
# run-all.sh: installs what the tests need, builds, and runs every test (README, CI).
#
# Run as root on a fresh Debian 12 machine from the top of a clean checkout:
#     ./tests/run-all.sh
# Stages: dependencies; a --enable-werror build with `make check` and the valgrind
# pass; an ASan+UBSan build with `make check`; `make distcheck`. Build trees go under
# ./build-*/ (ignored by git). Ends with one line "tests: N passed, N failed, N skipped".
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)
export DEBIAN_FRONTEND=noninteractive

say() { printf '\n=== %s\n' "$*"; }

if [ "${INFERD_SKIP_DEPS:-0}" != 1 ]; then
	say "installing build and test dependencies (debian/control Build-Depends)"
	apt-get update -q
	apt-get build-dep -y -q ./
fi

say "autoreconf"
autoreconf -fi

passed=0 failed=0 skipped=0
count() { # count DIR: adds the automake .trs results below DIR to the totals
	for trs in $(find "$1" -name '*.trs'); do
		case $(sed -n 's/^:test-result: //p' "$trs") in
		PASS) passed=$((passed + 1)) ;;
		SKIP) skipped=$((skipped + 1)) ;;
		*) failed=$((failed + 1)) ;;
		esac
	done
}
stage() { # stage NAME CONFIGURE-ARGS...: configure and `make check` in build-NAME
	name=$1; shift
	say "build-$name: configure $*"
	rm -rf "build-$name" && mkdir "build-$name"
	(cd "build-$name" && ../configure "$@" >configure.out) || { cat "build-$name/configure.out"; return 1; }
	say "build-$name: make check"
	rc=0
	make -C "build-$name" -j"$jobs" check || rc=$?
	[ $rc -eq 0 ] || tail -n 200 "build-$name/tests/test-suite.log" || true
	count "build-$name"
	return $rc
}

status=0
stage werror --enable-werror || status=1

if command -v valgrind >/dev/null 2>&1; then
	say "build-werror: make check-valgrind (memcheck: zero errors, no definite leaks)"
	find build-werror -name '*.trs' -delete
	make -C build-werror/tests check-valgrind || status=1
	count build-werror/tests
else
	say "valgrind missing: memcheck pass skipped"
	skipped=$((skipped + 1))
fi

stage sanitizers --enable-werror --enable-sanitizers || status=1

say "make distcheck"
if make -C build-werror -j"$jobs" distcheck >build-werror/distcheck.out 2>&1; then
	passed=$((passed + 1)); tail -n 4 build-werror/distcheck.out
else
	failed=$((failed + 1)); status=1; tail -n 80 build-werror/distcheck.out
fi

echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
