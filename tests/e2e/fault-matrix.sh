#!/bin/bash
# fault-matrix.sh: the same deployment faults injected into a manual deployment (A) and the packaged one (B), measured.
#
# Usage: tests/e2e/fault-matrix.sh [--out FILE] DEB | DIR
#   DEB or DIR: the inferd .deb (e.g. from make deb; a DIR means its inferd_*.deb).
#   --out FILE: where the results go (default: docs/evidence/data/fault-matrix.json in the
#   source tree).
#
# Alternatives, each case in a fresh container started from a prepared image:
#   A  manual: localhost/inferd-base (no systemd); the runtime libraries installed with
#      apt-get, the package's own inferd and inferctl binaries, config and model copied by
#      hand, `inferd &` started as user inferd. A change is deployed the same way (copy,
#      stop, start in the background): no readiness gate, no smoke test, no rollback.
#   B  packaged: localhost/inferd-base-systemd with systemd as PID 1, `apt-get install
#      ./inferd_*.deb`, socket activation, the postinst smoke (--mark-good, and rollback to
#      the last known good set on a trigger). A change is a new package version.
# Both start from the same good deployment: the bundled model serving, with the config's
# smoke.p99_ms set to FM_SLO_MS (the latency objective; also what the client counts as too
# slow; the package's other settings are its defaults); B's was marked good by its postinst. A client (tests/e2e/fault-matrix/fmclient.c, as an unprivileged user in
# group inferd) sends one single-row inference per new connection every 10 ms and checks
# each answer against XGBoost's output for that golden row.
#
# Faults (the same change for both, deployed each alternative's way):
#   control     the good release deployed again (what any redeploy costs)
#   wrong       a model that loads but predicts differently (golden set unchanged)
#   corrupt     the model file truncated to half (invalid JSON)
#   typo        a config typo: limits.max_row (unknown key)
#   missinglib  `dpkg --remove libjansson4`, then the service restarted
#   sockperm    socket mode 0600 (A: the config's socket.mode; B: SocketMode= in the
#               package's inferd.socket, which is what applies under systemd)
#   slow        the model plus FM_SLOW_TREES chain trees of depth FM_SLOW_DEPTH whose
#               leaves are 0: XGBoost's predictions are unchanged, each row costs more
# Per case: failed requests (error, wrong value, or slower than FM_SLO_MS) within
# FM_BOUND_S seconds of the injection (slower than FM_SLO_MS counts only when most of the 21
# requests around it are: single outliers are this shared host's noise), the first signal (B: apt/dpkg exit status, the
# postinst's journal record, systemd), the first client failure, and the time to the
# first good answer after the last failure, when the good answers from there last 3 s
# ("not recovered" otherwise).
# A case ends early once the injection is done and the last 3 s of answers were all good.
#
# Environment: FM_BOUND_S (40), FM_SLO_MS (2, whole ms), FM_SLOW_TREES (30000), FM_SLOW_DEPTH (30),
#   FM_FAULTS (all, space-separated), FM_ALTS ("A B"), FM_KEEP=1 keeps the work directory,
#   CC (cc); INFERD_SUITE, INFERD_MIRROR, INFERD_CACHE_DIR (containers/make-base.sh).
# Exit status: 0 every case measured, 1 a case could not be set up, 2 usage, 77 podman is
# unusable (the reason is printed).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../../containers/podman-env.sh
. "$srcdir/containers/podman-env.sh"

PY=/usr/bin/python3
FMDIR=$here/fault-matrix
BOUND=${FM_BOUND_S:-40}
SLO=${FM_SLO_MS:-2}
SLOW_TREES=${FM_SLOW_TREES:-30000}
SLOW_DEPTH=${FM_SLOW_DEPTH:-30}
FAULTS=${FM_FAULTS:-control wrong corrupt typo missinglib sockperm slow}
ALTS=${FM_ALTS:-A B}
SOCK=/run/inferd/inferd.sock
MODEL_REL=usr/share/inferd/models/breast-cancer/1
T_START=$SECONDS

say() { echo "fault-matrix: $*"; }
die() {
	say "$*" >&2
	exit 1
}

out=$srcdir/docs/evidence/data/fault-matrix.json
args=()
while [ $# -gt 0 ]; do
	case $1 in
	--out)
		out=$2
		shift 2
		;;
	-h | --help)
		sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		args+=("$1")
		shift
		;;
	esac
done
[ ${#args[@]} -eq 1 ] || {
	echo "usage: fault-matrix.sh [--out FILE] DEB|DIR" >&2
	exit 2
}
deb=${args[0]}
if [ -d "$deb" ]; then
	deb=$(ls "$deb"/inferd_*.deb 2>/dev/null | head -n 1)
fi
[ -f "$deb" ] && [ "$(dpkg-deb -f "$deb" Package 2>/dev/null)" = inferd ] || {
	echo "fault-matrix.sh: not the inferd .deb: ${args[0]}" >&2
	exit 2
}
deb=$(realpath "$deb")
out=$(realpath -m "$out")

if ! podman_env_setup; then
	echo "SKIP: $PODMAN_ENV_REASON"
	exit 77
fi
CC=${CC:-cc}
for tool in dpkg-deb "$PY" "$CC"; do
	command -v "$tool" >/dev/null || die "$tool is missing (Debian: apt-get install dpkg-dev python3 gcc)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/inferd-fm.XXXXXX")
chmod 0755 "$work"
tag=$$-$RANDOM
IMG_A=localhost/inferd-fm-a:$tag
IMG_B=localhost/inferd-fm-b:$tag
containers=()
cleanup() {
	local rc=$? c
	for c in "${containers[@]}"; do timeout 60 podman rm -f -t 0 "$c" >/dev/null 2>&1; done
	timeout 60 podman rmi -f "$IMG_A" "$IMG_B" >/dev/null 2>&1
	if [ -n "${FM_KEEP:-}" ]; then say "FM_KEEP: $work is kept"; else rm -rf "$work"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo interrupted; exit 130' INT TERM
fm() { "$PY" "$FMDIR/fm.py" "$@"; }

# ---- base images ------------------------------------------------------------------------
"$srcdir/containers/make-base.sh" base systemd 2>&1 | sed 's/^/    /'
rc=${PIPESTATUS[0]}
[ "$rc" = 77 ] && {
	echo "SKIP: containers/make-base.sh cannot run"
	exit 77
}
[ "$rc" = 0 ] || die "containers/make-base.sh failed (exit $rc)"

# ---- artifacts: the client, the fault files, A's releases, B's packages -----------------
version=$(dpkg-deb -f "$deb" Version)
dpkg-deb -x "$deb" "$work/orig"
orig=$work/orig
golden=$orig/$MODEL_REL/golden.json
[ -f "$orig/$MODEL_REL/model.json" ] || die "the package has no $MODEL_REL/model.json"
"$CC" -std=gnu11 -O2 -Wall -Wextra -o "$work/fmclient" "$FMDIR/fmclient.c" -lm ||
	die "cannot build the client"
fm rows "$golden" "$work/rows.tsv"
mkdir -p "$work/f"
fm config "$orig/etc/inferd/inferd.conf" "$work/f/good.conf" "p99=$SLO"
fm config "$work/f/good.conf" "$work/f/typo.conf" typo
fm config "$work/f/good.conf" "$work/f/sockperm.conf" sockmode=0600
fm wrong-model "$orig/$MODEL_REL/model.json" "$work/f/wrong.json" | sed 's/^/    /'
fm corrupt-model "$orig/$MODEL_REL/model.json" "$work/f/corrupt.json" | sed 's/^/    /'
fm slow-model "$orig/$MODEL_REL/model.json" "$work/f/slow.json" "$SLOW_TREES" "$SLOW_DEPTH" |
	sed 's/^/    /'
slow_xgb=$(fm xgb-maxdiff "$work/f/slow.json" "$golden")
wrong_xgb=$(fm xgb-maxdiff "$work/f/wrong.json" "$golden")
say "XGBoost's max |predict - golden|: slow model $slow_xgb (same outputs), wrong model $wrong_xgb"
sed 's/^\(SocketMode=\).*/\10600/' "$orig/lib/systemd/system/inferd.socket" >"$work/f/sockperm.socket"
grep -q '^SocketMode=0600' "$work/f/sockperm.socket" || die "no SocketMode= in inferd.socket"

# release NAME [model=FILE] [conf=FILE]: one of A's release directories.
release() {
	local d=$work/rel/$1 model=$orig/$MODEL_REL/model.json conf=$work/f/good.conf a
	shift
	for a in "$@"; do
		case $a in
		model=*) model=${a#model=} ;;
		conf=*) conf=${a#conf=} ;;
		esac
	done
	mkdir -p "$d"
	cp "$orig/usr/sbin/inferd" "$orig/usr/bin/inferctl" "$d/"
	cp "$conf" "$d/inferd.conf"
	cp "$model" "$d/model.json"
	cp "$golden" "$d/golden.json"
}
release good
release control
release wrong model="$work/f/wrong.json"
release corrupt model="$work/f/corrupt.json"
release typo conf="$work/f/typo.conf"
release sockperm conf="$work/f/sockperm.conf"
release slow model="$work/f/slow.json"

# repack DST VERSION [PATH-IN-PACKAGE=FILE]...: the package under another version with files
# replaced (md5sums updated). gzip: the slow model would take long with xz.
repack() {
	local dst=$1 v=$2 d=$work/repack a f src
	shift 2
	rm -rf "$d" && dpkg-deb -R "$deb" "$d" || return 1
	sed -i "s/^Version: .*/Version: $v/" "$d/DEBIAN/control"
	for a in "$@"; do
		f=${a%%=*} src=${a#*=}
		cp "$src" "$d/$f" || return 1
		sed -i "\\|  $f\$|d" "$d/DEBIAN/md5sums"
		(cd "$d" && md5sum "$f") >>"$d/DEBIAN/md5sums"
	done
	dpkg-deb --root-owner-group -Zgzip -z1 -b "$d" "$dst" >/dev/null || return 1
	rm -rf "$d"
}
mkdir -p "$work/debs"
good_v=$version+fm1
repack "$work/debs/good.deb" "$good_v" "etc/inferd/inferd.conf=$work/f/good.conf" || die "repack good"
fv=$version+fm2
repack "$work/debs/control.deb" "$fv.control" "etc/inferd/inferd.conf=$work/f/good.conf" &&
	repack "$work/debs/wrong.deb" "$fv.wrong" "etc/inferd/inferd.conf=$work/f/good.conf" \
		"$MODEL_REL/model.json=$work/f/wrong.json" &&
	repack "$work/debs/corrupt.deb" "$fv.corrupt" "etc/inferd/inferd.conf=$work/f/good.conf" \
		"$MODEL_REL/model.json=$work/f/corrupt.json" &&
	repack "$work/debs/typo.deb" "$fv.typo" "etc/inferd/inferd.conf=$work/f/typo.conf" &&
	repack "$work/debs/sockperm.deb" "$fv.sockperm" "etc/inferd/inferd.conf=$work/f/good.conf" \
		"lib/systemd/system/inferd.socket=$work/f/sockperm.socket" &&
	repack "$work/debs/slow.deb" "$fv.slow" "etc/inferd/inferd.conf=$work/f/good.conf" \
		"$MODEL_REL/model.json=$work/f/slow.json" || die "repack of a fault package failed"
say "artifacts ready after $((SECONDS - T_START)) s"

# ---- images: the good deployment of each alternative -------------------------------------
cx() { timeout "${CX_TIMEOUT:-60}" podman exec "$1" "${@:2}"; }
# The runtime libraries are the package's shared-library dependencies (its lib* Depends).
libs=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/ //g' | grep '^lib' |
	grep -v '^libc6$' | tr '\n' ' ')
fm_files() { # fm_files CTR: the client, its rows and the injection wrapper into /fm
	cx "$1" mkdir -p /fm/out &&
		podman cp "$work/fmclient" "$1:/fm/fmclient" && podman cp "$work/rows.tsv" "$1:/fm/rows.tsv" &&
		podman cp "$FMDIR/inject.sh" "$1:/fm/inject.sh"
}
if [[ " $ALTS " == *" A "* ]]; then
	c=inferd-fm-a-build-$tag
	containers+=("$c")
	timeout 60 podman run -d --name "$c" "localhost/inferd-base:$INFERD_SUITE" sleep infinity \
		>/dev/null || die "podman run (A image)"
	CX_TIMEOUT=600 cx "$c" bash -c "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends $libs" >"$work/a-apt.log" 2>&1 ||
		{ tail -n 20 "$work/a-apt.log"; die "A: apt-get install $libs"; }
	fm_files "$c" || die "A: copying files"
	podman cp "$work/rel" "$c:/fm/releases" && podman cp "$FMDIR/a-deploy.sh" "$c:/fm/a-deploy.sh" ||
		die "A: copying releases"
	cx "$c" bash -c 'groupadd -r inferd && useradd -r -g inferd -d /nonexistent -s /usr/sbin/nologin inferd &&
		useradd -M -U -G inferd client && install -d -o inferd -g inferd -m 0755 /run/inferd &&
		install -d -o inferd -g inferd -m 0750 /var/lib/inferd' || die "A: users and directories"
	timeout 60 podman stop -t 0 "$c" >/dev/null
	timeout 120 podman commit -q "$c" "$IMG_A" >/dev/null || die "A: podman commit"
	timeout 60 podman rm -f -t 0 "$c" >/dev/null
	say "A image ready (libraries: $libs) after $((SECONDS - T_START)) s"
fi
if [[ " $ALTS " == *" B "* ]]; then
	c=inferd-fm-b-build-$tag
	containers+=("$c")
	timeout 60 podman run -d --name "$c" --systemd=always "localhost/inferd-base-systemd:$INFERD_SUITE" \
		/sbin/init >/dev/null || die "podman run (B image)"
	for _ in $(seq 1 300); do
		s=$(cx "$c" systemctl is-system-running 2>/dev/null)
		case $s in running | degraded) break ;; esac
		sleep 0.2
	done
	fm_files "$c" && cx "$c" mkdir -p /fm/debs && podman cp "$work/debs/." "$c:/fm/debs/" ||
		die "B: copying files"
	CX_TIMEOUT=600 cx "$c" bash -c "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q /fm/debs/good.deb" >"$work/b-apt.log" 2>&1 ||
		{ tail -n 20 "$work/b-apt.log"; die "B: apt-get install good.deb"; }
	outcome=$(cx "$c" cat /var/lib/inferd/postinst-smoke.json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["outcome"])')
	[ "$outcome" = passed ] || die "B: the good package's postinst smoke says '$outcome'"
	cx "$c" useradd -M -U -G inferd client || die "B: useradd client"
	timeout 90 podman stop "$c" >/dev/null
	timeout 120 podman commit -q "$c" "$IMG_B" >/dev/null || die "B: podman commit"
	timeout 60 podman rm -f -t 0 "$c" >/dev/null
	say "B image ready (postinst smoke passed, marked good) after $((SECONDS - T_START)) s"
fi

# ---- cases -------------------------------------------------------------------------------
# wait_good DIR SECONDS: until the last second of the client's log is all good answers.
wait_good() {
	local end=$((SECONDS + $2)) now
	while [ $SECONDS -lt $end ]; do
		now=$(date +%s%N)
		if [ -s "$1/client.log" ] && awk -v t=$((now - 1000000000)) -v slo=$((SLO * 1000)) \
			'$1 >= t { n++; if ($4 != "o" || $3 > slo) bad++ } END { exit !(n >= 20 && !bad) }' \
			"$1/client.log"; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}
inject_cmd() { # inject_cmd ALT FAULT: the injection, as run inside the container
	case $1/$2 in
	A/missinglib) echo "dpkg --remove libjansson4; /fm/a-deploy.sh good" ;;
	A/*) echo "/fm/a-deploy.sh $2" ;;
	B/missinglib) echo "dpkg --remove libjansson4; rc=\$?; systemctl restart inferd.service; exit \$rc" ;;
	B/*) echo "DEBIAN_FRONTEND=noninteractive apt-get install -y -q /fm/debs/$2.deb" ;;
	esac
}
case_dirs=()
failures=0
run_case() { # run_case ALT FAULT
	local alt=$1 fault=$2 d=$work/cases/$1-$2 c=inferd-fm-$1-$2-$tag t_inj now t_end cmd rc
	mkdir -p "$d" && chmod 1777 "$d"
	containers+=("$c")
	say "case $alt/$fault"
	if [ "$alt" = A ]; then
		timeout 60 podman run -d --name "$c" --network none -v "$d:/fm/out" "$IMG_A" sleep infinity \
			>/dev/null || return 1
		cx "$c" /fm/a-deploy.sh good >/dev/null || return 1
	else
		timeout 60 podman run -d --name "$c" --network none --systemd=always -v "$d:/fm/out" \
			"$IMG_B" /sbin/init >/dev/null || return 1
		for _ in $(seq 1 300); do
			case $(cx "$c" systemctl is-system-running 2>/dev/null) in running | degraded) break ;; esac
			sleep 0.2
		done
	fi
	podman exec -d "$c" setpriv --reuid=client --regid=client --init-groups -- \
		/fm/fmclient "$SOCK" breast-cancer /fm/rows.tsv /fm/out/client.log /fm/out/stop 10 2000 900 \
		>/dev/null || return 1
	if ! wait_good "$d" 90; then
		say "  $alt/$fault: the good deployment never answered well; skipping the case"
		tail -n 3 "$d/client.log" 2>/dev/null
		return 1
	fi
	sleep 2
	[ "$alt" = B ] && cx "$c" bash -c 'cd /var/lib/inferd && mv -f postinst-smoke.json postinst-smoke.before.json'
	cmd=$(inject_cmd "$alt" "$fault")
	# The injection runs in the background so that the window is timed from its start.
	CX_TIMEOUT=$((BOUND + 300)) cx "$c" /fm/inject.sh /fm/out bash -c "$cmd" &
	local inj_pid=$!
	for _ in $(seq 1 100); do
		[ -s "$d/t_inject" ] && break
		sleep 0.1
	done
	t_inj=$(cat "$d/t_inject" 2>/dev/null) || return 1
	while :; do
		sleep 1
		now=$(date +%s%N)
		[ $((now - t_inj)) -ge $((BOUND * 1000000000)) ] && break
		t_end=$(cat "$d/t_inject_end" 2>/dev/null)
		# Early end: the injection is over and the last 3 s of answers were all good.
		if [ -n "$t_end" ] && [ $((now - t_end)) -ge 3000000000 ] &&
			awk -v t=$((now - 3000000000)) -v slo=$((SLO * 1000)) \
				'$1 >= t { n++; if ($4 != "o" || $3 > slo) bad++ } END { exit !(n >= 20 && !bad) }' \
				"$d/client.log"; then
			break
		fi
	done
	touch "$d/stop"
	wait "$inj_pid" 2>/dev/null
	sleep 0.5
	if [ "$alt" = B ]; then
		cx "$c" cat /var/lib/inferd/postinst-smoke.json >"$d/postinst-smoke.json" 2>/dev/null ||
			rm -f "$d/postinst-smoke.json"
		cx "$c" journalctl -o json --no-pager --since "@$((t_inj / 1000000000 - 1))" >"$d/journal.json" 2>/dev/null
		{
			echo "service=$(cx "$c" systemctl is-active inferd.service)"
			echo "socket=$(cx "$c" systemctl is-active inferd.socket)"
			echo "package=$(cx "$c" dpkg-query -W -f '${Version}' inferd)"
			echo "served_sha256=$(cx "$c" inferctl --socket $SOCK --timeout 5 metadata breast-cancer 2>/dev/null |
				"$PY" -c 'import json,sys; print(json.load(sys.stdin)["parameters"]["sha256"])' 2>/dev/null)"
			echo "rollback_in_force=$(cx "$c" test -e /var/lib/inferd/rollback.json && echo yes || echo no)"
		} >"$d/post.txt"
	else
		{
			echo "daemon_running=$(cx "$c" bash -c 's=$(awk "{print \$3}" /proc/$(cat /run/inferd.pid)/stat 2>/dev/null)
				[ -n "$s" ] && [ "$s" != Z ] && echo yes || echo no')"
			echo "daemon_log_tail=$(cx "$c" tail -n 2 /var/log/inferd.log | tr '\n' ' ' | cut -c1-400)"
			echo "served_sha256=$(cx "$c" inferctl --socket $SOCK --timeout 5 metadata breast-cancer 2>/dev/null |
				"$PY" -c 'import json,sys; print(json.load(sys.stdin)["parameters"]["sha256"])' 2>/dev/null)"
		} >"$d/post.txt"
	fi
	cp "$d/inject.log" "$d/inject.txt" 2>/dev/null
	local rc_meaning=''
	case $alt/$fault in
	B/missinglib) rc_meaning="dpkg refused (inferd Depends: libjansson4)" ;;
	B/*) rc_meaning="apt-get/dpkg failed (postinst)" ;;
	esac
	"$PY" -c 'import json,sys; print(json.dumps(dict(alt=sys.argv[1], fault=sys.argv[2], injection=sys.argv[3], slo_ms=float(sys.argv[4]), bound_s=float(sys.argv[5]), inject_rc_meaning=sys.argv[6])))' \
		"$alt" "$fault" "$cmd" "$SLO" "$BOUND" "$rc_meaning" >"$d/case-meta.json"
	fm analyze "$d" | sed 's/^/    /'
	tail -n 4 "$d/inject.log" | sed 's/^/    | /'
	timeout 60 podman rm -f -t 0 "$c" >/dev/null 2>&1
	case_dirs+=("$d")
	return 0
}
for fault in $FAULTS; do
	for alt in $ALTS; do
		run_case "$alt" "$fault" || {
			failures=$((failures + 1))
			say "case $alt/$fault could not be set up"
		}
	done
done

meta=$("$PY" -c 'import json,sys,time; print(json.dumps(dict(generated=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), package_version=sys.argv[1], bound_s=float(sys.argv[2]), slo_ms=float(sys.argv[3]), slow_model=dict(trees_added=int(sys.argv[4]), depth=int(sys.argv[5]), xgboost_max_diff=sys.argv[6]), wrong_model_xgboost_max_diff=sys.argv[7], client="one single-row infer per new connection every 10 ms, 2 s timeout, answers checked against XGBoost (tolerance 1e-6)", runtime_libraries=sys.argv[8].split(), suite=sys.argv[9], total_s=int(sys.argv[10]))))' \
	"$version" "$BOUND" "$SLO" "$SLOW_TREES" "$SLOW_DEPTH" "$slow_xgb" "$wrong_xgb" "$libs" \
	"$INFERD_SUITE" "$((SECONDS - T_START))")
mkdir -p "$(dirname "$out")"
fm assemble "$out" "$meta" "${case_dirs[@]}" || die "cannot write $out"
say "wrote $out (${#case_dirs[@]} cases, $failures not set up) in $((SECONDS - T_START)) s"
[ "$failures" = 0 ]
