#!/bin/sh
# check-format.sh: every C source and header is formatted as .clang-format says.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
command -v clang-format >/dev/null 2>&1 || { echo "SKIP: clang-format is not installed"; exit 77; }
cd "$top_srcdir" || exit 1
bad=0 n=0
for f in src/*.c src/*.h tests/*.c tests/*.h tests/bench/*.c tests/fuzz/*.c; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "not formatted: $f (run: clang-format -i $f)"
		bad=$((bad + 1))
	fi
done
echo "$((n - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
