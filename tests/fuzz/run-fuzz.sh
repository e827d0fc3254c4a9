#!/bin/sh
# run-fuzz.sh: builds the libFuzzer harnesses under ASan+UBSan (clang) and runs each for FUZZ_SECONDS.
#
# Environment: top_srcdir, top_builddir (set by `make fuzz`), FUZZ_SECONDS (default 60),
# FUZZ_JOBS (harnesses run at once, default 2), FUZZ_HARNESSES (default "infer model conf"),
# CLANG (default clang). Exit: 0 clean, 1 on any crash, leak, UB report or timeout, 77 when
# clang or libFuzzer is unusable here.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
mkdir -p "$top_builddir" && top_builddir=$(cd "$top_builddir" && pwd) || exit 1
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-2}
FUZZ_HARNESSES=${FUZZ_HARNESSES:-"infer model conf"}
CLANG=${CLANG:-clang}

fb=$top_builddir/fuzz-build
out=$fb/fuzz
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

skip() {
	echo "SKIP: run-fuzz.sh: $*"
	exit 77
}

case $FUZZ_SECONDS in
'' | *[!0-9]*) echo "run-fuzz.sh: FUZZ_SECONDS must be a number of seconds" >&2; exit 2 ;;
esac

command -v "$CLANG" >/dev/null 2>&1 || skip "$CLANG not found (install clang)"
command -v pkg-config >/dev/null 2>&1 || skip "pkg-config not found"
mkdir -p "$out" || exit 1

# libFuzzer ships with Debian's clang runtime; without it -fsanitize=fuzzer cannot link.
probe=$out/probe
cat >"$probe.c" <<'EOF'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return n > 0 && d[0] == 'x'; }
EOF
if ! "$CLANG" -fsanitize=fuzzer,address,undefined "$probe.c" -o "$probe" >"$probe.log" 2>&1 ||
	! "$probe" -runs=1 >>"$probe.log" 2>&1; then
	sed 's/^/  /' "$probe.log"
	skip "$CLANG cannot build or run a libFuzzer program (apt-get install libclang-rt-dev)"
fi

# The core library, instrumented for coverage and built by the project's own configure.
if [ ! -f "$fb/config.status" ] ||
	[ -n "$(find "$top_srcdir/configure" -newer "$fb/config.status" 2>/dev/null)" ]; then
	echo "run-fuzz.sh: configuring $fb"
	(cd "$fb" && CC=$CLANG "$top_srcdir/configure" --enable-sanitizers \
		CFLAGS="-g -O1 -fsanitize=fuzzer-no-link" >configure.log 2>&1) || {
		tail -20 "$fb/configure.log"
		echo "run-fuzz.sh: configure failed (see $fb/configure.log)" >&2
		exit 1
	}
fi
# The harnesses need only the parsing modules: when another module of the library does not
# build (work in progress), they are linked from the objects that did build instead.
core=$fb/src/libinferd.a
if ! make -C "$fb/src" libinferd.a >"$out/build.log" 2>&1; then
	make -k -C "$fb/src" libinferd.a >>"$out/build.log" 2>&1
	objs=
	for o in "$fb"/src/*.o; do
		case ${o##*/} in
		main.o | ctl.o | client.o | smoke.o | '*.o') ;;
		*) objs="$objs ${o##*/}" ;;
		esac
	done
	[ -n "$objs" ] || {
		tail -30 "$out/build.log"
		echo "run-fuzz.sh: building libinferd.a failed (see $out/build.log)" >&2
		exit 1
	}
	echo "run-fuzz.sh: warning: libinferd.a does not build (see $out/build.log); linking" \
		"the modules that do:$objs"
	rm -f "$out/libfuzzcore.a"
	# shellcheck disable=SC2086 # a list of object files
	(cd "$fb/src" && ar rcs "$out/libfuzzcore.a" $objs) || exit 1
	core=$out/libfuzzcore.a
fi

pkgs="jansson libconfig libmicrohttpd libsystemd nettle"
# shellcheck disable=SC2086 # a list of package names
pkg_cflags=$(pkg-config --cflags $pkgs) || exit 1
# shellcheck disable=SC2086
pkg_libs=$(pkg-config --libs $pkgs) || exit 1

# Dictionaries: the words the parsers branch on, so mutations reach past the keys.
write_dicts() {
	cat >"$out/infer.dict" <<'EOF'
"{"
"}"
"["
"]"
"\"inputs\":"
"\"outputs\":"
"\"data\":"
"\"shape\":"
"\"datatype\":"
"\"name\":"
"\"id\":"
"\"parameters\":"
"\"FP32\""
"\"FP64\""
"\"INT32\""
"\"INT64\""
"\"predict\""
"\"margin\""
"\"NaN\""
"\"Infinity\""
"\"-Infinity\""
"NaN"
"Infinity"
"-Infinity"
"null"
"true"
"e-45"
"e+38"
"1.17549435e-38"
"3.4028235e38"
"9007199254740993"
"\\u0000"
EOF
	cat >"$out/model.dict" <<'EOF'
"\"learner\":"
"\"gradient_booster\":"
"\"model\":"
"\"trees\":"
"\"tree_info\":"
"\"gbtree_model_param\":"
"\"num_trees\":"
"\"num_parallel_tree\":"
"\"learner_model_param\":"
"\"base_score\":"
"\"num_class\":"
"\"num_feature\":"
"\"num_target\":"
"\"objective\":"
"\"name\":"
"\"version\":"
"\"left_children\":"
"\"right_children\":"
"\"parents\":"
"\"split_indices\":"
"\"split_conditions\":"
"\"split_type\":"
"\"default_left\":"
"\"base_weights\":"
"\"categories\":"
"\"categories_nodes\":"
"\"tree_param\":"
"\"num_nodes\":"
"\"size_leaf_vector\":"
"\"weight_drop\":"
"\"weight\":"
"\"boosted_rounds\":"
"\"gbtree\""
"\"dart\""
"\"gblinear\""
"\"binary:logistic\""
"\"binary:logitraw\""
"\"binary:hinge\""
"\"reg:squarederror\""
"\"reg:logistic\""
"\"count:poisson\""
"\"reg:gamma\""
"\"reg:tweedie\""
"\"multi:softprob\""
"\"multi:softmax\""
"\"rank:pairwise\""
"2147483647"
"-1"
"NaN"
"Infinity"
"\"5E-1\""
EOF
	cat >"$out/conf.dict" <<'EOF'
"socket"
"path"
"mode"
"group"
"admin_group"
"limits"
"max_body_bytes"
"max_connections"
"connection_timeout"
"max_rows"
"max_json_depth"
"max_header_bytes"
"max_headers"
"request_timeout"
"max_model_bytes"
"max_trees"
"max_tree_depth"
"listen_tcp"
"server"
"threads"
"shutdown_grace"
"state_dir"
"log_level"
"models"
"name"
"version"
"golden"
"tolerance"
"num_feature"
"repository"
"smoke"
"timeout"
"requests"
"p99_ms"
"on_failure"
"\"latest\""
"\"rollback\""
"= {"
"= ("
"= ["
"};"
");"
"];"
"@include "
"0x7fffffff"
"9223372036854775807L"
"1e-6"
"\"0660\""
EOF
}
write_dicts

# libconfig 1.5 (Debian 12) leaks the pending string token when a syntax error discards it
# (upstream hyperrealm/libconfig#142, fixed in 1.7.3): a file holding just "x" leaks from
# strbuf_append, just "" from the scanner's calloc. Not ours, so not a finding; only those two
# allocation sites are suppressed, and conf.c's own leaks still fail the run.
printf 'leak:strbuf_append\nleak:libconfig_yylex\n' >"$out/lsan.supp"

for h in $FUZZ_HARNESSES; do
	case $h in
	infer) def=FUZZ_HARNESS_INFER ;;
	model) def=FUZZ_HARNESS_MODEL ;;
	conf) def=FUZZ_HARNESS_CONF ;;
	*) echo "run-fuzz.sh: unknown harness $h" >&2; exit 2 ;;
	esac
	# shellcheck disable=SC2086 # pkg-config output is a list of words
	"$CLANG" -std=gnu11 -g -O1 $SAN -fsanitize=fuzzer -D$def -include "$fb/config.h" \
		-I"$top_srcdir/src" $pkg_cflags "$here/fuzz_$h.c" "$core" \
		$pkg_libs -lm -o "$out/fuzz_$h" >"$out/fuzz_$h.build.log" 2>&1 || {
		cat "$out/fuzz_$h.build.log"
		echo "run-fuzz.sh: building fuzz_$h failed" >&2
		exit 1
	}
done

# Runs one harness; its summary line goes to $out/$h.result.
run_one() {
	h=$1
	case $h in
	model) max_len=1048576 ;;
	*) max_len=65536 ;;
	esac
	work=$out/work/$h
	art=$out/artifacts/$h
	rm -rf "$work"
	mkdir -p "$work/corpus" "$art"
	# The committed corpus is copied, so the run grows only the scratch copy.
	for d in "$top_srcdir/tests/fuzz/corpus/$h" "$top_srcdir/tests/fuzz/regressions/$h"; do
		[ -d "$d" ] && find "$d" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$work/corpus/" \;
	done
	start=$(date +%s)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1 \
	LSAN_OPTIONS=suppressions=$out/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	TMPDIR=$work \
		"$out/fuzz_$h" -max_total_time="$FUZZ_SECONDS" -max_len=$max_len \
		-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=25 -detect_leaks=1 \
		-print_final_stats=1 -dict="$out/$h.dict" -artifact_prefix="$art/" \
		"$work/corpus" </dev/null >"$out/$h.log" 2>&1
	rc=$?
	end=$(date +%s)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$h.log" | tail -1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$h.log" | tail -1)
	rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$out/$h.log" | tail -1)
	last=$(grep -E '^#[0-9]+.*cov: ' "$out/$h.log" | tail -1)
	cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
	unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$out/$h.log" | tail -1)
	if [ $rc -eq 0 ] && grep -q '^Done [0-9]* runs' "$out/$h.log"; then
		result=ok
	else
		what=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-z-]+|runtime error: .*|check failed: .*' "$out/$h.log")
		result="FAILED (exit $rc${what:+: $what})"
		[ -n "$unit" ] && result="$result; reproducer: $unit (replay: $out/fuzz_$h $unit)"
	fi
	echo "fuzz_$h: ${execs:-?} execs in $((end - start)) s, ${speed:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}, peak rss ${rss:-?} MB: $result" \
		>"$out/$h.result"
}

echo "run-fuzz.sh: $FUZZ_SECONDS s per harness, $FUZZ_JOBS at a time; logs in $out"
running=0
for h in $FUZZ_HARNESSES; do
	run_one "$h" &
	running=$((running + 1))
	if [ $running -ge "$FUZZ_JOBS" ]; then
		wait
		running=0
	fi
done
wait

status=0
for h in $FUZZ_HARNESSES; do
	if [ -f "$out/$h.result" ]; then
		cat "$out/$h.result"
		grep -q ': ok$' "$out/$h.result" || status=1
	else
		echo "fuzz_$h: no result (see $out/$h.log)"
		status=1
	fi
done
[ $status -eq 0 ] || echo "run-fuzz.sh: failures; crash inputs are kept under $out/artifacts (add them to tests/fuzz/regressions/<harness>/)"
exit $status
