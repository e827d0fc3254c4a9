#!/bin/sh
# fingerprint.sh: inferctl fingerprint of two daemons differing in one model version, and --diff.
# The repository holds the bundled model twice, as versions 1 and 2 (identical bytes); config
# A pins version 1, config B version 2. Expected values come from sha256sum, getconf, uname,
# curl, os-release and dpkg-query, never from inferd or inferctl.

# shellcheck source=lib.sh
. "${top_srcdir:?run through make check}/tests/lib.sh"

[ -n "$CURL" ] && command -v "$CURL" >/dev/null 2>&1 || CURL=$(command -v curl)
[ -n "$CURL" ] || t_skip "curl is not installed (configure found none)"
# Debian's python3 (configure's PYTHON3) reads the JSON, and os-release as the OS defines it.
PY=${PYTHON3:-/usr/bin/python3}
command -v "$PY" >/dev/null 2>&1 || t_skip "python3 is not installed"
"$PY" -c 'import platform; platform.freedesktop_os_release' 2>/dev/null ||
	t_skip "$PY is older than 3.10 (no platform.freedesktop_os_release)"
command -v sha256sum >/dev/null 2>&1 || t_skip "sha256sum is not installed"
getconf GNU_LIBC_VERSION >/dev/null 2>&1 || t_skip "getconf GNU_LIBC_VERSION: not a glibc system"
[ -x "$T_INFERD" ] || { echo "FAIL $T_INFERD is not built"; exit 1; }
[ -x "$T_INFERCTL" ] || { echo "FAIL $T_INFERCTL is not built"; exit 1; }

t_setup
D=$T_DIR
SOCK=$D/inferd.sock
REPO=$D/repo
mkdir -p "$REPO/breast-cancer/1" "$REPO/breast-cancer/2" "$D/state"
for v in 1 2; do
	cp "$T_BUNDLED_MODEL" "$T_BUNDLED_GOLDEN" "$REPO/breast-cancer/$v/"
done

# write_config FILE VERSION: the repository, one model pinned at VERSION; nothing else differs.
write_config() {
	{
		echo "socket = { path = \"$SOCK\"; mode = \"0600\"; };"
		echo "server = { state_dir = \"$D/state\"; threads = 2; shutdown_grace = 5; };"
		echo "log_level = \"info\";"
		echo "repository = [ \"$REPO\" ];"
		echo "models = ( { name = \"breast-cancer\"; version = $2; } );"
	} >"$1"
}
write_config "$D/A.conf" 1
write_config "$D/B.conf" 2

# field FILE PATH...: prints each value at PATH (keys joined by '.', models[NAME] picks the
# element named NAME); strings bare, null as null, anything else as JSON. Fails when absent.
field() {
	"$PY" - "$@" <<'EOF'
import json, re, sys
with open(sys.argv[1]) as f:
    v0 = json.load(f)
for p in sys.argv[2:]:
    v = v0
    for step in re.findall(r"\[[^\]]*\]|[^.\[\]]+", p):
        if step.startswith("["):
            v = [e for e in v if e.get("name") == step[1:-1]][0]
        else:
            v = v[step]
    print("null" if v is None else v if isinstance(v, str) else json.dumps(v, sort_keys=True))
EOF
}

# keys_sorted FILE: every object's keys appear in sorted order in the text (JSON_SORT_KEYS).
keys_sorted() {
	"$PY" - "$1" <<'EOF'
import json, sys
ok = True
def hook(pairs):
    global ok
    keys = [k for k, _ in pairs]
    if keys != sorted(keys):
        ok = False
    return dict(pairs)
with open(sys.argv[1]) as f:
    json.load(f, object_pairs_hook=hook)
sys.exit(0 if ok else 1)
EOF
}

# The fields every manifest of a running daemon has (from the documented schema).
FIELDS="inferd.version inferd.build_id libraries.libmicrohttpd libraries.jansson
libraries.libconfig libraries.libsystemd libraries.nettle libraries.libc config.file
config.sha256 config.effective models[breast-cancer].name models[breast-cancer].version
models[breast-cancer].sha256 inferctl.version inferctl.libcurl os.id os.version_id
os.version_codename os.pretty_name kernel.sysname kernel.release kernel.machine
package.name package.version"

# Independent sources for what the manifest must say.
PKG_VERSION=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$top_builddir/config.h")
LIBC=$(getconf GNU_LIBC_VERSION | sed 's/^glibc //')
LIBCURL=$("$CURL" --version | sed -n '1s/.* libcurl\/\([^ ]*\).*/\1/p')
MODEL_SHA=$(sha256sum "$REPO/breast-cancer/1/model.json" | cut -d' ' -f1)
# Documented in os-release(5); python parses it as the OS defines (None when absent).
OS_EXPECTED=$("$PY" -c '
import platform
try:
    o = platform.freedesktop_os_release()
except OSError:
    o = {}
for k in ("ID", "VERSION_ID", "VERSION_CODENAME", "PRETTY_NAME"):
    print(o.get(k, "null"))')
DPKG_EXPECTED=null
if command -v dpkg-query >/dev/null 2>&1 &&
	[ "$(dpkg-query -W -f='${db:Status-Status}' inferd 2>/dev/null)" = installed ]; then
	DPKG_EXPECTED=$(dpkg-query -W -f='${Version}' inferd)
fi

for X in A B; do
	V=1
	[ $X = B ] && V=2
	t_start_daemon "$D/$X.conf" "$D/$X.log"
	if ! t_wait_ready "$SOCK"; then
		t_fail "daemon $X did not become ready"
		cat "$D/$X.log"
		t_summary
	fi
	# The daemon runs as this user: its own uid is admin, root or not.
	t_ctl --socket "$SOCK" fingerprint --json >"$D/$X.json" 2>"$D/$X.err"
	t_check "fingerprint $X exits 0" [ $? -eq 0 ]
	t_ctl --socket "$SOCK" fingerprint >"$D/$X.again.json" 2>/dev/null
	t_check "fingerprint $X: the same manifest twice (no timestamp), with or without --json" \
		cmp -s "$D/$X.json" "$D/$X.again.json"
	t_stop_daemon
	t_check "daemon $X stops cleanly" [ $? -eq 0 ]

	# shellcheck disable=SC2086 # one argument per field
	if field "$D/$X.json" $FIELDS >"$D/$X.fields"; then
		t_pass "manifest $X has every field"
	else
		t_fail "manifest $X has every field"
		cat "$D/$X.json" "$D/$X.err"
	fi
	t_check "manifest $X: keys sorted" keys_sorted "$D/$X.json"
	t_check "manifest $X: no error recorded" [ "$(grep -c '"error"' "$D/$X.json")" -eq 0 ]
	t_check "manifest $X: inferd and inferctl are version $PKG_VERSION" \
		[ "$(field "$D/$X.json" inferd.version inferctl.version)" = "$PKG_VERSION
$PKG_VERSION" ]
	t_check "manifest $X: libc $LIBC as getconf says" \
		[ "$(field "$D/$X.json" libraries.libc)" = "$LIBC" ]
	t_check "manifest $X: libcurl $LIBCURL as curl --version says" \
		[ "$(field "$D/$X.json" inferctl.libcurl)" = "$LIBCURL" ]
	t_check "manifest $X: model version $V, sha256 of the model file" \
		[ "$(field "$D/$X.json" 'models[breast-cancer].version' 'models[breast-cancer].sha256')" = "$V
$MODEL_SHA" ]
	t_check "manifest $X: config file and its sha256" \
		[ "$(field "$D/$X.json" config.file config.sha256)" = "$D/$X.conf
$(sha256sum "$D/$X.conf" | cut -d' ' -f1)" ]
	t_check "manifest $X: the kernel as uname says" \
		[ "$(field "$D/$X.json" kernel.sysname kernel.release kernel.machine)" = "$(uname -s)
$(uname -r)
$(uname -m)" ]
	t_check "manifest $X: the OS release as os-release says" \
		[ "$(field "$D/$X.json" os.id os.version_id os.version_codename os.pretty_name)" = "$OS_EXPECTED" ]
	t_check "manifest $X: the package version as dpkg-query says ($DPKG_EXPECTED)" \
		[ "$(field "$D/$X.json" package.version)" = "$DPKG_EXPECTED" ]
done

# --diff: the pinned version shows three times (served model, effective config) and the
# config file twice (name, bytes); nothing else differs between the two installations.
t_ctl fingerprint --diff "$D/A.json" "$D/B.json" >"$D/diff.out" 2>"$D/diff.err"
t_check "--diff A B exits 1" [ $? -eq 1 ]
cat >"$D/diff.expected" <<EOF
config.file: "$D/A.conf" -> "$D/B.conf"
config.sha256: "$(sha256sum "$D/A.conf" | cut -d' ' -f1)" -> "$(sha256sum "$D/B.conf" | cut -d' ' -f1)"
models[breast-cancer].version: "1" -> "2"
EOF
grep -v '^config\.effective\.' "$D/diff.out" >"$D/diff.rest"
if cmp -s "$D/diff.rest" "$D/diff.expected"; then
	t_pass "--diff A B: the config file, its sha256 and the model version"
else
	t_fail "--diff A B: the config file, its sha256 and the model version"
	diff "$D/diff.expected" "$D/diff.out"
fi
# The effective config writes the pin as given: 1 or "1".
if [ "$(grep -c '^config\.effective\.' "$D/diff.out")" -eq 1 ] &&
	grep -Eq '^config\.effective\.models\[breast-cancer\]\.version: "?1"? -> "?2"?$' \
		"$D/diff.out"; then
	t_pass "--diff A B: the effective config differs in the pin only"
else
	t_fail "--diff A B: the effective config differs in the pin only"
	cat "$D/diff.out"
fi
t_check "--diff A B: nothing on stderr" [ ! -s "$D/diff.err" ]

t_ctl fingerprint --diff "$D/A.json" "$D/B.json" --ignore config.effective >"$D/diff2.out"
t_check "--diff --ignore config.effective exits 1" [ $? -eq 1 ]
t_check "--diff --ignore config.effective: exactly the three lines" \
	cmp -s "$D/diff2.out" "$D/diff.expected"
t_ctl fingerprint --diff "$D/A.json" "$D/B.json" --ignore config --ignore=models >"$D/diff3.out"
t_check "--diff ignoring config and models: identical (exit 0)" [ $? -eq 0 ]
t_check "--diff ignoring config and models: no output" [ ! -s "$D/diff3.out" ]

t_ctl fingerprint --diff "$D/A.json" "$D/A.json" >"$D/same.out" 2>&1
t_check "--diff A A exits 0" [ $? -eq 0 ]
t_check "--diff A A prints nothing" [ ! -s "$D/same.out" ]
# A config that cannot be read is no obstacle: --diff needs neither config nor daemon.
t_ctl --config "$D/none.conf" fingerprint --diff "$D/B.json" "$D/B.json" >"$D/same.out" 2>&1
t_check "--diff needs no config" [ $? -eq 0 ]

# Bad input: exit 2 with a reason.
printf '{"a": ' >"$D/bad.json"
printf '[1]' >"$D/array.json"
for args in "$D/A.json $D/none.json" "$D/bad.json $D/A.json" "$D/A.json $D/array.json" \
	"$D/A.json"; do
	# shellcheck disable=SC2086 # the file names have no blanks (mktemp)
	t_ctl fingerprint --diff $args >/dev/null 2>"$D/bad.err"
	st=$?
	[ -s "$D/bad.err" ] || st="$st, no reason"
	t_check "--diff $(echo "$args" | sed "s|$D/||g"): exit 2 with a reason (got $st)" \
		[ "$st" = 2 ]
done
t_ctl --help >"$D/help" 2>&1
t_check "--help names fingerprint, --diff and --ignore" \
	grep -q 'fingerprint --diff A B \[--ignore PATH\]' "$D/help"
t_ctl fingerprint --ignore kernel >/dev/null 2>&1
t_check "--ignore without --diff is a usage error" [ $? -eq 2 ]

# No daemon: the local parts, the error recorded, exit 2 (cannot connect, as for every
# command in inferctl's exit-code table).
t_ctl --socket "$D/nothing.sock" fingerprint >"$D/none.json" 2>"$D/none.err"
t_check "no daemon: exit 2" [ $? -eq 2 ]
t_check "no daemon: the error recorded and the local parts printed" \
	field "$D/none.json" error kernel.release os.id inferctl.version package.version \
	>/dev/null
t_check "no daemon: the error names the socket" grep -q "nothing.sock" "$D/none.json"
t_check "no daemon: no daemon part" [ "$(grep -c '"models"' "$D/none.json")" -eq 0 ]
t_ctl fingerprint --diff "$D/A.json" "$D/none.json" --ignore config --ignore models \
	--ignore inferd --ignore libraries >"$D/none.diff"
t_check "no daemon vs A: only the error differs besides the daemon's part" \
	[ "$(cat "$D/none.diff")" = "+ error" ]

t_summary
