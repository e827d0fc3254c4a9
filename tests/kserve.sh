#!/bin/sh
# kserve.sh: KServe's container contract: --model-name/--model-dir/--http-port (or INFERD_MODEL_*), no config file.
. "$top_srcdir/tests/lib.sh"

CURL=$(command -v curl) || t_skip "curl is not installed"
PY=${PYTHON3:-/usr/bin/python3}
t_setup
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# tcp_status PORT PATH [BODYFILE]: the status code over TCP (000: none).
tcp_status() {
	if [ -n "$3" ]; then
		"$CURL" -s -o "$T_DIR/tcp.body" -w '%{http_code}' --max-time 10 -X POST \
			-H 'Content-Type: application/json' --data-binary "@$3" "http://127.0.0.1:$1$2"
	else
		"$CURL" -s -o "$T_DIR/tcp.body" -w '%{http_code}' --max-time 10 "http://127.0.0.1:$1$2"
	fi
}

# wait_tcp PORT PATH: until PATH answers 200 over TCP, while the daemon lives.
wait_tcp() {
	_n=0
	while [ $_n -lt 300 ]; do
		kill -0 "$T_DAEMON_PID" 2>/dev/null || return 1
		[ "$(tcp_status "$1" "$2")" = 200 ] && return 0
		sleep 0.1
		_n=$((_n + 1))
	done
	return 1
}

mkdir -p "$T_DIR/models/json" "$T_DIR/models/empty"
cp "$T_BUNDLED_MODEL" "$T_DIR/models/json/model.json"
cp "$T_BUNDLED_GOLDEN" "$T_DIR/models/json/golden.json"
"$PY" - "$T_BUNDLED_GOLDEN" >"$T_DIR/request.json" <<'PYEOF'
import json, sys
g = json.load(open(sys.argv[1]))
rows = g["inputs"] if "inputs" in g else g["rows"]
print(json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, len(rows[0])], "data": rows[0]}]}))
PYEOF

# --- flags ---------------------------------------------------------------------------------
PORT=$(free_port)
INFERD_RUNTIME_DIR=$T_DIR/rt1 $INFERD_WRAPPER "$T_INFERD" --foreground --model-name bc \
	--model-dir "$T_DIR/models/json" --http-port "$PORT" >"$T_DIR/log1" 2>&1 &
T_DAEMON_PID=$!
if wait_tcp "$PORT" /v2/models/bc/ready; then
	t_pass "--model-name bc --model-dir DIR --http-port $PORT serves bc over TCP"
else
	t_fail "the KServe flags did not serve the model: $(tail -5 "$T_DIR/log1")"
fi
t_check "infer on the served name" test "$(tcp_status "$PORT" /v2/models/bc/infer "$T_DIR/request.json")" = 200
t_check "the golden set was checked (golden.json in the model dir)" grep -q "golden" "$T_DIR/rt1/inferd.conf"
t_check "the generated config lives in INFERD_RUNTIME_DIR" test -f "$T_DIR/rt1/inferd.conf"
t_check "the socket lives there too" test -S "$T_DIR/rt1/inferd.sock"
t_check "admin over that socket answers (SIGHUP-free reload)" \
	test "$(t_http_status "$T_DIR/rt1/inferd.sock" POST /v2/admin/reload)" = 200
t_check "the model is still served after the reload" test "$(tcp_status "$PORT" /v2/models/bc/ready)" = 200
t_check "stops cleanly" t_stop_daemon

# --- environment variables, and model.ubj ---------------------------------------------------
if "$PY" -c 'import xgboost' 2>/dev/null; then
	mkdir -p "$T_DIR/models/ubj"
	"$PY" -c 'import sys, xgboost; b = xgboost.Booster(); b.load_model(sys.argv[1]); b.save_model(sys.argv[2])' \
		"$T_BUNDLED_MODEL" "$T_DIR/models/ubj/model.ubj"
	PORT=$(free_port)
	INFERD_RUNTIME_DIR=$T_DIR/rt2 INFERD_MODEL_NAME=bcu INFERD_MODEL_DIR=$T_DIR/models/ubj \
		INFERD_HTTP_PORT=$PORT $INFERD_WRAPPER "$T_INFERD" >"$T_DIR/log2" 2>&1 &
	T_DAEMON_PID=$!
	if wait_tcp "$PORT" /v2/models/bcu/ready; then
		t_pass "INFERD_MODEL_NAME/DIR/HTTP_PORT serve model.ubj"
	else
		t_fail "the KServe environment did not serve model.ubj: $(tail -5 "$T_DIR/log2")"
	fi
	t_check "infer on the UBJSON model" test "$(tcp_status "$PORT" /v2/models/bcu/infer "$T_DIR/request.json")" = 200
	t_check "stops cleanly" t_stop_daemon
else
	echo "note: python3-xgboost missing: the model.ubj case is not run"
fi

# --- refusals ----------------------------------------------------------------------------
# expect_exit CODE MSG-REGEX ARGS...: inferd exits CODE and says MSG on stderr.
expect_exit() {
	_want=$1
	_msg=$2
	shift 2
	INFERD_RUNTIME_DIR=$T_DIR/rt3 $INFERD_WRAPPER "$T_INFERD" "$@" >"$T_DIR/out" 2>&1
	_got=$?
	if [ "$_got" = "$_want" ] && grep -q -- "$_msg" "$T_DIR/out"; then
		t_pass "inferd $* -> exit $_want ($_msg)"
	else
		t_fail "inferd $*: exit $_got, expected $_want with \"$_msg\": $(head -3 "$T_DIR/out")"
	fi
}
expect_exit 1 "neither model.json nor model.ubj" --model-name x --model-dir "$T_DIR/models/empty"
expect_exit 1 "must be a number 1..65535" --model-name x --model-dir "$T_DIR/models/json" --http-port 0
expect_exit 1 "must be a number 1..65535" --model-name x --model-dir "$T_DIR/models/json" --http-port 80x
expect_exit 1 "must match" --model-name 'a"b' --model-dir "$T_DIR/models/json"
expect_exit 1 "go together" --model-dir "$T_DIR/models/json"
expect_exit 1 "must be an absolute path" --model-name x --model-dir models/json
expect_exit 2 "exclude each other" --config /dev/null --model-name x --model-dir "$T_DIR/models/json"
t_check "--check-config works on the generated config" \
	env INFERD_RUNTIME_DIR="$T_DIR/rt4" $INFERD_WRAPPER "$T_INFERD" --check-config --model-name bc --model-dir "$T_DIR/models/json"
t_summary
