#!/bin/bash
# systemd-e2e.sh: installs the Debian package in a container booted with systemd and checks it as a server would.
#
# Usage: tests/e2e/systemd-e2e.sh DEB... | DIR
#   DEB or DIR: the package(s) to test (a DIR means its *.deb; -dbgsym packages are
#   ignored). Exactly one of them must be the package "inferd".
#
# Stages (each timed; see tests/e2e/README.md for what they check and why):
#   base         localhost/inferd-base-systemd:SUITE and piuparts' tarball (cached)
#   install      apt-get install from the mirror; units, status line, socket, postinst smoke,
#                last-known-good record, real predictions against the golden set
#   reload       systemctl reload under client load (a real model swap), then restart:
#                same socket, no failed request
#   crash        kill -9 under load: serving again within 1 s
#   watchdog     SIGSTOP (a hung event loop): WatchdogSec= catches it, a new daemon serves
#   reinstall    apt-get install --reinstall, then dpkg -i of the same files as a new version,
#                under a client loop (inferctl ready, 5 ms pauses): none refused; only inferd.service is
#                restarted; the postinst smoke's client-access check passes
#   config-typo  upgrade to a conffile with an unknown key and on_failure "fail": nothing
#                restarted, correct answers throughout, the error's file:line printed and in
#                the journal, config-refused recorded, the installation fails; then fixed
#   sockperm     upgrade to SocketMode=0600: the socket is restarted (its unit changed), the
#                smoke fires client_access (no rollback); then the package's socket again
#   bad-upgrade  upgrade to a version whose bundled model is wrong: the restart refuses it and
#                serves the last known good snapshot (the service never fails), the postinst
#                smoke fires model_refused, rolls back, the previous outputs keep being served
#   purge        apt-get purge removes what the package and the daemon made and keeps what
#                the admin made: a model version placed in /var/lib/inferd/models survives
#                (the purge names it) and is all that is left; the user and group stay;
#                no unit is left; reinstalling serves the kept model again; a last purge
#                without admin files leaves nothing under /var/lib/inferd
#   autopkgtest  debian/tests in a podman systemd container
#   piuparts     install/purge and upgrade-from-the-previous-version/purge in a chroot
#
# Environment:
#   E2E_SKIP_AUTOPKGTEST=1, E2E_SKIP_PIUPARTS=1   skip those stages
#   E2E_KEEP=1          keep the container and the work directory (printed) for inspection
#   E2E_SRCDIR          source tree for autopkgtest (default: this script's ../..)
#   INFERD_SUITE, INFERD_MIRROR, INFERD_CACHE_DIR  see containers/make-base.sh
#
# Exit status: 0 every check passed, 1 a check failed, 2 usage, 77 podman unusable (the
# reason is printed). The last line is "N passed, N failed".
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../../containers/podman-env.sh
. "$srcdir/containers/podman-env.sh"

PY=/usr/bin/python3
SOCK=/run/inferd/inferd.sock
IMAGE="localhost/inferd-base-systemd:$INFERD_SUITE"
T_START=$SECONDS

passed=0 failed=0
ok() {
	passed=$((passed + 1))
	echo "ok   - $*"
}
not_ok() {
	failed=$((failed + 1))
	echo "FAIL - $*"
}
note() { echo "       $*"; }
stage_name='' stage_t0=''
stage() {
	stage_end
	stage_name=$1 stage_t0=$(date +%s%N)
	echo "== stage $1"
}
stage_end() {
	[ -n "$stage_name" ] || return 0
	local ds=$((($(date +%s%N) - stage_t0) / 100000000))
	echo "== stage $stage_name: $((ds / 10)).$((ds % 10)) s"
	stage_name=
}
finish() {
	stage_end
	echo "== total: $((SECONDS - T_START)) s"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}

# ---- arguments -------------------------------------------------------------------------
debs=()
for a in "$@"; do
	if [ -d "$a" ]; then
		for f in "$a"/*.deb; do [ -f "$f" ] && debs+=("$(realpath "$f")"); done
	elif [ -f "$a" ]; then
		debs+=("$(realpath "$a")")
	else
		echo "systemd-e2e.sh: no such file or directory: $a" >&2
		exit 2
	fi
done
main_deb='' install_debs=()
for f in "${debs[@]}"; do
	p=$(dpkg-deb -f "$f" Package 2>/dev/null) || {
		echo "systemd-e2e.sh: not a .deb: $f" >&2
		exit 2
	}
	case $p in
	*-dbgsym) continue ;;
	inferd)
		if [ -n "$main_deb" ]; then
			echo "systemd-e2e.sh: two inferd packages given: $main_deb $f" >&2
			exit 2
		fi
		main_deb=$f
		;;
	esac
	install_debs+=("$f")
done
if [ -z "$main_deb" ]; then
	echo "usage: systemd-e2e.sh DEB... | DIR   (the inferd .deb, e.g. from make deb)" >&2
	exit 2
fi

# ---- podman ----------------------------------------------------------------------------
if ! podman_env_setup; then
	echo "SKIP: $PODMAN_ENV_REASON"
	exit 77
fi
for tool in dpkg-deb dpkg-scanpackages "$PY"; do
	if ! command -v "$tool" >/dev/null; then
		echo "systemd-e2e.sh: $tool is missing (Debian: apt-get install dpkg-dev python3)" >&2
		exit 1
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/inferd-e2e.XXXXXX")
ctr=inferd-e2e-$$-$RANDOM
ctr_started=
cleanup() {
	local rc=$? j
	# Background stages (autopkgtest, piuparts): stop their bounded commands first.
	for j in $(jobs -p); do
		pkill -TERM -P "$j" 2>/dev/null
		kill "$j" 2>/dev/null
	done
	wait 2>/dev/null
	if [ -n "${E2E_KEEP:-}" ]; then
		echo "E2E_KEEP: container $ctr and $work are kept"
	else
		[ -n "$ctr_started" ] && timeout 60 podman rm -f -t 0 "$ctr" >/dev/null 2>&1
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

# cx CMD...: runs in the container, bounded (CX_TIMEOUT seconds, default 60).
cx() { timeout "${CX_TIMEOUT:-60}" podman exec "$ctr" "$@"; }
cxsh() { cx bash -c "$1"; }
# ms_since T0: milliseconds elapsed since a `date +%s%N` stamp.
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# ---- stage: base images ----------------------------------------------------------------
stage base
targets=(systemd)
[ -z "${E2E_SKIP_PIUPARTS:-}" ] && targets+=(piuparts-tgz)
"$srcdir/containers/make-base.sh" "${targets[@]}" 2>&1 | sed 's/^/       /'
rc=${PIPESTATUS[0]}
if [ "$rc" = 77 ]; then
	echo "SKIP: containers/make-base.sh cannot run (see above)"
	exit 77
fi
if [ "$rc" != 0 ]; then
	not_ok "containers/make-base.sh failed (exit $rc): no base image"
	finish
fi
ok "base images ready ($IMAGE)"

# ---- host-side preparation: the original package's model, and the derived packages ------
version=$(dpkg-deb -f "$main_deb" Version)
dpkg-deb -x "$main_deb" "$work/orig"
mapfile -t bundled < <(cd "$work/orig" && ls usr/share/inferd/models/*/*/model.json 2>/dev/null)
if [ ${#bundled[@]} -ne 1 ]; then
	not_ok "the package should bundle exactly one model, found: ${bundled[*]:-none}"
	finish
fi
model_rel=${bundled[0]}                    # usr/share/inferd/models/NAME/VERSION/model.json
model_dir_rel=$(dirname "$model_rel")
model_ver=$(basename "$model_dir_rel")
model_name=$(basename "$(dirname "$model_dir_rel")")
golden_host=$work/orig/$model_dir_rel/golden.json
orig_sha=$(sha256sum "$work/orig/$model_rel" | cut -d' ' -f1)
echo "       package inferd $version, bundled model $model_name v$model_ver (sha256 $orig_sha)"

# The helper for JSON work on the host (the container has no python).
cat >"$work/e2e.py" <<'EOF'
"""e2e.py: JSON helpers for systemd-e2e.sh (golden rows, comparisons, the bad model)."""
import json, math, sys

def load(p):
    with open(p) as f:
        return json.load(f)

def csv(golden, out):
    # Missing values (null) become empty fields, which inferctl --csv reads as missing.
    g = load(golden)
    with open(out, "w") as f:
        for row in g["inputs"]:
            f.write(",".join("" if v is None else repr(float(v)) for v in row) + "\n")

def compare(golden, preds):
    # preds: inferctl infer --output predict, one line per row (K values for multiclass).
    g = load(golden)
    tol = g.get("tolerance", 1e-6) or 1e-6
    want = g["predict"]
    got = [[float(x) for x in l.replace(",", " ").split()] for l in open(preds) if l.strip()]
    if len(got) != len(want):
        print("%d rows answered, %d expected" % (len(got), len(want)))
        return 1
    worst = 0.0
    for w, r in zip(want, got):
        w = w if isinstance(w, list) else [w]
        if len(w) != len(r):
            print("row width %d, expected %d" % (len(r), len(w)))
            return 1
        for a, b in zip(w, r):
            worst = max(worst, abs(a - b))
    print("%d rows, max |diff| %.3g, tolerance %g" % (len(want), worst, tol))
    return 0 if worst <= tol else 1

def bad_model(src, dst):
    # Shifts every leaf of the first tree by +0.5: still a valid model that loads, but its
    # margins (and so its predictions) are off for every row.
    m = load(src)
    t = m["learner"]["gradient_booster"]["model"]["trees"][0]
    n = 0
    for i, left in enumerate(t["left_children"]):
        if left == -1:
            t["split_conditions"][i] += 0.5
            t["base_weights"][i] += 0.5
            n += 1
    with open(dst, "w") as f:
        json.dump(m, f, separators=(",", ":"))
    print("%d leaves of tree 0 shifted by +0.5" % n)

def xgb_wrong_rows(model, golden):
    # XGBoost itself predicts the golden rows with the bad model: how many are out of
    # tolerance (so the test knows the bad model really is wrong, independently of inferd).
    try:
        import numpy as np, xgboost as xgb
    except ImportError as e:
        print("skip: %s" % e)
        return 3
    g = load(golden)
    tol = g.get("tolerance", 1e-6) or 1e-6
    x = np.array([[math.nan if v is None else v for v in r] for r in g["inputs"]], dtype=np.float32)
    b = xgb.Booster(model_file=model)
    p = b.predict(xgb.DMatrix(x, missing=math.nan)).reshape(len(x), -1)
    want = np.array(g["predict"], dtype=np.float64).reshape(len(x), -1)
    n = int((np.abs(p - want) > tol).any(axis=1).sum())
    print("%d of %d" % (n, len(x)))
    return 0 if n > 0 else 1

def get(path, keys):
    # Prints a value by dotted path ("models.0.sha256"); lists print one item per line.
    v = load(path)
    for k in keys.split(".") if keys else []:
        v = v[int(k)] if isinstance(v, list) else v[k]
    if isinstance(v, list):
        for x in v:
            print(x if not isinstance(x, (dict, list)) else json.dumps(x))
    elif isinstance(v, (dict, bool)) or v is None:
        print(json.dumps(v))
    else:
        print(v)

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    try:
        r = {"csv": csv, "compare": compare, "bad-model": bad_model,
             "xgb-wrong-rows": xgb_wrong_rows, "get": get}[cmd](*args)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        print("error: %s" % e)
        r = 2
    sys.exit(r or 0)
EOF
py() { "$PY" "$work/e2e.py" "$@"; }
py csv "$golden_host" "$work/golden.csv"
n_golden=$(wc -l <"$work/golden.csv")

# repack SRC DST VERSION [FILE-IN-PACKAGE NEW-CONTENT]: the same package under another
# version, optionally with one file replaced (its md5sum updated, so debsums agrees;
# conffiles have no line there, dh_md5sums leaves them out).
repack() {
	local d=$work/repack.$$ f=${4:-}
	rm -rf "$d" && dpkg-deb -R "$1" "$d" || return 1
	sed -i "s/^Version: .*/Version: $3/" "$d/DEBIAN/control"
	if [ -n "$f" ]; then
		cp "$5" "$d/$f" || return 1
		if grep -q "  $f\$" "$d/DEBIAN/md5sums"; then
			sed -i "\\|  $f\$|d" "$d/DEBIAN/md5sums"
			(cd "$d" && md5sum "$f") >>"$d/DEBIAN/md5sums"
		fi
	fi
	dpkg-deb --root-owner-group -b "$d" "$2" >/dev/null || return 1
	rm -rf "$d"
}
bad_version=$version+e2ebad1
mkdir -p "$work/debs"
# The upgrade path of the stages below, in version order: a no-change rebuild (reinstall
# stage), a conffile with a typo and smoke.on_failure "fail" (config-typo), the good files
# again, inferd.socket with SocketMode=0600 (sockperm), the good files again; then the bad
# model (bad-upgrade).
same_version=$version+e2e1
typo_version=$version+e2e2
fixed_version=$version+e2e3
sock_version=$version+e2e4
unsock_version=$version+e2e5
conf_rel=etc/inferd/inferd.conf
# upgrade_to VERSION LOG: apt-get install of ./debs/inferd_VERSION.deb in the container,
# taking the package's conffile (some of these versions change it on purpose).
DPKG_OPTS='-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confnew'
upgrade_to() {
	CX_TIMEOUT=180 cxsh "cd /tmp/e2e && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $DPKG_OPTS ./debs/inferd_$1.deb" >"$2" 2>&1
}
socket_rel=lib/systemd/system/inferd.socket
prev=$version
for v in $same_version $typo_version $fixed_version $sock_version $unsock_version $bad_version; do
	dpkg --compare-versions "$v" gt "$prev" || {
		not_ok "test setup: version $v does not sort after $prev"
		finish
	}
	prev=$v
done
# The typo: an unknown key in the limits section (a plural's "s" forgotten), and the policy
# that makes a failed check fail the installation. Its line, found here, is what the error
# must name.
sed -e 's/^limits = {$/limits = {\n  max_row = 5;/' -e 's/on_failure = "[a-z]*";/on_failure = "fail";/' \
	"$work/orig/$conf_rel" >"$work/typo.conf"
typo_line=$(grep -n '^  max_row = 5;$' "$work/typo.conf" | cut -d: -f1)
if [ -z "$typo_line" ] || ! grep -q 'on_failure = "fail";' "$work/typo.conf"; then
	not_ok "test setup: cannot make the typo conffile (no 'limits = {' or on_failure in $conf_rel)"
	finish
fi
sed 's/^SocketMode=.*/SocketMode=0600/' "$work/orig/$socket_rel" >"$work/sockperm.socket"
grep -q '^SocketMode=0600$' "$work/sockperm.socket" || {
	not_ok "test setup: no SocketMode= in $socket_rel"
	finish
}
repack "$main_deb" "$work/debs/inferd_${same_version}.deb" "$same_version" &&
	repack "$main_deb" "$work/debs/inferd_${typo_version}.deb" "$typo_version" \
		"$conf_rel" "$work/typo.conf" &&
	repack "$main_deb" "$work/debs/inferd_${fixed_version}.deb" "$fixed_version" &&
	repack "$main_deb" "$work/debs/inferd_${sock_version}.deb" "$sock_version" \
		"$socket_rel" "$work/sockperm.socket" &&
	repack "$main_deb" "$work/debs/inferd_${unsock_version}.deb" "$unsock_version" || {
	not_ok "could not build the upgrade packages"
	finish
}
py bad-model "$work/orig/$model_rel" "$work/bad-model.json" | sed 's/^/       bad model: /'
bad_sha=$(sha256sum "$work/bad-model.json" | cut -d' ' -f1)
repack "$main_deb" "$work/debs/inferd_${bad_version}_bad.deb" "$bad_version" \
	"$model_rel" "$work/bad-model.json" || {
	not_ok "could not build the bad upgrade package"
	finish
}

# The container-side helper: client load and timed probes (inside the container, so that
# podman exec's own latency does not count).
cat >"$work/ctr.sh" <<'EOF'
#!/bin/bash
# ctr.sh: container-side client load and timed probes for systemd-e2e.sh.
SOCK=/run/inferd/inferd.sock
M=$(cat /tmp/e2e/model-name)
REF=/tmp/e2e/ref.txt
now() { date +%s%N; }
# probe: one correct answer to the golden rows (a wrong answer counts as a failure).
probe() {
	local out
	out=$(inferctl --socket "$SOCK" --timeout "${1:-5}" infer "$M" --output predict \
		--csv /tmp/e2e/golden.csv 2>>/tmp/e2e/probe.err) && [ "$out" = "$(cat "$REF")" ]
}
case $1 in
probe) probe 5 ;;
load) # load STOPFILE OUT: probes until STOPFILE exists (at most 120 s); OUT: "ok failed"
	okc=0 failc=0 end=$((SECONDS + 120))
	while [ ! -e "$2" ] && [ $SECONDS -lt $end ]; do
		if probe 5; then okc=$((okc + 1)); else failc=$((failc + 1)); fi
	done
	echo "$okc $failc" >"$3.tmp" && mv "$3.tmp" "$3"
	;;
until-new) # until-new OLDPID T0NS LIMIT_S: first correct answer from a new main PID
	end=$(($3 + $4 * 1000000000))
	while [ "$(now)" -lt $end ]; do
		if probe 1; then
			pid=$(systemctl show -p MainPID --value inferd.service)
			if [ "$pid" != 0 ] && [ "$pid" != "$2" ]; then
				echo "$pid $((($(now) - $3) / 1000000))"
				exit 0
			fi
		fi
		sleep 0.01
	done
	exit 1
	;;
kill9) # kill9 LIMIT_S: SIGKILL the main PID, then time the first correct answer
	pid=$(systemctl show -p MainPID --value inferd.service)
	[ "$pid" -gt 0 ] || exit 2
	t0=$(now)
	kill -9 "$pid" || exit 2
	echo "$pid $("$0" until-new "$pid" "$t0" "$2")"
	;;
stop) # stop LIMIT_S: SIGSTOP the main PID (a hung event loop), then time the recovery
	pid=$(systemctl show -p MainPID --value inferd.service)
	[ "$pid" -gt 0 ] || exit 2
	t0=$(now)
	kill -STOP "$pid" || exit 2
	echo "$pid $("$0" until-new "$pid" "$t0" "$2")"
	;;
connect) # connect STOPFILE OUT: "inferctl ready", 5 ms pauses, until STOPFILE (at most 300 s);
	# OUT: "ready not-ready refused" (exit 0, 1, 2: 2 is no connection at all)
	r=0 n=0 x=0 end=$((SECONDS + 300))
	while [ ! -e "$2" ] && [ $SECONDS -lt $end ]; do
		rc=0
		inferctl --socket "$SOCK" --timeout 5 ready >/dev/null 2>>/tmp/e2e/connect.err || rc=$?
		case $rc in 0) r=$((r + 1)) ;; 1) n=$((n + 1)) ;; *) x=$((x + 1)) ;; esac
		sleep 0.005
	done
	echo "$r $n $x" >"$3.tmp" && mv "$3.tmp" "$3"
	;;
watch) # watch STOPFILE OUT: each change of "SERVICE-STATE SOCKET-STATE", until STOPFILE (300 s)
	last='' end=$((SECONDS + 300))
	while [ ! -e "$2" ] && [ $SECONDS -lt $end ]; do
		s="$(systemctl is-active inferd.service) $(systemctl is-active inferd.socket)"
		[ "$s" != "$last" ] && echo "$s" >>"$3" && last=$s
		sleep 0.05
	done
	echo end >>"$3"
	;;
esac
EOF
chmod +x "$work/ctr.sh"

# ---- stage: boot and install -----------------------------------------------------------
stage install
t0=$(date +%s%N)
if ! timeout 60 podman run -d --name "$ctr" --systemd=always "$IMAGE" /sbin/init >/dev/null; then
	not_ok "podman run $IMAGE /sbin/init"
	finish
fi
ctr_started=1
# Bounded: the bus may not answer for the first few milliseconds, so poll.
state='' end=$((SECONDS + 60))
while [ $SECONDS -lt $end ]; do
	state=$(cx timeout 50 systemctl is-system-running --wait 2>/dev/null)
	case $state in running | degraded | maintenance | stopping) break ;; esac
	sleep 0.1
done
case $state in
running | degraded) ok "systemd booted in the container: $state in $(ms_since "$t0") ms" ;;
*)
	not_ok "systemd in the container: is-system-running says '${state:-nothing}'"
	cx systemctl --failed --no-pager
	finish
	;;
esac
cx mkdir -p /tmp/e2e/debs
for f in "${install_debs[@]}" "$work/debs/"*.deb; do
	podman cp "$f" "$ctr:/tmp/e2e/debs/" || not_ok "podman cp $f"
done
podman cp "$work/golden.csv" "$ctr:/tmp/e2e/golden.csv"
podman cp "$work/ctr.sh" "$ctr:/tmp/e2e/ctr.sh"
echo "$model_name" >"$work/model-name" && podman cp "$work/model-name" "$ctr:/tmp/e2e/model-name"

names=$(for f in "${install_debs[@]}"; do printf './debs/%s ' "$(basename "$f")"; done)
t0=$(date +%s%N)
if CX_TIMEOUT=300 cxsh "cd /tmp/e2e && apt-get update -q >/dev/null &&
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $names" >"$work/install.log" 2>&1; then
	ok "apt-get install $names(dependencies from the mirror) in $(ms_since "$t0") ms"
else
	not_ok "apt-get install $names"
	tail -n 30 "$work/install.log" | sed 's/^/       /'
	finish
fi
for u in inferd.socket inferd.service; do
	e=$(cx systemctl is-enabled $u) a=$(cx systemctl is-active $u)
	if [ "$e" = enabled ] && [ "$a" = active ]; then
		ok "$u enabled and active"
	else
		not_ok "$u: is-enabled=$e is-active=$a"
	fi
done
sum=$(cx sha256sum "/$model_rel" | cut -d' ' -f1)
[ "$sum" = "$orig_sha" ] || not_ok "installed model sha256 $sum differs from the package's $orig_sha"
status=$(cx systemctl show -p StatusText --value inferd.service)
re="^serving 1 model: $model_name v$model_ver \\(sha256:([0-9a-f]{8,64})\\)"
if [[ $status =~ $re ]] && [ "${sum#"${BASH_REMATCH[1]}"}" != "$sum" ]; then
	ok "status line: $status"
else
	not_ok "status line '$status' does not say serving $model_name v$model_ver (sha256:${sum:0:8}...)"
fi
st=$(cx stat -c '%a %G %F' "$SOCK")
if [ "$st" = "660 inferd socket" ]; then
	ok "$SOCK is a socket, mode 0660, group inferd"
else
	not_ok "$SOCK: mode/group/type '$st', expected '660 inferd socket'"
fi
user=$(cx stat -c %U "/proc/$(cx systemctl show -p MainPID --value inferd.service)")
if [ "$user" = inferd ]; then
	ok "the daemon runs as user inferd"
else
	not_ok "the daemon runs as '$user', not inferd"
fi
# It never needs root, and it writes nowhere but its state and runtime directories: the
# unit says so (checked as systemd loaded it), and no file anywhere else belongs to inferd
# after it has started, served and been marked good.
props="$(cx systemctl show -p User --value inferd.service)/$(cx systemctl show -p ProtectSystem --value inferd.service)/$(cx systemctl show -p CapabilityBoundingSet --value inferd.service)"
if [ "$props" = "inferd/strict/" ]; then
	ok "unit as loaded: User=inferd, ProtectSystem=strict, no capabilities"
else
	not_ok "unit as loaded: User/ProtectSystem/CapabilityBoundingSet = '$props', expected 'inferd/strict/'"
fi
owned=$(cxsh 'find / \( -path /proc -o -path /sys -o -path /dev -o -path /var/lib/inferd -o -path /run/inferd \) -prune -o -user inferd -print 2>/dev/null')
if [ -z "$owned" ]; then
	ok "no file outside /var/lib/inferd and /run/inferd belongs to inferd"
else
	not_ok "files owned by inferd outside its state and runtime directories: $(echo "$owned" | head -5 | tr '\n' ' ')"
fi
cx cat /var/lib/inferd/postinst-smoke.json >"$work/smoke1.json" 2>&1
outcome=$(py get "$work/smoke1.json" outcome)
verdict=$(py get "$work/smoke1.json" smoke.verdict)
if [ "$outcome" = passed ] && [ "$verdict" = pass ]; then
	ok "postinst smoke passed (/var/lib/inferd/postinst-smoke.json: outcome passed, verdict pass)"
else
	not_ok "postinst smoke record: outcome '$outcome', verdict '$verdict'"
fi
cx cat /var/lib/inferd/last-known-good.json >"$work/lkg1.json" 2>&1
lkg_name=$(py get "$work/lkg1.json" models.0.name)
lkg_sha=$(py get "$work/lkg1.json" models.0.sha256)
lkg_n=$(py get "$work/lkg1.json" models | wc -l)
if [ "$lkg_n" = 1 ] && [ "$lkg_name" = "$model_name" ] && [ "$lkg_sha" = "$sum" ]; then
	ok "last-known-good.json names $lkg_name with the sha256 sha256sum computes ($sum)"
else
	not_ok "last-known-good.json: $lkg_n models, '$lkg_name' sha256 '$lkg_sha' (sha256sum: $sum)"
fi
# Real predictions: the golden rows through the socket, against XGBoost's own outputs.
if cx inferctl --socket "$SOCK" infer "$model_name" --output predict --csv /tmp/e2e/golden.csv \
	>"$work/ref.txt" 2>"$work/ref.err" && r=$(py compare "$golden_host" "$work/ref.txt"); then
	ok "predictions for the $n_golden golden rows match XGBoost's: $r"
	podman cp "$work/ref.txt" "$ctr:/tmp/e2e/ref.txt"
else
	not_ok "golden rows: ${r:-$(cat "$work/ref.err")}"
	finish
fi

# ---- stage: reload under load, then restart --------------------------------------------
stage reload
load_start() { cx rm -f /tmp/e2e/stop /tmp/e2e/load.out && podman exec -d "$ctr" /tmp/e2e/ctr.sh load /tmp/e2e/stop /tmp/e2e/load.out >/dev/null; }
# bg_stop STOPFILE OUT UNKNOWN: stops a loop that ctr.sh runs in the background (it ends
# when STOPFILE appears) and prints its result OUT, or UNKNOWN if none comes within 15 s.
bg_stop() {
	CX_TIMEOUT=30 cxsh "touch $1
		for _ in \$(seq 1 150); do
			cat $2 2>/dev/null && exit 0
			sleep 0.1
		done
		echo '$3'"
}
# load_stop: prints "ok failed" of the load run.
load_stop() { bg_stop /tmp/e2e/stop /tmp/e2e/load.out "? ?"; }
served_version() {
	cx inferctl --socket "$SOCK" metadata "$model_name" >"$work/meta.json" 2>/dev/null &&
		py get "$work/meta.json" versions | tr '\n' ' ' | sed 's/ $//'
}
# wait_version V LIMIT_S: waits until the metadata says version V is served.
wait_version() {
	local end=$((SECONDS + $2))
	while [ $SECONDS -lt $end ]; do
		[ "$(served_version)" = "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
# A reload that changes what is served: a version 2 (the same bytes) in the first repository
# root appears on the first reload and disappears on the second. Clients run all along.
v2=/var/lib/inferd/models/$model_name/$((model_ver + 1))
pid_before=$(cx systemctl show -p MainPID --value inferd.service)
load_start
sleep 0.5
cxsh "mkdir -p $v2 && cp /$model_dir_rel/model.json /$model_dir_rel/golden.json $v2/"
reloads=0
t0=$(date +%s%N)
if cx systemctl reload inferd.service && wait_version "$((model_ver + 1))" 10; then
	reloads=$((reloads + 1))
	ok "systemctl reload: version $((model_ver + 1)) served after $(ms_since "$t0") ms"
else
	not_ok "systemctl reload: still serving version '$(served_version)'"
fi
cx rm -rf "/var/lib/inferd/models"
t0=$(date +%s%N)
if cx systemctl reload inferd.service && wait_version "$model_ver" 10; then
	reloads=$((reloads + 1))
	ok "systemctl reload: back to version $model_ver after $(ms_since "$t0") ms"
else
	not_ok "second reload: serving version '$(served_version)'"
fi
sleep 0.5
read -r l_ok l_fail < <(load_stop)
pid_after=$(cx systemctl show -p MainPID --value inferd.service)
if [ "$reloads" != 2 ]; then
	note "client load: $l_ok correct answers, $l_fail failed, but no reload happened under it"
elif [ "$l_fail" = 0 ] && [ "${l_ok:-0}" -gt 0 ] 2>/dev/null && [ "$pid_before" = "$pid_after" ]; then
	ok "client load during both reloads: $l_ok correct answers, 0 failed (same PID $pid_after)"
else
	not_ok "client load during reloads: ok=$l_ok failed=$l_fail, PID $pid_before -> $pid_after"
	cx tail -n 5 /tmp/e2e/probe.err 2>/dev/null | sed 's/^/       /'
fi

ino_before=$(cx stat -c %i "$SOCK")
sock_inv=$(cx systemctl show -p InvocationID --value inferd.socket)
pid_before=$(cx systemctl show -p MainPID --value inferd.service)
load_start
sleep 0.5
t0=$(date +%s%N)
if cx systemctl restart inferd.service; then
	restart_ms=$(ms_since "$t0")
	if cx /tmp/e2e/ctr.sh probe; then
		ok "systemctl restart returned in $restart_ms ms; the golden rows are answered right after"
	else
		not_ok "no correct answer right after systemctl restart"
	fi
else
	not_ok "systemctl restart inferd.service failed"
fi
sleep 0.5
read -r l_ok l_fail < <(load_stop)
pid_after=$(cx systemctl show -p MainPID --value inferd.service)
ino_after=$(cx stat -c %i "$SOCK")
sock_inv2=$(cx systemctl show -p InvocationID --value inferd.socket)
sock_state=$(cx systemctl is-active inferd.socket)
if [ "$ino_before" = "$ino_after" ] && [ "$sock_inv" = "$sock_inv2" ] && [ "$sock_state" = active ] &&
	[ "$pid_before" != "$pid_after" ]; then
	ok "restart kept the socket (inode $ino_after, inferd.socket not restarted); PID $pid_before -> $pid_after"
else
	not_ok "restart: inode $ino_before -> $ino_after, socket invocation changed=$([ "$sock_inv" = "$sock_inv2" ] && echo no || echo yes), socket $sock_state, PID $pid_before -> $pid_after"
fi
if [ "$l_fail" = 0 ] && [ "${l_ok:-0}" -gt 0 ] 2>/dev/null; then
	ok "client load during the restart: $l_ok correct answers, 0 failed"
else
	not_ok "client load during the restart: ok=$l_ok failed=$l_fail"
	cx tail -n 5 /tmp/e2e/probe.err 2>/dev/null | sed 's/^/       /'
fi

# ---- stage: crash (kill -9 under load) -------------------------------------------------
stage crash
n_before=$(cx systemctl show -p NRestarts --value inferd.service)
load_start
sleep 0.5
if out=$(CX_TIMEOUT=30 cx /tmp/e2e/ctr.sh kill9 10); then
	read -r old new kill_ms <<<"$out"
	if [ "$kill_ms" -le 1000 ]; then
		ok "kill -9 of PID $old: PID $new answers the golden rows correctly $kill_ms ms later (limit 1000)"
	else
		not_ok "kill -9 of PID $old: serving again only after $kill_ms ms (limit 1000)"
	fi
else
	kill_ms=
	not_ok "kill -9: not serving again within 10 s ($out)"
fi
sleep 0.5
read -r l_ok l_fail < <(load_stop)
note "client load across the crash: $l_ok correct answers, $l_fail failed (requests in flight on the killed daemon may fail)"
n_after=$(cx systemctl show -p NRestarts --value inferd.service)
if [ "$n_after" = $((n_before + 1)) ]; then
	ok "systemd counted the restart (NRestarts $n_before -> $n_after)"
else
	not_ok "NRestarts $n_before -> $n_after after kill -9"
fi

# ---- stage: watchdog (a hung event loop) -----------------------------------------------
stage watchdog
wd=$(cx systemctl show -p WatchdogUSec --value inferd.service)
n_before=$n_after
if [ -z "$wd" ] || [ "$wd" = 0 ] || [ "$wd" = infinity ]; then
	not_ok "inferd.service has no WatchdogSec= (WatchdogUSec=$wd)"
else
	if out=$(CX_TIMEOUT=90 cx /tmp/e2e/ctr.sh stop 75); then
		read -r old new wd_ms <<<"$out"
		# The watchdog fires WatchdogSec after the last keep-alive, which came before the hang.
		ok "SIGSTOP of PID $old: the watchdog ($wd) caught it; PID $new serving $wd_ms ms after the hang"
	else
		wd_ms=
		not_ok "SIGSTOP: no new daemon serving within 75 s (WatchdogSec $wd) ($out)"
	fi
	n_after=$(cx systemctl show -p NRestarts --value inferd.service)
	result=$(cxsh "journalctl -u inferd.service -o cat --no-pager | grep -c 'Watchdog timeout'")
	if [ "$n_after" = $((n_before + 1)) ] && [ "${result:-0}" -ge 1 ]; then
		ok "systemd restarted it for the watchdog (NRestarts $n_before -> $n_after)"
	else
		not_ok "after SIGSTOP: NRestarts $n_before -> $n_after, watchdog timeouts in the journal: ${result:-0}"
	fi
fi

# ---- stage: reinstall and a no-change upgrade: no connection refused -------------------
stage reinstall
# The postinst restarts inferd.service only: inferd.socket (unchanged) keeps listening, and
# a client connecting again and again (inferctl ready, 5 ms pauses) is never refused. Twice: apt-get install
# --reinstall of the installed version, then dpkg -i of the same files as a new version.
connect_start() { cx rm -f /tmp/e2e/cstop /tmp/e2e/connect.out /tmp/e2e/connect.err && podman exec -d "$ctr" /tmp/e2e/ctr.sh connect /tmp/e2e/cstop /tmp/e2e/connect.out >/dev/null; }
# connect_stop: prints "ready not-ready refused" of the connect loop.
connect_stop() { bg_stop /tmp/e2e/cstop /tmp/e2e/connect.out "? ? ?"; }
unit_ids() { # "socket-invocation socket-inode service-pid"
	echo "$(cx systemctl show -p InvocationID --value inferd.socket) $(cx stat -c %i "$SOCK") $(cx systemctl show -p MainPID --value inferd.service)"
}
# no_refusal WHAT CMD: runs CMD (a shell line in the container) under the connect loop.
no_refusal() {
	local what=$1 cmd=$2 rc c_ok c_nr c_ref s_inv s_ino s_pid a_inv a_ino a_pid
	read -r s_inv s_ino s_pid < <(unit_ids)
	connect_start
	sleep 0.5
	t0=$(date +%s%N)
	CX_TIMEOUT=180 cxsh "cd /tmp/e2e && $cmd" >"$work/reinstall.log" 2>&1
	rc=$?
	ms=$(ms_since "$t0")
	sleep 0.5 # connections made right after the restart count too
	read -r c_ok c_nr c_ref < <(connect_stop)
	read -r a_inv a_ino a_pid < <(unit_ids)
	if [ $rc = 0 ]; then
		ok "$what: exit 0 in $ms ms"
	else
		not_ok "$what: exit $rc"
		tail -n 20 "$work/reinstall.log" | sed 's/^/       /'
	fi
	if [ "$c_ref" = 0 ] && [ "$c_nr" = 0 ] && [ "${c_ok:-0}" -gt 0 ] 2>/dev/null; then
		ok "$what: a client loop (inferctl ready, 5 ms pauses) from 0.5 s before to 0.5 s after: $c_ok ready answers, 0 refused, 0 not ready"
	else
		not_ok "$what: connect loop: $c_ok ready, $c_nr not ready, $c_ref refused or failed"
		cx tail -n 5 /tmp/e2e/connect.err 2>/dev/null | sed 's/^/       /'
	fi
	if [ "$s_inv" = "$a_inv" ] && [ "$s_ino" = "$a_ino" ] && [ "$s_pid" != "$a_pid" ] &&
		[ "$a_pid" != 0 ]; then
		ok "$what: inferd.service restarted (PID $s_pid -> $a_pid), inferd.socket not (same invocation, inode $a_ino)"
	else
		not_ok "$what: socket invocation $s_inv -> $a_inv, inode $s_ino -> $a_ino, PID $s_pid -> $a_pid"
	fi
	cx cat /var/lib/inferd/postinst-smoke.json >"$work/smoke-r.json" 2>&1
	outcome=$(py get "$work/smoke-r.json" outcome)
	access=$(py get "$work/smoke-r.json" smoke.checks | grep '"client-access"' | head -n 1)
	if [ "$outcome" = passed ] && [[ $access == *'"ok": true'* ]]; then
		ok "$what: postinst smoke passed, client-access checked: $(echo "$access" | grep -o '"detail": "[^"]*"' | sed 's/^"detail": "//; s/"$//')"
	else
		not_ok "$what: postinst smoke outcome '$outcome', client-access check: ${access:-none}"
	fi
}
no_refusal "apt-get install --reinstall ($version)" \
	"DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall ./debs/$(basename "$main_deb")"
no_refusal "dpkg -i of the same files as $same_version" "dpkg -i ./debs/inferd_${same_version}.deb"

# ---- stage: an upgrade whose conffile has a typo ------------------------------------------
stage config-typo
# The new conffile has an unknown key and smoke.on_failure "fail". Expected: the postinst's
# inferd --check-config refuses it, nothing is restarted (the old daemon keeps serving
# correct answers throughout), the error names the file and line, the record says
# config-refused, and the installation fails. Putting the good file back and configuring
# again recovers.
read -r s_inv s_ino s_pid < <(unit_ids)
load_start
sleep 0.5
upgrade_to "$typo_version" "$work/typo.log"
rc=$?
sleep 0.5
read -r l_ok l_fail < <(load_stop)
read -r a_inv a_ino a_pid < <(unit_ids)
sed -n '/^Setting up inferd/,$p' "$work/typo.log" | head -n 12 | sed 's/^/       | /'
dstat=$(cx dpkg-query -W -f '${db:Status-Abbrev}' inferd | tr -d ' ')
if [ $rc != 0 ] && [ "$dstat" = iF ]; then
	ok "apt-get install of $typo_version fails (exit $rc), dpkg leaves inferd half-configured ($dstat)"
else
	not_ok "apt-get install of $typo_version: exit $rc, dpkg status '$dstat' (expected a failure, iF)"
fi
err_re="unknown setting \"limits.max_row\".* at line $typo_line in file /etc/inferd/inferd.conf"
if grep -q "$err_re" "$work/typo.log" && grep -q 'inferd was NOT restarted' "$work/typo.log"; then
	ok "the postinst prints the error with its file and line: $(grep -o "$err_re" "$work/typo.log" | head -n 1)"
else
	not_ok "no '$err_re' (or no 'NOT restarted') in the apt-get output"
fi
if cx journalctl -t inferd-postinst -o cat --no-pager 2>/dev/null | grep -q "$err_re"; then
	ok "the error is in the journal (journalctl -t inferd-postinst)"
else
	not_ok "the error is not in the journal under inferd-postinst"
fi
cx cat /var/lib/inferd/postinst-smoke.json >"$work/smoke-t.json" 2>&1
outcome=$(py get "$work/smoke-t.json" outcome)
policy=$(py get "$work/smoke-t.json" policy)
if [ "$outcome" = config-refused ] && [ "$policy" = fail ] &&
	py get "$work/smoke-t.json" config_errors | grep -q "$err_re"; then
	ok "postinst-smoke.json: outcome config-refused, policy fail, the error in config_errors"
else
	not_ok "postinst-smoke.json: outcome '$outcome', policy '$policy': $(head -c 300 "$work/smoke-t.json")"
fi
if [ "$s_inv" = "$a_inv" ] && [ "$s_ino" = "$a_ino" ] && [ "$s_pid" = "$a_pid" ] &&
	[ "$(cx systemctl is-active inferd.service)" = active ]; then
	ok "nothing was restarted: the daemon (PID $a_pid) and the socket are the ones from before"
else
	not_ok "after the refused config: socket $s_inv -> $a_inv, inode $s_ino -> $a_ino, PID $s_pid -> $a_pid, service $(cx systemctl is-active inferd.service)"
fi
if [ "$l_fail" = 0 ] && [ "${l_ok:-0}" -gt 0 ] 2>/dev/null; then
	ok "client load during the refused upgrade: $l_ok correct answers, 0 failed"
else
	not_ok "client load during the refused upgrade: ok=$l_ok failed=$l_fail"
	cx tail -n 5 /tmp/e2e/probe.err 2>/dev/null | sed 's/^/       /'
fi
podman cp "$work/orig/$conf_rel" "$ctr:/etc/inferd/inferd.conf"
if CX_TIMEOUT=180 cx dpkg --configure inferd >"$work/typo-fix.log" 2>&1 &&
	[ "$(cx dpkg-query -W -f '${db:Status-Abbrev}' inferd | tr -d ' ')" = ii ] &&
	cx cat /var/lib/inferd/postinst-smoke.json >"$work/smoke-t2.json" 2>&1 &&
	[ "$(py get "$work/smoke-t2.json" outcome)" = passed ] &&
	[ "$(cx systemctl show -p MainPID --value inferd.service)" != "$a_pid" ]; then
	ok "with the good file back, dpkg --configure inferd restarts it and the smoke passes"
else
	not_ok "dpkg --configure after fixing the config"
	tail -n 20 "$work/typo-fix.log" | sed 's/^/       /'
fi
# The same files as before, so that the next stages upgrade from a package whose conffile
# is the original one.
upgrade_to "$fixed_version" "$work/fixed.log" || {
	not_ok "apt-get install of $fixed_version"
	tail -n 20 "$work/fixed.log" | sed 's/^/       /'
}

# ---- stage: an upgrade whose socket unit locks clients out --------------------------------
stage sockperm
# inferd.socket with SocketMode=0600: only root may connect. The socket unit changed, so the
# postinst restarts it; the smoke (as root) connects, but its client-access check, as a
# client that has only the socket's group, is refused: client_access. The default policy
# (rollback) cannot fix a socket: the installation succeeds with the warning.
read -r s_inv s_ino s_pid < <(unit_ids)
upgrade_to "$sock_version" "$work/sock.log"
rc=$?
read -r a_inv a_ino a_pid < <(unit_ids)
sed -n '/^Setting up inferd/,$p' "$work/sock.log" | head -n 16 | sed 's/^/       | /'
st=$(cx stat -c '%a %G' "$SOCK")
gid=$(cx stat -c %g "$SOCK")
if cx setpriv --reuid=nobody --regid="$gid" --clear-groups inferctl --socket "$SOCK" ready >/dev/null 2>&1; then
	not_ok "test setup: a client with only group $gid connects to the socket ($st)"
else
	ok "the fault is real: setpriv --reuid=nobody --regid=$gid --clear-groups inferctl ready is refused (socket $st)"
fi
if [ $rc = 0 ] && [ "$s_inv" != "$a_inv" ]; then
	ok "apt-get install of $sock_version: exit 0 (policy rollback), inferd.socket restarted (its unit changed)"
else
	not_ok "apt-get install of $sock_version: exit $rc, socket invocation $s_inv -> $a_inv"
fi
cx cat /var/lib/inferd/postinst-smoke.json >"$work/smoke-s.json" 2>&1
outcome=$(py get "$work/smoke-s.json" outcome)
mapfile -t triggers < <(py get "$work/smoke-s.json" smoke.triggers)
detail=$(py get "$work/smoke-s.json" smoke.checks | grep '"client-access"' | grep -o '"detail": "[^"]*"')
if [ "${triggers[*]}" = client_access ] && [ "$outcome" = failed ] &&
	[[ $detail == *"mode 0600"* ]] && [[ $detail == *"a rollback cannot fix this"* ]] &&
	[ "$(py get "$work/smoke-s.json" smoke.rollback.attempted)" = false ]; then
	ok "postinst-smoke.json: trigger client_access, outcome failed, no rollback attempted: ${detail:11:200}"
else
	not_ok "postinst-smoke.json: triggers '${triggers[*]}', outcome '$outcome', detail '$detail'"
fi
if grep -q 'triggers: client_access' "$work/sock.log" &&
	grep -q "a rollback restores models, not the socket's mode or group" "$work/sock.log"; then
	ok "the postinst output names client_access and says a rollback cannot fix it"
else
	not_ok "the postinst output does not name client_access (or the rollback note)"
fi
# Back to the package's socket: changed again, restarted again, the check passes.
if upgrade_to "$unsock_version" "$work/unsock.log" &&
	[ "$(cx stat -c '%a %G' "$SOCK")" = "660 inferd" ] &&
	cx cat /var/lib/inferd/postinst-smoke.json >"$work/smoke-u.json" 2>&1 &&
	[ "$(py get "$work/smoke-u.json" outcome)" = passed ]; then
	ok "upgrade to $unsock_version (the package's socket again): mode 0660 group inferd, the smoke passes"
else
	not_ok "upgrade to $unsock_version: socket $(cx stat -c '%a %G' "$SOCK"), outcome $(py get "$work/smoke-u.json" outcome 2>/dev/null)"
	tail -n 20 "$work/unsock.log" | sed 's/^/       /'
fi

# ---- stage: upgrade to a package whose model is wrong ------------------------------------
stage bad-upgrade
# The upgrade overwrites the bundled model in place with one whose leaves are shifted:
# the golden set beside it (unchanged) no longer matches, as when a package ships a model
# that was retrained or corrupted by mistake. Expected: the restarted daemon refuses it and
# serves the last known good snapshot instead (ExecStartPre's --check-config only warns),
# so the service never fails; the postinst smoke fires model_refused, rolls back to the
# snapshot, and the old outputs are served throughout.
if r=$(py xgb-wrong-rows "$work/bad-model.json" "$golden_host"); then
	ok "the bad model is wrong: XGBoost predicts $r golden rows outside tolerance"
else
	note "XGBoost check of the bad model: $r"
fi
n_before=$(cx systemctl show -p NRestarts --value inferd.service)
since=$(cx date '+%Y-%m-%d %H:%M:%S')
cx rm -f /tmp/e2e/watch.stop /tmp/e2e/watch.out
podman exec -d "$ctr" /tmp/e2e/ctr.sh watch /tmp/e2e/watch.stop /tmp/e2e/watch.out >/dev/null
sleep 0.2
t0=$(date +%s%N)
CX_TIMEOUT=180 cxsh "cd /tmp/e2e && DEBIAN_FRONTEND=noninteractive apt-get install -y -q ./debs/inferd_${bad_version}_bad.deb" \
	>"$work/bad.log" 2>&1
rc=$?
watched=$(CX_TIMEOUT=30 cxsh 'touch /tmp/e2e/watch.stop
	for _ in $(seq 1 100); do
		grep -q "^end$" /tmp/e2e/watch.out 2>/dev/null && break
		sleep 0.1
	done
	grep -v "^end$" /tmp/e2e/watch.out' | tr '\n' ',' | sed 's/,$//')
sed -n '/^Setting up inferd/,$p' "$work/bad.log" | sed 's/^/       | /'
installed=$(cx dpkg-query -W -f '${Version}' inferd)
if [ $rc = 0 ] && [ "$installed" = "$bad_version" ]; then
	ok "apt-get install of $bad_version succeeded in $(ms_since "$t0") ms (the package is upgraded)"
else
	not_ok "apt-get install of $bad_version: exit $rc, installed version '$installed'"
fi
cx cat /var/lib/inferd/postinst-smoke.json >"$work/smoke2.json" 2>&1
outcome=$(py get "$work/smoke2.json" outcome)
mapfile -t triggers < <(py get "$work/smoke2.json" smoke.triggers)
if [ "${triggers[*]}" = model_refused ]; then
	if grep -q 'triggers: model_refused' "$work/bad.log"; then
		ok "the smoke fired model_refused (postinst-smoke.json and the postinst output)"
	else
		not_ok "model_refused in postinst-smoke.json, but not in the postinst output"
	fi
else
	not_ok "triggers '${triggers[*]}' in postinst-smoke.json (outcome '$outcome'), expected model_refused"
fi
refused=$(py get "$work/smoke2.json" smoke.checks | grep -o "$model_name v$model_ver refused: golden set[^\"]*" | head -n 1)
if [ -n "$refused" ]; then
	ok "the smoke names the refusal: ${refused:0:160}"
else
	not_ok "the smoke's checks do not name the refusal of $model_name v$model_ver"
fi
if [ "$outcome" = rolled-back ]; then
	ok "postinst-smoke.json: outcome rolled-back"
else
	not_ok "postinst-smoke.json: outcome '$outcome', expected rolled-back"
fi
svc=$(cx systemctl is-active inferd.service)
if [ "$svc" = active ]; then
	ok "inferd.service active after the bad upgrade"
else
	not_ok "inferd.service is '$svc' after the bad upgrade (inferd.socket: $(cx systemctl is-active inferd.socket))"
fi
# Throughout: the restart the upgrade asked for is the only one (no failure, no automatic
# restart, no start limit), and the socket never failed. That explicit restart resets
# NRestarts to 0; an automatic restart after a failure would count from there.
n_after=$(cx systemctl show -p NRestarts --value inferd.service)
failures=$(cx journalctl -u inferd.service -u inferd.socket --since "$since" -o cat --no-pager 2>/dev/null |
	grep -c -e 'Failed with result' -e 'Start request repeated too quickly' -e 'Failed to start')
# (The upgrade restarts inferd.service, which passes through deactivating and activating;
# never through failed, which is where the start limit left it before.)
if [ -n "$watched" ] && ! [[ $watched =~ failed ]] &&
	[ "${watched##*,}" = "active active" ] && [ "$n_after" = 0 ] && [ "$failures" = 0 ]; then
	ok "inferd.service never failed during the upgrade (states seen: $watched; NRestarts $n_before -> $n_after: no automatic restart)"
else
	not_ok "during the upgrade: states '$watched', NRestarts $n_before -> $n_after (expected 0), $failures failure lines in the journal"
fi
if cx journalctl -u inferd.service --since "$since" -o cat --no-pager 2>/dev/null |
	grep -q "configured version was refused; serving its last known good version $model_ver"; then
	ok "the restarted daemon refused the new file and served the last known good snapshot (journal)"
else
	not_ok "no 'serving its last known good version $model_ver' in the journal since the upgrade"
fi
r=
if cx inferctl --socket "$SOCK" --timeout 5 infer "$model_name" --output predict \
	--csv /tmp/e2e/golden.csv >"$work/after.txt" 2>"$work/after.err" &&
	r=$(py compare "$golden_host" "$work/after.txt"); then
	ok "after the bad upgrade the previous model's outputs are served: $r"
else
	not_ok "after the bad upgrade, the golden rows: ${r:-$(head -c 300 "$work/after.err")}"
fi
served_sha=
cx inferctl --socket "$SOCK" metadata "$model_name" >"$work/meta2.json" 2>/dev/null &&
	served_sha=$(py get "$work/meta2.json" parameters.sha256)
if [ "$served_sha" = "$orig_sha" ]; then
	ok "served sha256 is the previous model's ($orig_sha), not the bad one's ($bad_sha)"
else
	not_ok "served sha256 '$served_sha': previous $orig_sha, bad $bad_sha"
fi
if [ "$(cx sha256sum "/$model_rel" | cut -d' ' -f1)" = "$bad_sha" ]; then
	ok "the bad model is what the upgrade put on disk (so the old outputs come from the snapshot)"
else
	not_ok "the model on disk is not the bad one: the test did not test a rollback"
fi
# The rollback must survive a restart (a reboot would otherwise load the bad model again).
r=
if [ "$svc" = active ] && cx systemctl restart inferd.service &&
	cx inferctl --socket "$SOCK" --timeout 5 infer "$model_name" --output predict \
		--csv /tmp/e2e/golden.csv >"$work/after2.txt" 2>"$work/after2.err" &&
	r=$(py compare "$golden_host" "$work/after2.txt"); then
	ok "after systemctl restart the rollback holds: $r"
elif [ "$svc" = active ]; then
	not_ok "after the rollback and a restart, the golden rows: ${r:-$(head -c 300 "$work/after2.err")}"
fi
cx journalctl -u inferd.service -o cat --no-pager 2>/dev/null | tail -n 8 | sed 's/^/       journal: /'

# ---- stage: purge ----------------------------------------------------------------------
stage purge
pkgs=$(for f in "${install_debs[@]}"; do dpkg-deb -f "$f" Package; done | tr '\n' ' ')
# purge_all LOG: apt-get purge of the tested packages.
purge_all() {
	CX_TIMEOUT=120 cxsh "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $pkgs" >"$1" 2>&1
}
# left_behind: the package's paths that still exist, and every file named *inferd*, except
# the admin's model repository (and its directory /var/lib/inferd).
left_behind() {
	cxsh 'for p in /etc/inferd /run/inferd /usr/share/inferd /usr/share/doc/inferd \
	/lib/systemd/system/inferd.service /lib/systemd/system/inferd.socket \
	/usr/lib/sysusers.d/inferd.conf /usr/sbin/inferd /usr/bin/inferctl; do
	[ -e "$p" ] || [ -L "$p" ] && echo "$p"; done
	find /var/lib/inferd -mindepth 1 -maxdepth 1 ! -path /var/lib/inferd/models 2>/dev/null
	find / -xdev \( -path /proc -o -path /sys -o -path /tmp/e2e -o -path /var/log/journal \
		-o -path /var/lib/inferd \) -prune -o -name "*inferd*" -print 2>/dev/null'
}
# The admin's model: a new version of the bundled model in the first repository root, as
# docs/deployment.md says to add one (root-owned, the package knows nothing of it).
admin_ver=$((model_ver + 1))
admin_dir=/var/lib/inferd/models/$model_name/$admin_ver
if cx install -d "$admin_dir" && cx cp "/$model_dir_rel/golden.json" "$admin_dir/golden.json" &&
	podman cp "$work/orig/$model_rel" "$ctr:$admin_dir/model.json"; then
	ok "the admin placed $admin_dir/model.json (sha256 $orig_sha)"
else
	not_ok "cannot place the admin's model in $admin_dir"
fi
if purge_all "$work/purge.log"; then
	ok "apt-get purge -y $pkgs"
else
	not_ok "apt-get purge -y $pkgs"
	tail -n 20 "$work/purge.log" | sed 's/^/       /'
fi
kept_sha=$(cx sha256sum "$admin_dir/model.json" 2>/dev/null | cut -d' ' -f1)
if [ "$kept_sha" = "$orig_sha" ] && cx test -f "$admin_dir/golden.json"; then
	ok "the admin's model survives the purge: $admin_dir (model.json sha256 unchanged, golden.json)"
else
	not_ok "the admin's model after purge: model.json sha256 '${kept_sha:-missing}', expected $orig_sha"
fi
# (apt's output through podman exec ends its lines with CR LF.)
if tr -d '\r' <"$work/purge.log" | grep -qx "inferd:     $admin_dir"; then
	ok "the purge says what it kept and where: $(grep -c '^inferd: ' "$work/purge.log") lines, e.g. '$admin_dir'"
else
	not_ok "the purge output does not name the kept $admin_dir"
	tail -n 12 "$work/purge.log" | sed 's/^/       /'
fi
left=$(left_behind)
if [ -z "$left" ]; then
	ok "nothing else left: config, state, snapshots, records, socket, units, binaries are gone"
else
	not_ok "left behind after purge: $(echo "$left" | tr '\n' ' ')"
fi
if cx getent passwd inferd >/dev/null && cx getent group inferd >/dev/null; then
	ok "the system user and group inferd are kept (debian/README.Debian says why)"
else
	not_ok "user or group inferd removed by purge, although the admin's files may belong to it"
fi
dstat=$(cx dpkg-query -W -f '${db:Status-Abbrev}' inferd 2>/dev/null | tr -d ' ')
units=$(cxsh 'systemctl list-units --all --no-legend "inferd*" | grep -v "not-found" ')
if { [ -z "$dstat" ] || [ "$dstat" = un ]; } && [ -z "$units" ]; then
	ok "dpkg knows no inferd (status '${dstat:-none}'), systemd has no inferd unit loaded"
else
	not_ok "after purge: dpkg status '$dstat', units: $units"
fi
# Reinstalled, the package's default configuration finds the kept version: "latest".
t0=$(date +%s%N)
if CX_TIMEOUT=300 cxsh "cd /tmp/e2e && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $names" \
	>"$work/reinstall2.log" 2>&1; then
	ok "installed again after the purge in $(ms_since "$t0") ms"
else
	not_ok "apt-get install after the purge"
	tail -n 20 "$work/reinstall2.log" | sed 's/^/       /'
fi
status=$(cx systemctl show -p StatusText --value inferd.service)
served_ver=
cx inferctl --socket "$SOCK" --timeout 5 metadata "$model_name" >"$work/meta3.json" 2>/dev/null &&
	served_ver=$(py get "$work/meta3.json" versions | tail -n 1)
r=
if [[ $status == "serving 1 model: $model_name v$admin_ver "* ]] && [ "$served_ver" = "$admin_ver" ] &&
	cx inferctl --socket "$SOCK" --timeout 5 infer "$model_name" --output predict \
		--csv /tmp/e2e/golden.csv >"$work/after3.txt" 2>"$work/after3.err" &&
	r=$(py compare "$golden_host" "$work/after3.txt"); then
	ok "the reinstalled package serves the kept model v$admin_ver: $r"
else
	not_ok "after reinstalling: status '$status', metadata versions '$served_ver' (want $admin_ver), ${r:-$(head -c 300 "$work/after3.err")}"
fi
cx cat /var/lib/inferd/postinst-smoke.json >"$work/smoke3.json" 2>&1
if [ "$(py get "$work/smoke3.json" outcome)" = passed ]; then
	ok "the postinst smoke of the reinstall passed with the kept model"
else
	not_ok "postinst smoke after reinstalling: outcome '$(py get "$work/smoke3.json" outcome)'"
fi
# Without the admin's files, a purge leaves no trace under /var/lib/inferd at all.
cx rm -r "/var/lib/inferd/models"
if purge_all "$work/purge2.log" && left=$(left_behind) && [ -z "$left" ] &&
	! cx test -e /var/lib/inferd && ! grep -q "purge kept" "$work/purge2.log"; then
	ok "with no admin files, purge leaves no /var/lib/inferd and no file named *inferd*"
else
	not_ok "second purge: left '$(echo "$left" | tr '\n' ' ')', /var/lib/inferd $(cx test -e /var/lib/inferd && echo exists)"
	tail -n 10 "$work/purge2.log" | sed 's/^/       /'
fi
[ -z "${E2E_KEEP:-}" ] && timeout 60 podman rm -f -t 0 "$ctr" >/dev/null 2>&1 && ctr_started=

# ---- stages: autopkgtest and piuparts, side by side ---------------------------------------
# Both mostly wait on the mirror and dpkg, and neither measures time, so they run
# concurrently once the timed stages above are over. Each writes its exit status and its
# duration; the results are reported in order afterwards.
run_autopkgtest() {
	local t0=$SECONDS rc tree=${E2E_SRCDIR:-$srcdir}
	timeout 600 autopkgtest --setup-commands='apt-get update' \
		"${install_debs[@]}" "$tree/" -- podman --init "$IMAGE" >"$work/autopkgtest.log" 2>&1
	rc=$?
	echo "$rc $((SECONDS - t0))" >"$work/autopkgtest.rc"
}
run_piuparts() {
	local t0=$SECONDS rc cache repo up_version line extra=()
	if [ "$(id -u)" = 0 ]; then
		cache=${INFERD_CACHE_DIR:-/var/cache/inferd-ci}
	else
		cache=${INFERD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/inferd-ci}
	fi
	# The upgrade test needs an older version known to apt: the tested packages go into a
	# local repository, and a copy with a higher version is what piuparts upgrades to.
	repo=$work/piuparts-repo
	mkdir -p "$repo"
	cp "${install_debs[@]}" "$repo/"
	(cd "$repo" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages)
	up_version=$version+e2e1
	repack "$main_deb" "$work/inferd_${up_version}.deb" "$up_version"
	while read -r line; do
		[ "$(echo "$line" | cut -d' ' -f3)" = "$INFERD_SUITE" ] || extra+=(--extra-repo="$line")
	done < <(debian_apt_lines)
	timeout 900 piuparts -d "$INFERD_SUITE" -m "$(debian_mirror)" "${extra[@]}" \
		--basetgz="$cache/piuparts-$INFERD_SUITE-systemd.tgz" --bindmount="$repo" \
		--extra-repo="deb [trusted=yes] file://$repo ./" \
		"$work/inferd_${up_version}.deb" >"$work/piuparts.log" 2>&1
	rc=$?
	echo "$rc $((SECONDS - t0)) $up_version" >"$work/piuparts.rc"
}
jobs_started=()
if [ -n "${E2E_SKIP_AUTOPKGTEST:-}" ]; then
	note "autopkgtest skipped (E2E_SKIP_AUTOPKGTEST)"
elif ! command -v autopkgtest >/dev/null; then
	not_ok "autopkgtest is not installed (apt-get install autopkgtest)"
else
	run_autopkgtest &
	jobs_started+=(autopkgtest)
fi
if [ -n "${E2E_SKIP_PIUPARTS:-}" ]; then
	note "piuparts skipped (E2E_SKIP_PIUPARTS)"
elif ! command -v piuparts >/dev/null; then
	not_ok "piuparts is not installed (apt-get install piuparts)"
else
	run_piuparts &
	jobs_started+=(piuparts)
fi
if [ ${#jobs_started[@]} -gt 0 ]; then
	stage "${jobs_started[*]} (concurrently)"
	wait # each job is bounded by its own timeout
fi

if [ -f "$work/autopkgtest.rc" ]; then
	read -r rc secs <"$work/autopkgtest.rc"
	echo "== autopkgtest: $secs s"
	sed -n '/@@@@@@@@ summary/,$p' "$work/autopkgtest.log" | sed 's/^/       /'
	case $rc in
	0) ok "autopkgtest: all tests passed" ;;
	2) ok "autopkgtest: passed (some tests skipped)" ;;
	8) note "autopkgtest: the package has no tests (exit 8)" ;;
	*)
		not_ok "autopkgtest failed (exit $rc)"
		grep -v "^autopkgtest \[" "$work/autopkgtest.log" | tail -n 25 | sed 's/^/       /'
		;;
	esac
fi
if [ -f "$work/piuparts.rc" ]; then
	read -r rc secs up_version <"$work/piuparts.rc"
	echo "== piuparts: $secs s"
	grep -E " (INFO|ERROR|FAIL):" "$work/piuparts.log" | grep -E "PASS|FAIL|ERROR|Installation of" |
		tail -n 8 | sed 's/^/       /'
	# piuparts prints one PASS line per test; the upgrade test's names "upgrade".
	if [ "$rc" = 0 ] && grep -q "PASS: Installation and purging test" "$work/piuparts.log" &&
		grep -q "PASS: Installation, upgrade and purging tests" "$work/piuparts.log"; then
		ok "piuparts: install/purge, and install $version/upgrade to $up_version/purge passed"
	elif [ "$rc" = 0 ]; then
		not_ok "piuparts passed, but not both the install/purge and the upgrade test ran"
	else
		not_ok "piuparts (exit $rc)"
		grep -E "ERROR|FAIL" "$work/piuparts.log" | head -n 20 | sed 's/^/       /'
	fi
fi

finish
