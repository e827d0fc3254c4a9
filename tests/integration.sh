#!/bin/sh
# integration.sh: a real inferd on a temp socket, driven by inferctl and curl end to end.
# Expected values come from the bundled golden set (XGBoost's own outputs), the model file
# itself (objective, width) and sha256sum, never from inferd.

# shellcheck source=lib.sh
. "${top_srcdir:?run through make check}/tests/lib.sh"

[ -n "$CURL" ] && command -v "$CURL" >/dev/null 2>&1 || CURL=$(command -v curl)
[ -n "$CURL" ] || t_skip "curl is not installed (configure found none)"
PY=${PYTHON3:-}
[ -n "$PY" ] && command -v "$PY" >/dev/null 2>&1 || PY=$(command -v python3)
[ -n "$PY" ] || t_skip "python3 is needed to read the golden set"
[ -x "$T_INFERD" ] || { echo "FAIL $T_INFERD is not built"; exit 1; }
[ -x "$T_INFERCTL" ] || { echo "FAIL $T_INFERCTL is not built"; exit 1; }
command -v sha256sum >/dev/null 2>&1 || t_skip "sha256sum is not installed"

t_setup
D=$T_DIR
SOCK=$D/inferd.sock
CONF=$D/inferd.conf
t_write_config "$CONF" "$SOCK"

# What the answers must be, read straight from the files.
"$PY" - "$T_BUNDLED_MODEL" "$T_BUNDLED_GOLDEN" "$D" <<'EOF' || { echo "FAIL cannot read the bundled model"; exit 1; }
import json, sys
model, golden, d = sys.argv[1], sys.argv[2], sys.argv[3]
with open(model) as f:
    learner = json.load(f)["learner"]
with open(golden) as f:
    g = json.load(f)
def num(x):
    return "" if x is None else repr(float(x))
with open(d + "/objective", "w") as f:
    f.write(learner["objective"]["name"] + "\n")
with open(d + "/num_feature", "w") as f:
    f.write(str(int(learner["learner_model_param"]["num_feature"])) + "\n")
with open(d + "/tolerance", "w") as f:
    f.write(repr(g.get("tolerance") or 1e-6) + "\n")
with open(d + "/expected", "w") as f:
    for p in g["predict"]:
        f.write(repr(float(p)) + "\n")
# Row 0 as command-line values (NaN for missing), the rows as CSV with a header, "NaN"
# for missing on odd rows and an empty field on even ones, and as a JSON request.
with open(d + "/row0.args", "w") as f:
    f.write(" ".join("NaN" if x is None else repr(float(x)) for x in g["inputs"][0]) + "\n")
with open(d + "/expected0", "w") as f:
    f.write(repr(float(g["predict"][0])) + "\n")
with open(d + "/inputs.csv", "w") as f:
    f.write(",".join("f%d" % i for i in range(len(g["inputs"][0]))) + "\n")
    for r, row in enumerate(g["inputs"]):
        f.write(",".join(("NaN" if r % 2 else "") if x is None else repr(float(x)) for x in row) + "\n")
req = {"inputs": [{"name": "input", "datatype": "FP32",
                   "shape": [len(g["inputs"]), len(g["inputs"][0])],
                   "data": [x for row in g["inputs"] for x in row]}]}
with open(d + "/request.json", "w") as f:
    json.dump(req, f)
# A golden set with one wrong expected value (row 3), for the mismatch trigger.
bad = dict(g)
bad["predict"] = list(g["predict"])
bad["predict"][3] = bad["predict"][3] - 0.5 if bad["predict"][3] > 0.5 else bad["predict"][3] + 0.5
with open(d + "/bad-golden.json", "w") as f:
    json.dump(bad, f)
EOF
TOL=$(cat "$D/tolerance")

# Pulls outputs[predict].data out of an infer answer, one value per line.
predict_values() {
	"$PY" -c '
import json, sys
a = json.load(sys.stdin)
for o in a["outputs"]:
    if o["name"] == "predict":
        for v in o["data"]:
            print(repr(float(v)))' <"$1"
}

# json_get FILE EXPR: evaluates a Python expression over the parsed JSON j.
json_get() {
	"$PY" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

t_start_daemon "$CONF" "$D/inferd.log"
if ! t_wait_ready "$SOCK"; then
	echo "FAIL inferd did not become ready; its log:"
	cat "$D/inferd.log"
	exit 1
fi
t_pass "inferd started and became ready"

# --- inferctl: health, ready, models, metadata -------------------------------------------
out=$(t_ctl --socket "$SOCK" health 2>"$D/err"); rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -q '"live": *true'; then
	t_pass "inferctl health exits 0 and prints live: true"
else
	t_fail "inferctl health: exit $rc, output '$out' $(cat "$D/err")"
fi

out=$(t_ctl --socket "$SOCK" ready 2>"$D/err"); rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -q '"ready": *true'; then
	t_pass "inferctl ready exits 0 and prints ready: true"
else
	t_fail "inferctl ready: exit $rc, output '$out' $(cat "$D/err")"
fi

# The socket comes from --config when --socket is absent.
out=$(t_ctl --config "$CONF" models 2>"$D/err"); rc=$?
want="breast-cancer versions=1 objective=$(cat "$D/objective") features=$(cat "$D/num_feature")"
if [ $rc -eq 0 ] && [ "$out" = "$want" ]; then
	t_pass "inferctl models (socket from --config) prints '$want'"
else
	t_fail "inferctl models: exit $rc, output '$out', expected '$want' $(cat "$D/err")"
fi

t_ctl --config "$CONF" metadata breast-cancer >"$D/meta.json" 2>"$D/err"; rc=$?
sha=$(sha256sum "$T_BUNDLED_MODEL" | cut -d ' ' -f 1)
if [ $rc -eq 0 ] && [ "$(json_get "$D/meta.json" 'j["name"]')" = breast-cancer ] &&
	[ "$(json_get "$D/meta.json" 'j["parameters"]["sha256"]')" = "$sha" ]; then
	t_pass "inferctl metadata prints the model's JSON (name, sha256 of the file)"
else
	t_fail "inferctl metadata: exit $rc, $(cat "$D/meta.json" "$D/err")"
fi

t_ctl --config "$CONF" metadata no-such-model >/dev/null 2>"$D/err"; rc=$?
if [ $rc -eq 1 ] && grep -q '^inferctl: .*404' "$D/err"; then
	t_pass "inferctl metadata of an unknown model exits 1 with the server's reason"
else
	t_fail "inferctl metadata no-such-model: exit $rc, stderr '$(cat "$D/err")'"
fi

# --- inferctl infer: values, --csv, --json, against XGBoost's outputs ---------------------
# shellcheck disable=SC2046 # one argument per value
out=$(t_ctl --config "$CONF" infer breast-cancer --output predict $(cat "$D/row0.args") 2>"$D/err"); rc=$?
if [ $rc -eq 0 ] && t_near "$out" "$(cat "$D/expected0")" "$TOL"; then
	t_pass "inferctl infer with values gives the golden prediction ($out)"
else
	t_fail "inferctl infer values: exit $rc, got '$out' expected $(cat "$D/expected0") $(cat "$D/err")"
fi

t_ctl --config "$CONF" infer breast-cancer --csv "$D/inputs.csv" --output predict >"$D/got.csv" 2>"$D/err"; rc=$?
if [ $rc -eq 0 ] && t_near_files "$D/got.csv" "$D/expected" "$TOL"; then
	t_pass "inferctl infer --csv gives the golden predictions ($(wc -l <"$D/got.csv") rows)"
else
	t_fail "inferctl infer --csv: exit $rc $(cat "$D/err")"
fi

t_ctl --config "$CONF" infer breast-cancer --json "$D/request.json" >"$D/answer.json" 2>"$D/err"; rc=$?
if [ $rc -eq 0 ] && predict_values "$D/answer.json" >"$D/got.json" &&
	t_near_files "$D/got.json" "$D/expected" "$TOL"; then
	t_pass "inferctl infer --json prints an answer with the golden predictions"
else
	t_fail "inferctl infer --json: exit $rc $(cat "$D/err")"
fi

t_ctl --config "$CONF" infer breast-cancer --json - --output predict <"$D/request.json" >"$D/got.stdin" 2>"$D/err"; rc=$?
if [ $rc -eq 0 ] && t_near_files "$D/got.stdin" "$D/expected" "$TOL"; then
	t_pass "inferctl infer --json - reads the request from stdin"
else
	t_fail "inferctl infer --json -: exit $rc $(cat "$D/err")"
fi

t_ctl --config "$CONF" infer breast-cancer 1 2 3 >/dev/null 2>"$D/err"; rc=$?
if [ $rc -eq 1 ] && grep -q '^inferctl: .*HTTP 400: ..*' "$D/err"; then
	t_pass "inferctl infer with the wrong width exits 1 with the server's error ($(cat "$D/err"))"
else
	t_fail "inferctl infer wrong width: exit $rc, stderr '$(cat "$D/err")'"
fi

# --- inferctl smoke -------------------------------------------------------------------------
t_ctl --config "$CONF" smoke >"$D/smoke.txt" 2>"$D/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(tail -n 1 "$D/smoke.txt")" = "smoke: PASS" ] &&
	grep -q '^ok   ready ' "$D/smoke.txt" && grep -q '^ok   golden .*breast-cancer' "$D/smoke.txt" &&
	grep -q '^ok   latency .*100 requests' "$D/smoke.txt"; then
	t_pass "inferctl smoke passes (ready, golden, latency)"
else
	t_fail "inferctl smoke: exit $rc"
	cat "$D/smoke.txt" "$D/err"
fi

t_ctl --config "$CONF" smoke --json --requests 50 >"$D/smoke.json" 2>"$D/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(json_get "$D/smoke.json" 'j["verdict"]')" = pass ] &&
	[ "$(json_get "$D/smoke.json" 'j["triggers"]')" = "[]" ] &&
	[ "$(json_get "$D/smoke.json" 'j["latency"]["requests"]')" = 50 ] &&
	[ "$(json_get "$D/smoke.json" 'j["models"][0]["sha256"]')" = "$sha" ]; then
	t_pass "inferctl smoke --json: verdict pass, 50 requests, the model's sha256"
else
	t_fail "inferctl smoke --json: exit $rc"
	cat "$D/smoke.json" "$D/err"
fi
# 50 requests on one handle: at most one new connection means keep-alive held.
if [ "$(json_get "$D/smoke.json" 'int(j["latency"]["connections"] <= 1)')" = 1 ]; then
	t_pass "inferctl smoke keeps one connection alive for its latency requests"
else
	t_fail "inferctl smoke opened $(json_get "$D/smoke.json" 'j["latency"]["connections"]') connections"
fi

t_ctl --config "$CONF" smoke --p99-ms 0.000001 >"$D/smoke.txt" 2>"$D/err"; rc=$?
if [ $rc -eq 1 ] && grep -q '^FAIL latency ' "$D/smoke.txt" &&
	grep -q '^smoke: FAIL (triggers: p99_latency)$' "$D/smoke.txt"; then
	t_pass "inferctl smoke --p99-ms 0.000001 fails with exit 1 naming p99_latency"
else
	t_fail "inferctl smoke --p99-ms 0.000001: exit $rc"
	cat "$D/smoke.txt" "$D/err"
fi

t_write_config "$D/bad.conf" "$SOCK" "$D/bad-golden.json"
t_ctl --config "$D/bad.conf" smoke >"$D/smoke.txt" 2>"$D/err"; rc=$?
if [ $rc -eq 1 ] && grep -q '^FAIL golden .*breast-cancer v1 row 3: got .* expected ' "$D/smoke.txt" &&
	grep -q '^smoke: FAIL (triggers: output_mismatch)$' "$D/smoke.txt"; then
	t_pass "inferctl smoke with a wrong golden value exits 1 naming output_mismatch and row 3"
else
	t_fail "inferctl smoke with a wrong golden value: exit $rc"
	cat "$D/smoke.txt" "$D/err"
fi

# A plain smoke only observes: no policy ran, so no warning block and nothing rolled back.
if ! grep -q 'WARNING\|rollback' "$D/err"; then
	t_pass "a plain smoke that fails runs no failure policy"
else
	t_fail "a plain smoke ran a failure policy: stderr '$(cat "$D/err")'"
fi

# --on-failure config takes smoke.on_failure, left at its default, rollback: with nothing
# marked good the daemon has nothing to go back to (409), and the warning block says so.
t_ctl --config "$D/bad.conf" smoke --on-failure config >"$D/smoke.txt" 2>"$D/err"
if grep -q '^\*\*\* WARNING: .*FAILED (triggers: output_mismatch)' "$D/err" &&
	grep -q 'on failure: rollback' "$D/err" && grep -q 'rollback FAILED: HTTP 409' "$D/err" &&
	grep -q 'nothing was rolled back' "$D/err"; then
	t_pass "--on-failure config (rollback by default) without a last-known-good record: warning, 409"
else
	t_fail "the default on_failure without a record: stderr '$(cat "$D/err")'"
fi

t_ctl --config "$D/bad.conf" smoke --json --on-failure config >"$D/smoke.json" 2>"$D/err"; rc=$?
if [ $rc -eq 1 ] && [ "$(json_get "$D/smoke.json" 'j["verdict"]')" = fail ] &&
	[ "$(json_get "$D/smoke.json" 'j["triggers"]')" = "['output_mismatch']" ] &&
	[ "$(json_get "$D/smoke.json" '(j["rollback"]["attempted"], j["rollback"]["ok"], j["rollback"]["second_verdict"])')" = "(True, False, None)" ]; then
	t_pass "inferctl smoke --json with a wrong golden value: verdict fail, output_mismatch, rollback not ok"
else
	t_fail "inferctl smoke --json with a wrong golden value: exit $rc"
	cat "$D/smoke.json" "$D/err"
fi

# --- without --config: the daemon's models and golden sets -------------------------------
# The socket alone (from the environment): smoke checks what the daemon serves, against the
# golden set its config names, and models lists it.
INFERD_SOCKET=$SOCK t_ctl smoke --json --requests 5 >"$D/smoke.json" 2>"$D/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(json_get "$D/smoke.json" '[(m["name"], m["golden_ok"]) for m in j["models"]]')" = "[('breast-cancer', True)]" ]; then
	t_pass "INFERD_SOCKET=... inferctl smoke: the served model's golden set checked, pass"
else
	t_fail "inferctl smoke without --config: exit $rc"; cat "$D/smoke.json" "$D/err"
fi
out=$(t_ctl models --socket "$SOCK" 2>"$D/err"); rc=$?
if [ $rc -eq 0 ] && [ "$out" = "$want" ]; then
	t_pass "inferctl models --socket (option after the command, no --config) prints '$want'"
else
	t_fail "inferctl models --socket: exit $rc, output '$out', expected '$want' $(cat "$D/err")"
fi

# --- nothing listening: answers fast, never hangs -------------------------------------------
# A stale socket file (bound, then closed) and a path that does not exist.
"$PY" -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$D/stale.sock"
limit=5
[ -n "$INFERD_WRAPPER" ] && limit=30
for dead in "$D/stale.sock" "$D/missing.sock"; do
	start=$(date +%s)
	t_ctl --socket "$dead" ready >/dev/null 2>"$D/err"; rc=$?
	took=$(($(date +%s) - start))
	if { [ $rc -eq 1 ] || [ $rc -eq 2 ]; } && [ $took -le $limit ] && grep -q '^inferctl: ' "$D/err"; then
		t_pass "inferctl ready on $(basename "$dead") with nothing listening exits $rc in ${took}s"
	else
		t_fail "inferctl ready on $(basename "$dead"): exit $rc after ${took}s, stderr '$(cat "$D/err")'"
	fi
done

# --- curl straight at the socket ------------------------------------------------------------
# t_curl_expect WANT METHOD PATH [BODYFILE]
t_curl_expect() {
	_want=$1
	shift
	_got=$(t_http_status "$SOCK" "$@")
	if [ "$_got" = "$_want" ]; then
		t_pass "curl $1 $2 -> $_want"
	else
		t_fail "curl $1 $2: got $_got, expected $_want ($(head -c 200 "$D/curl.body" 2>/dev/null))"
	fi
}
echo '{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]}' >"$D/narrow.json"
echo '{"inputs": [' >"$D/broken.json"
t_curl_expect 200 GET /v2/health/live
t_curl_expect 200 GET /v2/health/ready
t_curl_expect 200 GET /v2
t_curl_expect 200 GET /v2/models/breast-cancer
t_curl_expect 200 GET /v2/models/breast-cancer/versions/1
t_curl_expect 404 GET /v2/models/no-such-model
t_curl_expect 200 POST /v2/models/breast-cancer/versions/1/infer "$D/request.json"
if predict_values "$D/curl.body" >"$D/got.curl" && t_near_files "$D/got.curl" "$D/expected" "$TOL"; then
	t_pass "curl infer answers with the golden predictions"
else
	t_fail "curl infer predictions differ from the golden set"
fi
t_curl_expect 400 POST /v2/models/breast-cancer/infer "$D/narrow.json"
t_curl_expect 400 POST /v2/models/breast-cancer/infer "$D/broken.json"
t_curl_expect 404 POST /v2/models/no-such-model/infer "$D/request.json"
t_curl_expect 405 DELETE /v2/health/live
t_curl_expect 200 GET /metrics
if grep -q '^inferd_requests_total{' "$D/curl.body"; then
	t_pass "curl /metrics serves Prometheus text with inferd_requests_total"
else
	t_fail "curl /metrics has no inferd_requests_total sample"
fi

# --- usage errors exit 2 --------------------------------------------------------------------
# Run without the wrapper: these stop before any allocation worth checking, and valgrind
# would add seconds to each.
for args in "" "frobnicate" "--no-such-option ready" "infer" "infer breast-cancer" \
	"metadata" "smoke --requests 0" "smoke --p99-ms -1" "ready extra" "--timeout 0 ready" \
	"--config $D/no-such.conf ready" "smoke --on-failure sometimes" "smoke --on-failure" \
	"reload now" "rollback --all" "state extra"; do
	# shellcheck disable=SC2086 # split into arguments on purpose
	"$T_INFERCTL" --socket "$SOCK" $args >/dev/null 2>"$D/err"; rc=$?
	if [ $rc -eq 2 ] && grep -q '^inferctl: ' "$D/err"; then
		t_pass "inferctl $args: usage error, exit 2"
	else
		t_fail "inferctl $args: exit $rc (expected 2), stderr '$(cat "$D/err")'"
	fi
done

# --- the help names every command and option -----------------------------------------------
"$T_INFERCTL" --help >"$D/help" 2>&1; rc=$?
missing=
for word in health ready models metadata infer smoke reload rollback state --mark-good \
	--on-failure --rollback-on-fail --clear --json --csv --output --requests --p99-ms; do
	grep -q -- "$word" "$D/help" || missing="$missing $word"
done
if [ $rc -eq 0 ] && [ -z "$missing" ]; then
	t_pass "inferctl --help names every command and option"
else
	t_fail "inferctl --help: exit $rc, missing:$missing"
fi

# --- a clean stop ---------------------------------------------------------------------------
t_stop_daemon; st=$?
if [ $st -eq 0 ]; then
	t_pass "inferd exits 0 on SIGTERM"
else
	t_fail "inferd exited $st on SIGTERM; its log:"
	cat "$D/inferd.log"
fi
if [ ! -e "$SOCK" ]; then
	t_pass "inferd removed its socket"
else
	t_fail "the socket $SOCK is still there after the stop"
fi

t_summary
