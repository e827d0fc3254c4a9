#!/bin/sh
# soak.sh: 60 s at 64 keep-alive connections of mixed requests; no errors, bounded RSS, no fd leak.
# Run by `make -C tests check-soak` (never by make check). SOAK_SECONDS overrides the length.

# shellcheck source=lib.sh
. "${top_srcdir:?run through make check-soak}/tests/lib.sh"

SECONDS_RUN=${SOAK_SECONDS:-60}
LOADGEN=$top_builddir/tests/loadgen
[ -n "$CURL" ] && command -v "$CURL" >/dev/null 2>&1 || CURL=$(command -v curl)
[ -n "$CURL" ] || t_skip "curl is not installed (needed to wait for readiness)"
if [ ! -x "$LOADGEN" ]; then
	${MAKE:-make} -C "$top_builddir/tests" loadgen >/dev/null 2>&1 ||
		t_skip "tests/bench/loadgen cannot be built here"
fi
[ -x "$LOADGEN" ] || t_skip "tests/bench/loadgen cannot be built here"
[ -x "$T_INFERD" ] || { echo "FAIL $T_INFERD is not built"; exit 1; }
command -v timeout >/dev/null 2>&1 || t_skip "timeout(1) is not installed"

t_setup
D=$T_DIR
SOCK=$D/inferd.sock
t_write_config "$D/inferd.conf" "$SOCK"
t_start_daemon "$D/inferd.conf" "$D/inferd.log"
t_wait_ready "$SOCK" || { echo "FAIL inferd did not become ready"; cat "$D/inferd.log"; exit 1; }
PID=$T_DAEMON_PID

# One infer body: the first row of the bundled golden set, as XGBoost was given it.
ROW=$(sed -n '/"inputs"/,/\]/p' "$T_BUNDLED_GOLDEN" | sed '1d' | tr -d ' \n' | sed 's/^\[//; s/\],*$//')
printf '{"id": "soak", "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 30], "data": [%s]}]}' \
	"$ROW" >"$D/infer.body"
[ "$(printf '%s\n' "$ROW" | awk -F, '{ print NF }')" -eq 30 ] ||
	{ echo "FAIL cannot read a 30-feature row from the golden set"; exit 1; }

fds() { ls "/proc/$PID/fd" | wc -l; }
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$PID/status"; }
# The fd count once it has stopped changing (closed connections are reaped by the loop).
fds_settled() {
	_prev=$(fds)
	_same=0
	_n=0
	while [ $_same -lt 5 ] && [ $_n -lt 100 ]; do
		sleep 0.2
		_cur=$(fds)
		if [ "$_cur" = "$_prev" ]; then _same=$((_same + 1)); else _same=0; fi
		_prev=$_cur
		_n=$((_n + 1))
	done
	echo "$_prev"
}
# field NAME FILE: a number from loadgen's one-line JSON.
field() { sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p" "$2"; }

# loadgen NAME CONNS SECONDS ARGS...: one closed-loop run in the background, bounded.
run_loadgen() {
	_name=$1 _c=$2 _s=$3
	shift 3
	timeout $((_s + 60)) "$LOADGEN" -U "$SOCK" -c "$_c" -t 1 -d "$_s" -w 0 -x 10 $LOADGEN_OPTS "$@" \
		>"$D/$_name.json" 2>"$D/$_name.err" &
}

mix() {
	_s=$1 _tag=$2
	run_loadgen "infer$_tag" 22 "$_s" -m POST -p /v2/models/breast-cancer/infer -b "$D/infer.body"
	P1=$!
	run_loadgen "meta$_tag" 21 "$_s" -m GET -p /v2/models/breast-cancer
	P2=$!
	run_loadgen "metrics$_tag" 21 "$_s" -m GET -p /metrics
	P3=$!
	_rc=0
	wait $P1 || _rc=1
	wait $P2 || _rc=1
	wait $P3 || _rc=1
	return $_rc
}

# Warm-up: the allocator and the connection pools reach their working size.
mix 3 -warm || { echo "FAIL the warm-up run failed"; cat "$D"/*-warm.err; exit 1; }
FD0=$(fds_settled)
RSS0=$(rss)

echo "soak: ${SECONDS_RUN} s at 64 connections (22 infer, 21 metadata, 21 metrics)"
mix "$SECONDS_RUN" "" || t_fail "a loadgen run failed: $(cat "$D/infer.err" "$D/meta.err" "$D/metrics.err")"
kill -0 "$PID" 2>/dev/null || { echo "FAIL inferd died during the soak"; cat "$D/inferd.log"; exit 1; }
FD1=$(fds_settled)
RSS1=$(rss)

REQ=0
ERR=0
for k in infer meta metrics; do
	r=$(field requests "$D/$k.json")
	e=$(field errors "$D/$k.json")
	p=$(field protocol_errors "$D/$k.json")
	[ -n "$r" ] && [ -n "$e" ] && [ -n "$p" ] || { t_fail "$k: no loadgen result"; continue; }
	echo "  $k: $(cat "$D/$k.json")"
	REQ=$((REQ + r))
	ERR=$((ERR + e + p))
done

echo "soak: ${SECONDS_RUN} s, 64 connections, $REQ requests, $ERR errors, RSS $RSS0 -> $RSS1 KiB, fds $FD0 -> $FD1"

t_check "requests were served" [ "$REQ" -gt 0 ]
t_check "no request failed (non-2xx, closed, timed out or malformed)" [ "$ERR" -eq 0 ]
# 10% or 2 MiB, whichever is larger.
LIMIT=$((RSS0 + RSS0 / 10))
[ $LIMIT -lt $((RSS0 + 2048)) ] && LIMIT=$((RSS0 + 2048))
t_check "VmRSS grew at most 10% or 2 MiB ($RSS0 -> $RSS1 KiB, limit $LIMIT)" [ "$RSS1" -le "$LIMIT" ]
t_check "fds back to the baseline after the clients left ($FD0 -> $FD1)" [ "$FD1" -eq "$FD0" ]
t_stop_daemon
t_check "inferd exits cleanly" [ $? -eq 0 ]
t_summary
