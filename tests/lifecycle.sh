#!/bin/sh
# lifecycle.sh: versioned repository, reload, mark-good, rollback, end to end with inferctl.
# The repository holds the bundled model as versions 1 and 2, then a version 3 whose model
# was altered (one leaf value) with a golden set XGBoost computed for it. Expected values
# come from the bundled golden set, XGBoost and sha256sum, never from inferd.

# shellcheck source=lib.sh
. "${top_srcdir:?run through make check}/tests/lib.sh"

[ -n "$CURL" ] && command -v "$CURL" >/dev/null 2>&1 || CURL=$(command -v curl)
[ -n "$CURL" ] || t_skip "curl is not installed (configure found none)"
# XGBoost computes the altered version's golden outputs: Debian's python3-xgboost.
PY=${PYTHON3:-/usr/bin/python3}
command -v "$PY" >/dev/null 2>&1 || t_skip "python3 is not installed"
"$PY" -c 'import xgboost' 2>/dev/null || t_skip "$PY cannot import xgboost (python3-xgboost)"
command -v sha256sum >/dev/null 2>&1 || t_skip "sha256sum is not installed"
[ -x "$T_INFERD" ] || { echo "FAIL $T_INFERD is not built"; exit 1; }
[ -x "$T_INFERCTL" ] || { echo "FAIL $T_INFERCTL is not built"; exit 1; }

t_setup
D=$T_DIR
SOCK=$D/inferd.sock
CONF=$D/inferd.conf
SMOKE_CONF=$D/smoke.conf
REPO=$D/repo
STATE=$D/state
M=$REPO/breast-cancer
mkdir -p "$M/1" "$M/2" "$STATE"
for v in 1 2; do
	cp "$T_BUNDLED_MODEL" "$T_BUNDLED_GOLDEN" "$M/$v/"
done
cp "$T_BUNDLED_GOLDEN" "$D/golden-orig.json"

# write_config FILE [GOLDEN]: the daemon's config (repository, "latest"); with GOLDEN, the
# entry names that golden set (what a smoke run holds the served model to).
write_config() {
	{
		echo "socket = { path = \"$SOCK\"; mode = \"0600\"; };"
		echo "server = { state_dir = \"$STATE\"; threads = 2; shutdown_grace = 5; };"
		echo "log_level = \"info\";"
		echo "repository = [ \"$REPO\" ];"
		echo "models = ( {"
		echo "  name = \"breast-cancer\";"
		echo "  version = \"latest\";"
		[ -n "$2" ] && echo "  golden = \"$2\";"
		echo "} );"
		echo "smoke = { timeout = 30.0; requests = 50; p99_ms = 10000.0; on_failure = \"fail\"; };"
	} >"$1"
}
write_config "$CONF"
write_config "$SMOKE_CONF" "$D/golden-orig.json"

# Version 3: one leaf of the first tree (the one golden row 0 reaches) moved by +3 in margin
# space, so that at least row 0 predicts differently; its golden set is XGBoost's own output
# for the altered model. Also writes what the tests compare against.
"$PY" - "$T_BUNDLED_MODEL" "$T_BUNDLED_GOLDEN" "$D" <<'EOF' || { echo "FAIL cannot make version 3"; exit 1; }
import json, sys
import numpy as np
import xgboost as xgb
model, golden, d = sys.argv[1], sys.argv[2], sys.argv[3]
with open(golden) as f:
    g = json.load(f)
X = np.array([[np.nan if v is None else v for v in row] for row in g["inputs"]], dtype=np.float32)
dm = xgb.DMatrix(X, missing=np.nan)
orig = xgb.Booster()
orig.load_model(model)
leaf = int(orig.predict(dm, pred_leaf=True)[0][0])
with open(model) as f:
    m = json.load(f)
tree = m["learner"]["gradient_booster"]["model"]["trees"][0]
assert tree["left_children"][leaf] == -1, "not a leaf"
tree["split_conditions"][leaf] += 3.0
tree["base_weights"][leaf] += 3.0
with open(d + "/v3-model.json", "w") as f:
    json.dump(m, f)
alt = xgb.Booster()
alt.load_model(d + "/v3-model.json")
g3 = dict(g)
g3["predict"] = [float(v) for v in alt.predict(dm)]
g3["margin"] = [float(v) for v in alt.predict(dm, output_margin=True)]
with open(d + "/v3-golden.json", "w") as f:
    json.dump(g3, f)
tol = g.get("tolerance") or 1e-6
# The change must show in the golden rows, or the mismatch scenario proves nothing.
assert abs(g3["predict"][0] - g["predict"][0]) > 100 * tol, "the altered leaf changed nothing"
with open(d + "/tolerance", "w") as f:
    f.write(repr(tol) + "\n")
for name, vals in (("expected-v2", g["predict"]), ("expected-v3", g3["predict"])):
    with open(d + "/" + name, "w") as f:
        f.write("".join(repr(float(v)) + "\n" for v in vals))
req = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [len(g["inputs"]), len(g["inputs"][0])],
                   "data": [v for row in g["inputs"] for v in row]}],
       "outputs": [{"name": "predict"}]}
with open(d + "/request.json", "w") as f:
    json.dump(req, f)
EOF
TOL=$(cat "$D/tolerance")
SHA2=$(sha256sum "$M/2/model.json" | cut -d ' ' -f 1)
SHA3=$(sha256sum "$D/v3-model.json" | cut -d ' ' -f 1)

# json_get FILE EXPR: evaluates a Python expression over the parsed JSON j.
json_get() {
	"$PY" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# served VERSION SHA: the daemon's metadata names exactly that version and sha256.
served() {
	[ "$(t_http_status "$SOCK" GET /v2/models/breast-cancer)" = 200 ] &&
		[ "$(json_get "$D/curl.body" 'j["versions"]')" = "['$1']" ] &&
		[ "$(json_get "$D/curl.body" 'j["parameters"]["sha256"]')" = "$2" ]
}

# predicts_like EXPECTED: the golden inputs predict EXPECTED's values (within tolerance).
predicts_like() {
	[ "$(t_http_status "$SOCK" POST /v2/models/breast-cancer/infer "$D/request.json")" = 200 ] &&
		"$PY" -c '
import json, sys
for o in json.load(open(sys.argv[1]))["outputs"]:
    if o["name"] == "predict":
        print("\n".join(repr(float(v)) for v in o["data"]))' "$D/curl.body" >"$D/got" &&
		t_near_files "$D/got" "$1" "$TOL"
}

# show: the last command's output, for a failure's context.
show() {
	sed 's/^/  | /' "$D/out" "$D/err"
}

t_start_daemon "$CONF" "$D/inferd.log"
if ! t_wait_ready "$SOCK"; then
	echo "FAIL inferd did not become ready; its log:"
	cat "$D/inferd.log"
	exit 1
fi
t_pass "inferd started on a repository with versions 1 and 2"
t_check "\"latest\" serves version 2 (sha256 $SHA2)" served 2 "$SHA2"

# --- nothing recorded yet ----------------------------------------------------------------
t_ctl --config "$CONF" rollback >"$D/out" 2>"$D/err"; rc=$?
if [ $rc -eq 1 ] && grep -q '409' "$D/err" && served 2 "$SHA2"; then
	t_pass "inferctl rollback without a last-known-good record exits 1 (409), nothing changes"
else
	t_fail "inferctl rollback without a record: exit $rc"; show
fi

t_ctl --config "$CONF" state >"$D/state.json" 2>"$D/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(json_get "$D/state.json" 'j["last_known_good"]')" = None ] &&
	[ "$(json_get "$D/state.json" 'j["rolled_back"]')" = False ] &&
	[ "$(json_get "$D/state.json" '[(m["name"], m["version"], m["sha256"]) for m in j["serving"]]')" = "[('breast-cancer', '2', '$SHA2')]" ]; then
	t_pass "inferctl state: serving v2, no last-known-good record, not rolled back"
else
	t_fail "inferctl state: exit $rc"; cat "$D/state.json" "$D/err"
fi

# --- smoke --mark-good -----------------------------------------------------------------------
t_ctl --config "$CONF" smoke --mark-good >"$D/out" 2>"$D/err"; rc=$?
LKG=$STATE/last-known-good.json
if [ $rc -eq 0 ] && grep -q "^ok   mark-good .*marked good: breast-cancer v2 (sha256:$(echo "$SHA2" | cut -c 1-8))" "$D/out" &&
	[ "$(tail -n 1 "$D/out")" = "smoke: PASS" ] && [ -f "$LKG" ] &&
	[ "$(json_get "$LKG" '[(m["name"], m["version"], m["sha256"]) for m in j["models"]]')" = "[('breast-cancer', '2', '$SHA2')]" ] &&
	[ "$(sha256sum "$STATE/lkg/breast-cancer/2/model.json" | cut -d ' ' -f 1)" = "$SHA2" ]; then
	t_pass "inferctl smoke --mark-good passes and records v2 (sha256sum of the file, snapshot too)"
else
	t_fail "inferctl smoke --mark-good: exit $rc"; show; cat "$LKG" 2>/dev/null
fi

# A smoke that fails marks nothing: the record stays the one just written.
cp "$LKG" "$D/lkg.before"
t_ctl --config "$CONF" smoke --mark-good --p99-ms 0.000001 >"$D/out" 2>"$D/err"; rc=$?
if [ $rc -eq 1 ] && ! grep -q 'mark-good' "$D/out" && cmp -s "$LKG" "$D/lkg.before"; then
	t_pass "a failing smoke --mark-good (p99 trigger, on_failure fail) marks nothing"
else
	t_fail "a failing smoke --mark-good: exit $rc, or the record changed"; show
fi

# --- version 3: altered model, valid golden set; reload serves it --------------------------
mkdir "$M/3"
cp "$D/v3-model.json" "$M/3/model.json"
cp "$D/v3-golden.json" "$M/3/golden.json"
t_ctl --config "$CONF" reload >"$D/out" 2>"$D/err"; rc=$?
if [ $rc -eq 0 ] && grep -qx "breast-cancer v3 sha256:$(echo "$SHA3" | cut -c 1-8)" "$D/out" &&
	served 3 "$SHA3"; then
	t_pass "inferctl reload picks up v3 (it passes its own golden set) and prints it"
else
	t_fail "inferctl reload with v3: exit $rc"; show
fi
t_check "v3 predicts XGBoost's outputs for the altered model" predicts_like "$D/expected-v3"

# --- a version the daemon refuses: reload exits 3 and names it, v3 keeps serving --------
# Version 4 is v3's model held to v2's golden set, which it does not match.
mkdir "$M/4"
cp "$D/v3-model.json" "$M/4/model.json"
cp "$D/golden-orig.json" "$M/4/golden.json"
t_ctl --config "$CONF" reload >"$D/out" 2>"$D/err"; rc=$?
if [ $rc -eq 3 ] && grep -qx "breast-cancer v3 sha256:$(echo "$SHA3" | cut -c 1-8)" "$D/out" &&
	grep -q '^inferctl: refused: breast-cancer v4 (not served): golden set .*does not match' "$D/err" &&
	served 3 "$SHA3"; then
	t_pass "inferctl reload with a refused v4: exit 3, names v4 and why, v3 keeps serving"
else
	t_fail "inferctl reload with a refused v4: exit $rc"; show
fi
rm -r "$M/4"
t_ctl --config "$CONF" reload >"$D/out" 2>"$D/err"; rc=$?
if [ $rc -eq 0 ] && ! grep -q 'refused' "$D/err"; then
	t_pass "once v4 is gone, reload exits 0 and refuses nothing"
else
	t_fail "reload after removing v4: exit $rc"; show
fi

# --- the original expectations catch it: fail, warn ----------------------------------------
t_ctl --config "$SMOKE_CONF" smoke --on-failure fail >"$D/out" 2>"$D/err"; rc=$?
if [ $rc -eq 1 ] && grep -q '^FAIL golden .*breast-cancer v3 row 0: got ' "$D/out" &&
	grep -q '^smoke: FAIL (triggers: output_mismatch)$' "$D/out" &&
	grep -q 'on failure: fail' "$D/err" && served 3 "$SHA3"; then
	t_pass "smoke with the original golden set on v3: output_mismatch, exit 1, no rollback (fail)"
else
	t_fail "smoke --on-failure fail on v3: exit $rc"; show
fi

t_ctl --config "$SMOKE_CONF" smoke --on-failure warn >"$D/out" 2>"$D/err"; rc=$?
if [ $rc -eq 0 ] && grep -q '^\*\*\* WARNING: .*FAILED (triggers: output_mismatch)' "$D/err" &&
	grep -q 'on failure: warn' "$D/err" && grep -q 'nothing was rolled back' "$D/err" &&
	grep -q "breast-cancer v3 sha256:$(echo "$SHA3" | cut -c 1-8)" "$D/err" && served 3 "$SHA3"; then
	t_pass "smoke --on-failure warn: exit 0 with the warning block, v3 keeps serving"
else
	t_fail "smoke --on-failure warn: exit $rc"; show
fi

# --- --rollback-on-fail: back to v2, which passes ----------------------------------------
t_ctl --config "$SMOKE_CONF" smoke --rollback-on-fail >"$D/out" 2>"$D/err"; rc=$?
sha2_8=$(echo "$SHA2" | cut -c 1-8)
if [ $rc -eq 1 ] && grep -q '^smoke: FAIL (triggers: output_mismatch)$' "$D/out" &&
	grep -qx "breast-cancer: v3 -> v2 (sha256:$sha2_8)" "$D/out" &&
	grep -q '^--- smoke after the rollback ---$' "$D/out" &&
	grep -q '^ok   golden .*breast-cancer v2 ' "$D/out" &&
	[ "$(tail -n 1 "$D/out")" = "smoke: FAIL (triggers: output_mismatch); rolled back, and the restored set passes" ] &&
	grep -q 'smoke after the rollback: PASS' "$D/err" &&
	grep -q "breast-cancer: v3 -> v2 (sha256:$sha2_8)" "$D/err" && served 2 "$SHA2"; then
	t_pass "smoke --rollback-on-fail: exit 1, rolled back v3 -> v2, the second smoke passes"
else
	t_fail "smoke --rollback-on-fail: exit $rc"; show
fi
t_check "after the rollback the golden inputs predict v2's golden outputs" predicts_like "$D/expected-v2"

t_ctl --config "$CONF" state >"$D/state.json" 2>"$D/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(json_get "$D/state.json" 'j["rolled_back"]')" = True ] &&
	[ "$(json_get "$D/state.json" 'j["last_known_good"]["models"][0]["sha256"]')" = "$SHA2" ]; then
	t_pass "inferctl state: rolled_back true, the record names v2's sha256"
else
	t_fail "inferctl state after the rollback: exit $rc"; cat "$D/state.json" "$D/err"
fi

# The rollback outlives a restart.
t_stop_daemon
t_start_daemon "$CONF" "$D/inferd.log"
if t_wait_ready "$SOCK" && served 2 "$SHA2"; then
	t_pass "after a restart the rollback is still in force (v2 serves, v3 is in the repository)"
else
	t_fail "after a restart: not serving v2"; tail -n 20 "$D/inferd.log"
fi

# --- rollback --clear, then the JSON report of a second rollback -------------------------
t_ctl --config "$CONF" rollback --clear >"$D/out" 2>"$D/err"; rc=$?
t_ctl --config "$CONF" state >"$D/state.json" 2>>"$D/err"
if [ $rc -eq 0 ] && [ "$(json_get "$D/state.json" 'j["rolled_back"]')" = False ] && served 3 "$SHA3"; then
	t_pass "inferctl rollback --clear: rolled_back false, the configuration (v3) serves again"
else
	t_fail "inferctl rollback --clear: exit $rc"; show; cat "$D/state.json"
fi

t_ctl --config "$SMOKE_CONF" smoke --json --on-failure rollback >"$D/smoke.json" 2>"$D/err"; rc=$?
if [ $rc -eq 1 ] && [ "$(json_get "$D/smoke.json" 'j["verdict"]')" = fail ] &&
	[ "$(json_get "$D/smoke.json" 'j["triggers"]')" = "['output_mismatch']" ] &&
	[ "$(json_get "$D/smoke.json" '(j["rollback"]["attempted"], j["rollback"]["ok"], j["rollback"]["second_verdict"])')" = "(True, True, 'pass')" ] &&
	[ "$(json_get "$D/smoke.json" '[(c["name"], c["from"], c["to"]) for c in j["rollback"]["changed"]]')" = "[('breast-cancer', '3', '2')]" ] &&
	served 2 "$SHA2"; then
	t_pass "smoke --json --on-failure rollback: rollback attempted, ok, v3 -> v2, second verdict pass"
else
	t_fail "smoke --json --on-failure rollback: exit $rc"; cat "$D/smoke.json" "$D/err"
fi

# inferctl rollback itself, from the served v2: nothing to change.
t_ctl --config "$CONF" rollback >"$D/out" 2>"$D/err"; rc=$?
if [ $rc -eq 0 ] && grep -qx 'breast-cancer: unchanged v2' "$D/out" && served 2 "$SHA2"; then
	t_pass "inferctl rollback while the record's set serves: exit 0, 'unchanged v2'"
else
	t_fail "inferctl rollback (unchanged): exit $rc"; show
fi
t_ctl --config "$CONF" rollback --clear >/dev/null 2>"$D/err" || t_fail "rollback --clear: $(cat "$D/err")"

# --- a broken config: reload refuses it with the line, the daemon keeps serving ----------
cp "$CONF" "$D/good.conf"
bad_line=$(($(wc -l <"$CONF") + 1))
echo "no_such_setting = 1;" >>"$CONF"
t_ctl --socket "$SOCK" reload >"$D/out" 2>"$D/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "no_such_setting.*line $bad_line" "$D/err" && served 3 "$SHA3" &&
	predicts_like "$D/expected-v3"; then
	t_pass "inferctl reload with a broken config: exit 1, the error names line $bad_line, still serving"
else
	t_fail "inferctl reload with a broken config: exit $rc"; show
fi
cp "$D/good.conf" "$CONF"

# --- mark-good after the set changed under the smoke: 409, nothing marked -----------------
# A second model without a golden set stays out of the latency requests, so a new version of
# it, published while those run, leaves every request of the smoke answered; only the
# mark-good compare-and-set can notice.
mkdir -p "$REPO/other/1"
cp "$T_BUNDLED_MODEL" "$REPO/other/1/model.json"
sed 's/^} );$/}, { name = "other"; version = "latest"; } );/' "$D/good.conf" >"$CONF"
t_ctl --config "$CONF" reload >"$D/out" 2>"$D/err" || t_fail "reload with a second model: $(cat "$D/err")"
infer_count() {
	t_http_status "$SOCK" GET /metrics >/dev/null
	awk '/^inferd_requests_total\{endpoint="infer"/ { n += $2 } END { print n + 0 }' "$D/curl.body"
}
cp "$LKG" "$D/lkg.before"
before=$(infer_count)
# Long enough for a reload to land during the latency run; a wrapper slows both sides.
requests=50000
[ -n "$INFERD_WRAPPER" ] && requests=5000
t_ctl --config "$CONF" smoke --mark-good --requests $requests >"$D/out" 2>"$D/err" &
smoke_pid=$!
# The golden requests come after every metadata check: from then on "other" v1 is observed.
n=0
while [ "$(infer_count)" -le "$before" ] && [ $n -lt 600 ] && kill -0 $smoke_pid 2>/dev/null; do
	sleep 0.05
	n=$((n + 1))
done
mkdir "$REPO/other/2"
cp "$T_BUNDLED_MODEL" "$REPO/other/2/model.json"
t_ctl --config "$CONF" reload >"$D/reload.out" 2>"$D/reload.err"; reload_rc=$?
wait $smoke_pid; rc=$?
if [ $reload_rc -eq 0 ] && grep -qx 'other v2 sha256:.*' "$D/reload.out" && [ $rc -eq 1 ] &&
	grep -q '^FAIL mark-good .*the served set changed during the smoke test.*409' "$D/out" &&
	[ "$(tail -n 1 "$D/out")" = "smoke: FAIL (triggers: set_changed)" ] &&
	cmp -s "$LKG" "$D/lkg.before"; then
	t_pass "smoke --mark-good when the set changed meanwhile: 409, exit 1, the record unchanged"
	grep '^FAIL mark-good' "$D/out" | sed 's/^/  | /'
else
	t_fail "smoke --mark-good with a concurrent reload: exit $rc (reload $reload_rc)"; show
	sed 's/^/  | /' "$D/reload.out" "$D/reload.err"
fi
cp "$D/good.conf" "$CONF"
t_ctl --config "$CONF" reload >/dev/null 2>"$D/err" || t_fail "reload back to one model: $(cat "$D/err")"

# --- admin endpoints refuse an unprivileged peer ------------------------------------------
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1 && id nobody >/dev/null 2>&1; then
	# Let nobody reach the socket: the admin check is the gate being tested.
	chmod 0711 "$D"
	chmod 0666 "$SOCK"
	setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		"$T_INFERCTL" --socket "$SOCK" reload >"$D/out" 2>"$D/err"; rc=$?
	if [ $rc -eq 1 ] && grep -q 'HTTP 403' "$D/err" &&
		grep -q 'hint: run as root or a member of the admin group' "$D/err"; then
		t_pass "inferctl reload as nobody: 403, exit 1, with the admin-group hint"
	else
		t_fail "inferctl reload as nobody: exit $rc"; show
	fi
	chmod 0600 "$SOCK"
	chmod 0700 "$D"
else
	echo "skip the unprivileged-peer check: needs root, setpriv and a 'nobody' user"
fi

# --- smoke --client-access: a client with only the socket's group -------------------------
# What setpriv (util-linux, not inferctl) finds for a group-only client is what the check
# must report: refused at mode 0600, admitted at 0660. A rollback cannot fix a socket's mode,
# so the rollback policy reports it without rolling back.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1 && id nobody >/dev/null 2>&1; then
	chmod 0711 "$D"
	sgid=$(stat -c %g "$SOCK")
	as_group_client() {
		setpriv --reuid=nobody --regid="$sgid" --clear-groups \
			"$T_INFERCTL" --socket "$SOCK" ready >/dev/null 2>&1
	}
	served_now() {
		t_http_status "$SOCK" GET /v2/models/breast-cancer >/dev/null &&
			json_get "$D/curl.body" '(j["versions"], j["parameters"]["sha256"])'
	}
	before=$(served_now)
	chmod 0600 "$SOCK"
	as_group_client && t_fail "setpriv: a group-only client connects to a 0600 socket (test setup)"
	t_ctl --config "$CONF" smoke --client-access --json --on-failure rollback >"$D/out" 2>"$D/err"; rc=$?
	if [ $rc -eq 1 ] && [ "$(json_get "$D/out" 'j["triggers"]')" = "['client_access']" ] &&
		json_get "$D/out" '[c["detail"] for c in j["checks"] if c["name"] == "client-access"][0]' |
		grep -q "is refused: connect($SOCK): Permission denied; the socket has mode 0600, .*a rollback cannot fix this" &&
		[ "$(json_get "$D/out" '(j["rollback"]["attempted"], j["rollback"]["ok"])')" = "(False, False)" ] &&
		grep -q "a rollback restores models, not the socket's mode or group" "$D/err" &&
		[ -n "$before" ] && [ "$(served_now)" = "$before" ]; then
		t_pass "smoke --client-access, socket 0600: client_access fires (mode in the message), nothing rolled back"
	else
		t_fail "smoke --client-access with a 0600 socket: exit $rc"; show
	fi
	chmod 0660 "$SOCK"
	as_group_client || t_fail "setpriv: a group-only client cannot connect to a 0660 socket (test setup)"
	t_ctl --config "$CONF" smoke --client-access >"$D/out" 2>"$D/err"; rc=$?
	if [ $rc -eq 0 ] && grep -q "^ok   client-access  a client with only the socket's group (uid $(id -u nobody), gid $sgid) connects" "$D/out" &&
		[ "$(tail -n 1 "$D/out")" = "smoke: PASS" ]; then
		t_pass "smoke --client-access, socket 0660: the group-only client connects, PASS"
	else
		t_fail "smoke --client-access with a 0660 socket: exit $rc"; show
	fi
	chmod 0600 "$SOCK"
	chmod 0700 "$D"
else
	echo "skip the client-access checks: need root, setpriv and a 'nobody' user"
fi

# --- a bad model overwritten in place: the restart serves the last known good ------------
# Version 3 pinned and marked good; then, as a bad package upgrade does, its model.json is
# overwritten in place (with the bundled model: one leaf value differs from v3's) while its
# golden.json stays. The restart refuses the file, serves the snapshot, and the smoke fires.
PIN_CONF=$D/pinned.conf
sed 's/version = "latest";/version = 3;/' "$CONF" >"$PIN_CONF"
t_stop_daemon || t_fail "inferd did not exit 0 before the in-place overwrite"
t_start_daemon "$PIN_CONF" "$D/inferd.log"
t_wait_ready "$SOCK" || { t_fail "inferd with version 3 pinned did not start"; tail -n 20 "$D/inferd.log"; }
t_ctl --config "$PIN_CONF" smoke --mark-good >"$D/out" 2>"$D/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(json_get "$LKG" '[(m["name"], m["version"], m["sha256"]) for m in j["models"]]')" = "[('breast-cancer', '3', '$SHA3')]" ]; then
	t_pass "version 3 pinned, smoke --mark-good records it (sha256 $SHA3)"
else
	t_fail "smoke --mark-good of v3: exit $rc"; show
fi
t_stop_daemon || t_fail "inferd did not exit 0 before the in-place overwrite"
cp "$T_BUNDLED_MODEL" "$M/3/model.json"

"$T_INFERD" --check-config --config "$PIN_CONF" >"$D/out" 2>"$D/err"; rc=$?
if [ $rc -eq 0 ] && grep -q '^inferd: warning: breast-cancer: configured version refused (version 3: golden set .*does not match' "$D/err" &&
	grep -q 'the daemon will serve last known good v3$' "$D/err"; then
	t_pass "inferd --check-config with v3 overwritten: exit 0, warns that last known good v3 serves"
else
	t_fail "inferd --check-config with v3 overwritten: exit $rc"; show
fi

t_start_daemon "$PIN_CONF" "$D/inferd.log"
if t_wait_ready "$SOCK" && served 3 "$SHA3" && predicts_like "$D/expected-v3"; then
	t_pass "the restart refuses the overwritten v3 and serves its snapshot (v3's XGBoost outputs)"
else
	t_fail "the restart with v3 overwritten: not serving the snapshot"; tail -n 20 "$D/inferd.log"
fi

t_ctl --config "$PIN_CONF" smoke --on-failure rollback >"$D/out" 2>"$D/err"; rc=$?
if [ $rc -eq 1 ] && grep -q '^FAIL refused .*breast-cancer v3 refused: golden set .*does not match' "$D/out" &&
	grep -q '^smoke: FAIL (triggers: model_refused)$' "$D/out" &&
	grep -q '^--- smoke after the rollback ---$' "$D/out" &&
	grep -q '^ok   refused  *no refused version' "$D/out" &&
	[ "$(tail -n 1 "$D/out")" = "smoke: FAIL (triggers: model_refused); rolled back, and the restored set passes" ] &&
	grep -q '^\*\*\* WARNING: .*FAILED (triggers: model_refused)' "$D/err" &&
	grep -q 'smoke after the rollback: PASS' "$D/err" &&
	served 3 "$SHA3" && predicts_like "$D/expected-v3"; then
	t_pass "smoke --on-failure rollback: model_refused fires, rolled back, the second smoke passes"
else
	t_fail "smoke --on-failure rollback with v3 refused: exit $rc"; show
fi

t_stop_daemon; st=$?
t_check "inferd exits 0 on SIGTERM" [ $st -eq 0 ]
t_summary
