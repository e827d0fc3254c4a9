#!/bin/bash
# container-test.sh: builds the inferd container image and checks it as an operator would run it.
#
# Usage: tests/e2e/container-test.sh
#
# Stages (each timed):
#   build     containers/build-image.sh (cached layers reused): image ID, size (< 120 MB),
#             build time, OCI labels
#   socket    run with -v DIR:/run/inferd --network none; from the host: inferctl smoke
#             passes, predictions of the golden inputs match XGBoost's golden outputs; the
#             socket is 0660; the daemon runs as a non-root uid with no capabilities;
#             podman healthcheck run is healthy
#   stop      podman stop under load (1,000-row requests in a loop): exit code 0 within
#             2 s, no request that reached the daemon failed, none dropped
#   tcp       the same image with listen_tcp = "0.0.0.0:8080" published on 127.0.0.1 only:
#             health and infer over TCP, /v2/admin/state answers 403 there (and 200 on the
#             socket); skipped with a message while the daemon has no TCP listener
#   repro     two more builds with --no-cache from the same sources and base: the
#             manifest of installed files (path, type, mode, owner, sha256) must be
#             identical; image IDs and layer digests are compared and reported
#
# Environment:
#   top_srcdir, top_builddir   (make sets them) the tree, and where src/inferctl is built;
#                              else this script's ../.. and the inferctl on PATH
#   CONTAINER_TEST_SKIP_REPRO=1   skip the repro stage (two full builds, the slow part)
#   CONTAINER_TEST_KEEP=1         keep containers and the work directory
#   CONTAINER_TEST_IMAGE=IMAGE    test this image instead of building one (the label
#                                 checks then compare with this tree)
#   INFERD_SUITE, INFERD_MIRROR, INFERD_CACHE_DIR   see containers/make-base.sh
#
# Exit status: 0 every check passed, 1 a check failed, 77 podman unusable (the reason is
# printed, nothing else skips the whole test). The last line is "N passed, N failed".
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcdir=$(cd "${top_srcdir:-$here/../..}" && pwd)
# shellcheck source=../../containers/podman-env.sh
. "$srcdir/containers/podman-env.sh"

PY=/usr/bin/python3
MODEL=breast-cancer
GOLDEN=$srcdir/src/models/$MODEL/1/golden.json
SIZE_GOAL=120000000
T_START=$(date +%s.%N)

passed=0 failed=0
ok() {
	passed=$((passed + 1))
	echo "ok   - $*"
}
not_ok() {
	failed=$((failed + 1))
	echo "FAIL - $*"
}
check() { # check MSG CMD...
	local msg=$1
	shift
	if "$@"; then ok "$msg"; else not_ok "$msg"; fi
}
note() { echo "       $*"; }
now() { date +%s.%N; }
secs() { printf '%.2f' "$(echo "$2 - $1" | bc)"; } # secs T0 T1
stage_name='' stage_t0=''
timings=()
stage() {
	stage_end
	stage_name=$1 stage_t0=$(now)
	echo "== stage $1"
}
stage_end() {
	[ -n "$stage_name" ] || return 0
	local t
	t=$(secs "$stage_t0" "$(now)")
	echo "== stage $stage_name: $t s"
	timings+=("$stage_name $t s")
	stage_name=
}

containers=()
images=()
work=
cleanup() {
	local c
	[ -n "${CONTAINER_TEST_KEEP:-}" ] && {
		echo "kept: containers ${containers[*]:-none}, work dir $work"
		return
	}
	for c in "${containers[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1; done
	for c in "${images[@]}"; do podman rmi "$c" >/dev/null 2>&1; done
	[ -n "$work" ] && rm -rf "$work"
}
finish() {
	stage_end
	echo "== timings: ${timings[*]/%/;} total $(secs "$T_START" "$(now)") s"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 1' INT TERM

if ! podman_env_setup; then
	echo "SKIP: podman is not usable: $PODMAN_ENV_REASON"
	exit 77
fi
command -v curl >/dev/null || { not_ok "curl is needed on the host (apt-get install curl)"; finish; }
[ -x "$PY" ] || { not_ok "$PY is needed on the host"; finish; }

work=$(mktemp -d "${TMPDIR:-/tmp}/inferd-ctest.XXXXXX")
chmod 0755 "$work"

# inferctl on the host: the build tree's, else an installed one, else the image's own run
# in a second container that shares the socket directory (still a client outside the
# daemon's container).
inferctl_host=
if [ -n "${top_builddir:-}" ] && [ -x "$top_builddir/src/inferctl" ]; then
	inferctl_host=$top_builddir/src/inferctl
elif command -v inferctl >/dev/null; then
	inferctl_host=$(command -v inferctl)
fi

# ---- build -----------------------------------------------------------------------------
stage build
t0=$(now)
if [ -n "${CONTAINER_TEST_IMAGE:-}" ]; then
	IMAGE=$(podman image inspect --format '{{.Id}}' "$CONTAINER_TEST_IMAGE") ||
		{ not_ok "CONTAINER_TEST_IMAGE=$CONTAINER_TEST_IMAGE exists"; finish; }
	note "not building: CONTAINER_TEST_IMAGE=$CONTAINER_TEST_IMAGE ($IMAGE)"
elif ! "$srcdir/containers/build-image.sh" --iidfile "$work/iid" --tag localhost/inferd:test \
	>"$work/build.log" 2>&1; then
	tail -n 40 "$work/build.log"
	not_ok "the image builds (log above)"
	finish
else
	images+=(localhost/inferd:test)
	IMAGE=$(cat "$work/iid")
	ok "the image builds: $IMAGE"
	grep '^build-image.sh: \(size\|build time\)' "$work/build.log" | sed 's/^/       /'
	note "(cached layers reused: $(secs "$t0" "$(now)") s wall; the repro stage times full builds)"
fi
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
check "image size $((size / 1000000)) MB is under the $((SIZE_GOAL / 1000000)) MB goal" \
	test "$size" -lt "$SIZE_GOAL"
label() { podman image inspect --format "{{index .Labels \"org.opencontainers.image.$1\"}}" "$IMAGE"; }
want_version=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$srcdir/debian/changelog")
check "label version = debian/changelog's ($want_version)" test "$(label version)" = "$want_version"
head_rev=$(git -C "$srcdir" rev-parse HEAD 2>/dev/null || echo none)
rev=$(label revision)
check "label revision names HEAD ($rev)" test "${rev%-dirty}" = "$head_rev"
want_created=$(date -u -d "@$(git -C "$srcdir" log -1 --format=%ct)" +%Y-%m-%dT%H:%M:%SZ)
check "label created = the last commit's time ($want_created)" test "$(label created)" = "$want_created"
for l in title description source licenses; do
	check "label $l is set" test -n "$(label $l)"
done
check "image user is numeric and not root ($(podman image inspect --format '{{.User}}' "$IMAGE"))" \
	bash -c '[[ $1 =~ ^[1-9][0-9]*(:[0-9]+)?$ ]]' _ "$(podman image inspect --format '{{.User}}' "$IMAGE")"
check "image has a healthcheck and STOPSIGNAL SIGTERM" bash -c \
	'[ -n "$(podman image inspect --format "{{.HealthCheck}}" "$1")" ] &&
	 podman image inspect --format "{{.Config.StopSignal}}" "$1" | grep -qx SIGTERM' _ "$IMAGE"

# ---- socket ----------------------------------------------------------------------------
stage socket
uid=$(podman image inspect --format '{{.User}}' "$IMAGE")
uid=${uid%%:*}
sockdir=$work/run
mkdir -p "$sockdir"
# Rootful podman without a user namespace: the container's uid is the host's, so the
# daemon needs a socket directory it may write, as /run/inferd is in the image.
chown "$uid:$uid" "$sockdir"
chmod 0750 "$sockdir"
SOCK=$sockdir/inferd.sock
name=inferd-ctest-$$
containers+=("$name")
t0=$(now)
if ! podman run -d --name "$name" --network none -v "$sockdir:/run/inferd" "$IMAGE" >/dev/null; then
	not_ok "podman run -d $IMAGE"
	finish
fi
ctl() { # ctl ARGS...: inferctl against the socket, from outside the daemon's container
	if [ -n "$inferctl_host" ]; then
		"$inferctl_host" --socket "$SOCK" "$@"
	else
		podman run --rm -i --network none --user 0 -v "$sockdir:/run/inferd" "$IMAGE" \
			inferctl --socket /run/inferd/inferd.sock "$@"
	fi
}
ready=
for _ in $(seq 1 100); do
	if [ -S "$SOCK" ] && ctl --timeout 1 ready >/dev/null 2>&1; then
		ready=1
		break
	fi
	sleep 0.1
done
check "ready over the bind-mounted socket in $(secs "$t0" "$(now)") s (podman run included)" test -n "$ready"
if [ -z "$ready" ]; then
	podman logs "$name" 2>&1 | tail -n 20
	finish
fi
note "client: ${inferctl_host:-inferctl in a second container}"
check "socket is mode 0660, owned by uid $uid" test "$(stat -c '%a %u' "$SOCK")" = "660 $uid"

# smoke from the host with a config naming the socket and the source tree's repository,
# so that it finds the golden set beside the model version (the package ships the same).
cat >"$work/host.conf" <<EOF
socket = { path = "$SOCK"; };
repository = [ "$srcdir/src/models" ];
models = ( { name = "$MODEL"; version = "latest"; } );
smoke = { on_failure = "fail"; };
EOF
if [ -n "$inferctl_host" ]; then
	smoke_out=$("$inferctl_host" --config "$work/host.conf" smoke 2>&1)
	rc=$?
else
	smoke_out=$(ctl smoke 2>&1)
	rc=$?
fi
check "inferctl smoke passes from the host (exit $rc)" test $rc -eq 0
echo "$smoke_out" | sed 's/^/       /'
check "smoke checked the golden set" bash -c 'grep -Eq "^ok +golden " <<<"$1"' _ "$smoke_out"

# Predictions of the golden inputs, against XGBoost's own outputs in the golden file.
$PY - "$GOLDEN" >"$work/golden-body.json" <<'EOF'
import json, sys
g = json.load(open(sys.argv[1]))
rows = g["inputs"]
print(json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [len(rows), len(rows[0])],
                              "data": [x for r in rows for x in r]}]}))
EOF
curl -sS --unix-socket "$SOCK" -o "$work/golden-answer.json" -w '%{http_code}' \
	-H 'Content-Type: application/json' --data-binary @"$work/golden-body.json" \
	"http://localhost/v2/models/$MODEL/infer" >"$work/golden-code" 2>&1
compare_golden() { # compare_golden ANSWER REPEAT: predict == golden predict (repeated) within tolerance
	$PY - "$GOLDEN" "$1" "$2" <<'EOF'
import json, sys
g = json.load(open(sys.argv[1]))
a = json.load(open(sys.argv[2]))
want = g["predict"] * int(sys.argv[3])
tol = g.get("tolerance") or 1e-6
out = [o for o in a["outputs"] if o["name"] == "predict"][0]["data"]
bad = [i for i, (x, y) in enumerate(zip(out, want)) if abs(x - y) > tol]
if len(out) != len(want) or bad:
    print("mismatch: %d values, %d expected, %d out of tolerance" % (len(out), len(want), len(bad)))
    sys.exit(1)
EOF
}
answer_ok() { # answer_ok HTTP-CODE ANSWER REPEAT
	[ "$1" = 200 ] && compare_golden "$2" "$3"
}
check "infer over the socket: 200 (got $(cat "$work/golden-code")) and predict matches the golden set" \
	answer_ok "$(cat "$work/golden-code")" "$work/golden-answer.json" 1

# The daemon's process, as the host sees it (no user namespace: these are host uids).
pid=$(podman inspect --format '{{.State.Pid}}' "$name")
uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")
capeff=$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")
comm=$(cat "/proc/$pid/comm")
check "PID 1 of the container is inferd ($comm)" test "$comm" = inferd
check "inferd runs as uid $uid, not root (real/effective/saved/fs: $uids)" \
	test "$uids" = "$uid $uid $uid $uid"
check "inferd has no effective capabilities (CapEff $capeff)" test "$capeff" = 0000000000000000
check "podman exec id -u says $uid" test "$(podman exec "$name" id -u)" = "$uid"
hc_out=$(podman healthcheck run "$name" 2>&1)
rc=$?
check "podman healthcheck run: healthy (exit $rc${hc_out:+, $hc_out})" test $rc -eq 0
hs=$(podman inspect --format '{{.State.Health.Status}}' "$name" 2>/dev/null ||
	podman inspect --format '{{.State.Healthcheck.Status}}' "$name" 2>/dev/null)
check "health status recorded as healthy ($hs)" test "$hs" = healthy
check "the daemon logs to the container's stderr" bash -c \
	'podman logs "$1" 2>&1 | grep -q "loaded model"' _ "$name"

# ---- stop under load -------------------------------------------------------------------
stage stop
# 1,000 rows per request: the golden rows repeated, so the expected answer is known.
REPEAT=42 # 24 golden rows x 42 = 1,008 rows
$PY - "$GOLDEN" "$REPEAT" >"$work/big-body.json" <<'EOF'
import json, sys
g = json.load(open(sys.argv[1]))
rows = g["inputs"] * int(sys.argv[2])
print(json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [len(rows), len(rows[0])],
                              "data": [x for r in rows for x in r]}]}))
EOF
mkdir -p "$work/load"
# One client loop: each request's start, end, curl exit status and HTTP code. curl's exit
# 7 is "could not connect" (the daemon no longer listens): that request never started.
client() { # client K
	local k=$1 i=0 s e rc code
	while [ ! -e "$work/load/stop" ] && [ $i -lt 5000 ]; do
		i=$((i + 1))
		s=$(now)
		code=$(curl -sS --max-time 20 --unix-socket "$SOCK" -o "$work/load/$k.$i.json" \
			-w '%{http_code}' -H 'Content-Type: application/json' \
			--data-binary @"$work/big-body.json" "http://localhost/v2/models/$MODEL/infer" \
			2>"$work/load/$k.$i.err")
		rc=$?
		e=$(now)
		echo "$k $i $s $e $rc $code" >>"$work/load/log"
		[ "$code" = 200 ] || rm -f "$work/load/$k.$i.json"
		[ $rc -eq 7 ] && break
	done
}
NCLIENTS=4
cpids=()
for k in $(seq 1 $NCLIENTS); do
	client "$k" &
	cpids+=($!)
done
sleep 2
t_stop=$(now)
podman stop -t 10 "$name" >/dev/null 2>"$work/stop.err"
stop_rc=$?
t_stopped=$(now)
touch "$work/load/stop"
wait "${cpids[@]}"
stop_s=$(secs "$t_stop" "$t_stopped")
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
check "podman stop succeeded (exit $stop_rc)" test $stop_rc -eq 0
check "the container exited with code 0 (got $exit_code)" test "$exit_code" = 0
# Under podman's -t 10 it exited by itself, not by the SIGKILL that follows (how fast is
# the bench's business, not this test's: a shared CI host may be slow).
check "podman stop took $stop_s s, within the -t 10 grace" bash -c '(( $(echo "$1 < 10" | bc) ))' _ "$stop_s"
total=$(wc -l <"$work/load/log")
n200=$(awk '$6 == 200' "$work/load/log" | wc -l)
# Every request must either have been answered 200 or have been refused at connect
# (curl's exit 7: the daemon no longer accepts). Anything else (a reset or an empty
# answer after connecting, a non-200 answer) is a request the daemon let in and dropped.
# This needs no guess of when SIGTERM arrived; podman's log times lag too much for that.
bad=$(awk '!($5 == 0 && $6 == 200) && $5 != 7' "$work/load/log")
inflight=$(awk -v t="$t_stop" '$3 < t && $4 > t' "$work/load/log" | wc -l)
inflight_ok=$(awk -v t="$t_stop" '$3 < t && $4 > t && $5 == 0 && $6 == 200' "$work/load/log" | wc -l)
note "$total requests (1,008 rows each), $n200 answered 200, $inflight in flight when podman stop began"
check "every request was answered 200 or refused at connect, none cut off once connected" test -z "$bad"
if [ -n "$bad" ]; then
	note "(client, request, start, end, curl exit, HTTP code; podman stop began at $t_stop)"
	echo "$bad" | head -n 5 | sed 's/^/       /'
	cat "$work"/load/*.err | sort | uniq -c | head -n 5 | sed 's/^/       /'
fi
check "some requests were in flight when the stop began ($inflight), all answered 200 ($inflight_ok)" \
	test "$inflight" -gt 0 -a "$inflight_ok" -eq "$inflight"
wrong=0
for f in "$work"/load/*.json; do
	[ -e "$f" ] || continue
	compare_golden "$f" "$REPEAT" >/dev/null || wrong=$((wrong + 1))
done
check "all $n200 answers match the golden outputs ($wrong wrong)" test $wrong -eq 0
logs=$(podman logs "$name" 2>&1)
check "the daemon logged its shutdown and dropped nothing" bash -c \
	'grep -qi "SIGTERM" <<<"$1" && ! grep -qi "dropping" <<<"$1"' _ "$logs"
echo "$logs" | grep -i 'SIGTERM\|in flight\|stopp' | tail -n 3 | sed 's/^/       /'

# ---- TCP listener ----------------------------------------------------------------------
stage tcp
# The daemon's TCP listener is a separate piece of work: test it once the daemon has it.
if ! grep -l 'listen_tcp' "$srcdir"/src/*.c 2>/dev/null | grep -qv '/conf\.c$'; then
	note "SKIP tcp: the daemon does not implement listen_tcp yet (only the config key exists)"
else
	port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$work/conf" "$work/run-tcp"
	chown "$uid:$uid" "$work/run-tcp"
	{
		cat "$srcdir/containers/inferd-container.conf"
		echo 'listen_tcp = "0.0.0.0:8080";'
	} >"$work/conf/inferd.conf"
	chmod 0755 "$work/conf"
	chmod 0644 "$work/conf/inferd.conf"
	tname=inferd-ctest-tcp-$$
	containers+=("$tname")
	if ! podman run -d --name "$tname" -p "127.0.0.1:$port:8080" \
		-v "$work/conf:/etc/inferd:ro" -v "$work/run-tcp:/run/inferd" "$IMAGE" >/dev/null; then
		not_ok "podman run with listen_tcp and -p 127.0.0.1:$port:8080"
	else
		url=http://127.0.0.1:$port
		code=
		for _ in $(seq 1 100); do
			code=$(curl -s -o "$work/tcp-ready.json" -w '%{http_code}' "$url/v2/health/ready")
			[ "$code" = 200 ] && break
			sleep 0.1
		done
		check "GET /v2/health/ready over TCP: 200 (got $code)" test "$code" = 200
		check "the port is published on 127.0.0.1 only ($(podman port "$tname" | tr '\n' ' '))" \
			bash -c 'out=$(podman port "$1") && [ -n "$out" ] && ! grep -qv "127\.0\.0\.1:" <<<"$out"' _ "$tname"
		code=$(curl -sS -o "$work/tcp-answer.json" -w '%{http_code}' \
			-H 'Content-Type: application/json' --data-binary @"$work/golden-body.json" \
			"$url/v2/models/$MODEL/infer")
		check "infer over TCP: 200 (got $code) and predict matches the golden set" \
			answer_ok "$code" "$work/tcp-answer.json" 1
		code=$(curl -s -o "$work/tcp-admin.json" -w '%{http_code}' "$url/v2/admin/state")
		check "GET /v2/admin/state over TCP: 403 (got $code)" test "$code" = 403
		code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/v2/admin/reload")
		check "POST /v2/admin/reload over TCP: 403 (got $code)" test "$code" = 403
		code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$work/run-tcp/inferd.sock" \
			http://localhost/v2/admin/state)
		check "the same /v2/admin/state over the socket as root: 200 (got $code)" test "$code" = 200
	fi
fi

# ---- reproducibility -------------------------------------------------------------------
stage repro
if [ -n "${CONTAINER_TEST_SKIP_REPRO:-}" ]; then
	note "SKIP repro: CONTAINER_TEST_SKIP_REPRO is set"
else
	# manifest IMAGE: one line per file: type, mode, owner, size, sha256 (regular files),
	# link target, path. Nothing about times. Read from the mounted image, not a running
	# container, so no runtime file (hosts, resolv.conf) gets in.
	manifest() { # manifest IMAGE OUT EXCLUDED-PATH-REGEX
		local mnt
		mnt=$(podman image mount "$1") || return 1
		(cd "$mnt" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev \) -prune -o \
			-printf '%y %m %U:%G %s %p -> %l\n' | LC_ALL=C sort) |
			grep -Ev "$3" >"$2.meta"
		(cd "$mnt" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev \) -prune -o \
			-type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum) |
			grep -Ev "$3" >"$2.sha"
		podman image unmount "$1" >/dev/null
		cat "$2.meta" "$2.sha" >"$2"
	}
	runtime_dirs=' \./(run|tmp|var/cache|var/log|var/lib/apt/lists)/'
	ids=()
	for n in 1 2; do
		t0=$(now)
		if "$srcdir/containers/build-image.sh" --no-cache --tag "localhost/inferd-repro:$n" \
			--iidfile "$work/repro-$n.iid" >"$work/repro-$n.log" 2>&1; then
			ids+=("$(cat "$work/repro-$n.iid")")
			images+=("localhost/inferd-repro:$n")
			ok "no-cache build $n: $(secs "$t0" "$(now)") s, image ${ids[-1]:0:12}"
		else
			tail -n 30 "$work/repro-$n.log"
			not_ok "no-cache build $n (log above)"
		fi
	done
	if [ ${#ids[@]} -eq 2 ]; then
		manifest "${ids[0]}" "$work/m1" "$runtime_dirs"
		manifest "${ids[1]}" "$work/m2" "$runtime_dirs"
		nf=$(wc -l <"$work/m1.sha")
		check "installed files identical in both builds ($nf files: path, type, mode, owner, sha256)" \
			cmp -s "$work/m1" "$work/m2"
		cmp -s "$work/m1" "$work/m2" || diff "$work/m1" "$work/m2" | head -n 20 | sed 's/^/       /'
		manifest "${ids[0]}" "$work/f1" '^$'
		manifest "${ids[1]}" "$work/f2" '^$'
		if cmp -s "$work/f1" "$work/f2"; then
			note "with nothing excluded (var/cache, var/log, ... too) the files are identical as well"
		else
			note "with nothing excluded these differ:"
			diff "$work/f1" "$work/f2" | grep '^[<>]' | head -n 10 | sed 's/^/         /'
		fi
		l1=$(podman image inspect --format '{{.RootFS.Layers}}' "${ids[0]}")
		l2=$(podman image inspect --format '{{.RootFS.Layers}}' "${ids[1]}")
		if [ "$l1" = "$l2" ]; then
			note "layer digests identical: $l1"
		else
			note "layer digests differ: $l1 vs $l2"
		fi
		if [ "${ids[0]}" = "${ids[1]}" ]; then
			note "image IDs identical (config digest): ${ids[0]}"
		else
			note "image IDs differ: ${ids[0]} vs ${ids[1]} (docs/container.md: the Docker"
			note "format's container and Hostname fields name each build's container)"
			diff <(podman image inspect "${ids[0]}" | $PY -c 'import json,sys; d=json.load(sys.stdin)[0]; [print(k, json.dumps(d[k], sort_keys=True)) for k in sorted(d) if k not in ("Id", "Digest", "RepoTags", "RepoDigests", "NamesHistory")]') \
				<(podman image inspect "${ids[1]}" | $PY -c 'import json,sys; d=json.load(sys.stdin)[0]; [print(k, json.dumps(d[k], sort_keys=True)) for k in sorted(d) if k not in ("Id", "Digest", "RepoTags", "RepoDigests", "NamesHistory")]') |
				grep '^[<>]' | cut -c1-200 | head -n 10 | sed 's/^/         /'
		fi
	fi
fi

finish
