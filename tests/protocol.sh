#!/bin/sh
# protocol.sh: a real inferd (Unix socket and TCP) checked against docs/openapi.yaml and the specs.
# The checks live in protocol_check.py; this starts the daemon as the other script tests do.
. "$top_srcdir/tests/lib.sh"

# Debian's python3 (configure's PYTHON3): the parsers are Debian packages.
PY=${PYTHON3:-/usr/bin/python3}
command -v "$PY" >/dev/null 2>&1 || t_skip "python3 is not installed"
"$PY" -c 'import yaml' 2>/dev/null || t_skip "python3-yaml is not installed"
"$PY" -c 'import prometheus_client.parser' 2>/dev/null ||
	t_skip "python3-prometheus-client is not installed (the exposition parser)"
t_setup
SOCK=$T_DIR/s.sock
# A free TCP port: the kernel picks one for a socket bound to port 0.
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
t_write_config "$T_DIR/inferd.conf" "$SOCK" none
{
	echo "listen_tcp = \"127.0.0.1:$PORT\";"
	echo "limits = { max_rows = 4096; max_body_bytes = 1048576; request_timeout = 10; };"
} >>"$T_DIR/inferd.conf"
t_start_daemon "$T_DIR/inferd.conf" "$T_DIR/log"
if ! t_wait_ready "$SOCK"; then
	cat "$T_DIR/log"
	t_fail "inferd did not become ready"
	t_summary
fi
"$PY" "$top_srcdir/tests/protocol_check.py" "$SOCK" "$PORT" "$top_srcdir/docs/openapi.yaml" \
	"$top_srcdir/src/http.c" "$T_BUNDLED_MODEL" "$T_DIR"
rc=$?
[ $rc -eq 77 ] && exit 77
t_check "protocol_check.py: live responses match the specs" test $rc -eq 0
t_check "inferd stops cleanly" t_stop_daemon
t_summary
