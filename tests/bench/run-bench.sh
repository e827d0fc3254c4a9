#!/bin/sh
# run-bench.sh: `make bench`: the engine against libxgboost, inferd against nginx, start and size.
#
# Environment (set by tests/Makefile.am): top_srcdir, top_builddir, PYTHON3, MAKE.
# Knobs: BENCH_REPS (5), BENCH_SECONDS per loadgen run (3), BENCH_WARMUP (0.5),
# BENCH_STARTS (10), BENCH_DEB=1 to run `make deb` first even when the build tree has a
# .deb (by default one is built only when there is none; BENCH_DEB=0 never builds one).
# Section 3 also sends the 1,000-row batch as binary tensor data (raw FP32 in and out, built
# with python3's struct into a raw request for loadgen -r), after checking inferd's answer.
# Every comparison is a ratio taken inside one repetition, A and B run back to back
# (interleaved A B A B): this host drifts, so figures from different runs do not compare.
set -u

: "${top_srcdir:?run me through make bench}"
: "${top_builddir:?run me through make bench}"
PYTHON3=${PYTHON3:-/usr/bin/python3}
[ -n "$PYTHON3" ] || PYTHON3=/usr/bin/python3
MAKE=${MAKE:-make}
REPS=${BENCH_REPS:-5}
DUR=${BENCH_SECONDS:-3}
WARM=${BENCH_WARMUP:-0.5}
STARTS=${BENCH_STARTS:-10}
CONNS="1 16 64"
RESULTS=$top_builddir/bench/results
MODELS=$top_builddir/bench/models
BUNDLED=$top_srcdir/src/models/breast-cancer/1
INFERD=$top_builddir/src/inferd
INFERCTL=$top_builddir/src/inferctl
LOADGEN=$top_builddir/tests/loadgen
BENCH_ENGINE=$top_builddir/tests/bench_engine
BENCH_SHAP=$top_builddir/tests/bench_shap
INFER_PATH=/v2/models/breast-cancer/infer
T_BEGIN=$(date +%s)
LOAD_BEGIN=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

# --- Dependencies: installed when we are root, else named. ---------------------------------
find_nginx() {
	NGINX=$(command -v nginx 2>/dev/null || true)
	[ -n "$NGINX" ] || { [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx; } || NGINX=
}
missing() {
	miss=
	find_nginx
	[ -n "$NGINX" ] || miss="$miss nginx-light"
	[ -f /usr/include/xgboost/c_api.h ] || miss="$miss libxgboost-dev"
	"$PYTHON3" -c 'import xgboost, numpy' >/dev/null 2>&1 || miss="$miss python3-xgboost"
	command -v taskset >/dev/null 2>&1 || miss="$miss util-linux"
	echo "$miss"
}
apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"$RESULTS/apt.log" 2>&1 ||
		{ apt-get update -q >>"$RESULTS/apt.log" 2>&1 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$RESULTS/apt.log" 2>&1; }
}
mkdir -p "$RESULTS" "$MODELS" || die "cannot create $RESULTS"
rm -f "$RESULTS"/*.json "$RESULTS"/*.jsonl "$RESULTS"/*.txt
need=$(missing)
if [ -n "$need" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		say "installing:$need"
		for p in $need; do
			case $p in
			nginx-light) apt_install nginx-light || apt_install nginx ;;
			*) apt_install "$p" ;;
			esac
		done
		need=$(missing)
	fi
	[ -z "$need" ] || die "missing:$need (as root: apt-get install -y$need)"
fi
find_nginx

# --- Build. ---------------------------------------------------------------------------------
say "building inferd, inferctl, bench_engine, bench_shap, loadgen"
if ! { $MAKE -C "$top_builddir/src" inferd >"$RESULTS/build.log" 2>&1 &&
	$MAKE -C "$top_builddir/tests" bench_engine bench_shap loadgen >>"$RESULTS/build.log" 2>&1; }; then
	tail -n 30 "$RESULTS/build.log" >&2
	die "build failed (log: $RESULTS/build.log)"
fi
# inferctl only matters for its size: a broken one does not stop the bench.
$MAKE -C "$top_builddir/src" inferctl >>"$RESULTS/build.log" 2>&1 || say "inferctl did not build"

WORK=$(mktemp -d /tmp/inferd-bench.XXXXXX) || die "mktemp failed"
INFERD_PID=
NGINX_PID=
cleanup() {
	[ -z "$INFERD_PID" ] || kill "$INFERD_PID" 2>/dev/null
	[ -z "$NGINX_PID" ] || kill "$NGINX_PID" 2>/dev/null
	[ -z "$INFERD_PID" ] || wait "$INFERD_PID" 2>/dev/null
	[ -z "$NGINX_PID" ] || wait "$NGINX_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- Models and request bodies (seeded, cached while the stamp matches). --------------------
say "models: reusing or training (training takes a few minutes, once)"
"$PYTHON3" "$top_srcdir/tests/bench/gen_models.py" "$MODELS" "$BUNDLED" >&2 ||
	die "gen_models.py failed"

# --- 1. Engine in process. -------------------------------------------------------------------
"$PYTHON3" -c '
import json, sys
for m in json.load(open(sys.argv[1]))["models"]:
    print(m["name"], m["model"], m["rows"])' "$MODELS/manifest.json" >"$WORK/models.txt" ||
	die "bad manifest"
while read -r name model rows; do
	say "engine: $name (inferd vs libxgboost, $REPS repetitions)"
	"$BENCH_ENGINE" -m "$model" -r "$rows" -n "$REPS" >"$RESULTS/engine-$name.json" ||
		die "bench_engine failed on $name: outputs differ or a predictor failed"
done <"$WORK/models.txt"

# --- 1b. SHAP contributions in process (libxgboost's pred_contribs is slow: fewer rows). -----
while read -r name model rows; do
	case $name in
	bundled) SHAP_ARGS="-b 1000 -s 200" ;;
	*) SHAP_ARGS="-b 100 -s 20" ;;
	esac
	say "shap: $name (inferd vs libxgboost pred_contribs, $REPS repetitions)"
	# shellcheck disable=SC2086 # two options, split on purpose
	"$BENCH_SHAP" -m "$model" -r "$rows" -n "$REPS" $SHAP_ARGS >"$RESULTS/shap-$name.json" ||
		die "bench_shap failed on $name: contributions differ or a predictor failed"
done <"$WORK/models.txt"

# --- Servers. ----------------------------------------------------------------------------------
ISOCK=$WORK/inferd.sock
NSOCK=$WORK/nginx.sock
mkdir -p "$WORK/state" "$WORK/nginx"
write_inferd_conf() { # $1 = file, $2 = socket
	cat >"$1" <<EOF
socket = { path = "$2"; mode = "0600"; };
server = { state_dir = "$WORK/state"; };
log_level = "warning";
models = (
  { name = "breast-cancer"; path = "$BUNDLED/model.json"; version = 1;
    golden = "$BUNDLED/golden.json"; }
);
EOF
}
write_inferd_conf "$WORK/inferd.conf" "$ISOCK"
# The bytes of inferd's own one-row answer (143 bytes), so both servers send the same amount.
BODY='{"model_name":"breast-cancer","model_version":"1","id":"bench","outputs":[{"name":"predict","datatype":"FP32","shape":[1],"data":[0.9987847]}]}'
printf '{"body_bytes": %s, "workers": 2}\n' "$(printf '%s' "$BODY" | wc -c)" >"$RESULTS/nginx.json"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen unix:$NSOCK;
    default_type application/json;
    location / { return 200 '$BODY'; }
  }
}
EOF

# Waits until a GET answers 2xx on socket $1 (path $2), while process $3 lives.
wait_up() {
	i=0
	while [ $i -lt 100 ]; do
		kill -0 "$3" 2>/dev/null || return 1
		"$LOADGEN" -U "$1" -m GET -p "$2" -w 0 -d 0.05 -x 1 >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

"$INFERD" --foreground --config "$WORK/inferd.conf" >"$WORK/inferd.log" 2>&1 &
INFERD_PID=$!
"$NGINX" -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" \
	>"$WORK/nginx.log" 2>&1 &
NGINX_PID=$!
wait_up "$ISOCK" /v2/health/ready "$INFERD_PID" || {
	cat "$WORK/inferd.log" >&2
	die "inferd did not become ready on $ISOCK"
}
wait_up "$NSOCK" / "$NGINX_PID" || {
	cat "$WORK/nginx.log" "$WORK/nginx/error.log" >&2
	die "nginx did not start"
}
# Both must answer the very request we time, with 2xx, before any timing.
for f in 1 1000; do
	"$LOADGEN" -U "$ISOCK" -m POST -p "$INFER_PATH" -b "$MODELS/infer-$f.json" -w 0 -d 0.2 -v \
		>"$WORK/probe.json" 2>"$WORK/probe.txt" ||
		{
			head -c 2000 "$WORK/probe.txt" >&2
			die "inferd does not answer a $f-row infer request with 2xx"
		}
done
"$LOADGEN" -U "$NSOCK" -m POST -p "$INFER_PATH" -b "$MODELS/infer-1.json" -w 0 -d 0.2 \
	>/dev/null 2>&1 || die "nginx does not answer"

# The binary twin of infer-1000.json: the same 1,000 rows as raw little-endian FP32 after a
# JSON header (Inference-Header-Content-Length), binary outputs asked for. Written as the raw
# HTTP request loadgen -r sends, after checking that inferd answers it with 200 and a binary
# body holding the same float32 values as its JSON answer to the JSON request.
"$PYTHON3" - "$ISOCK" "$INFER_PATH" "$MODELS/infer-1000.json" "$WORK/infer-1000bin.req" \
	>"$WORK/binprobe.txt" 2>&1 <<'EOF' || {
import http.client, json, math, socket, struct, sys

sock, path, jfile, out = sys.argv[1:5]


class UnixConn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(sock)


jbody = open(jfile, "rb").read()
inp = json.loads(jbody)["inputs"][0]
n, f = inp["shape"]
raw = b"".join(struct.pack("<f", float("nan") if v is None else v) for v in inp["data"])
assert len(raw) == 4 * n * f
head = json.dumps({"id": "bench", "inputs": [{"name": "input", "datatype": "FP32", "shape": [n, f],
                                              "parameters": {"binary_data_size": len(raw)}}],
                   "parameters": {"binary_data_output": True}}, separators=(",", ":")).encode()
body = head + raw
c = UnixConn("localhost")
c.request("POST", path, jbody, {"Content-Type": "application/json"})
r = c.getresponse()
jans = r.read()
if r.status != 200:
    sys.exit("JSON request: HTTP %d: %s" % (r.status, jans[:500]))
want = [struct.unpack("<f", struct.pack("<f", v))[0] for v in json.loads(jans)["outputs"][0]["data"]]
c.request("POST", path, body, {"Content-Type": "application/octet-stream",
                               "Inference-Header-Content-Length": str(len(head))})
r = c.getresponse()
ans = r.read()
if r.status != 200:
    sys.exit("binary request: HTTP %d: %s" % (r.status, ans[:500]))
if r.getheader("Content-Type", "").split(";")[0] != "application/octet-stream":
    sys.exit("binary request: Content-Type %r" % r.getheader("Content-Type"))
hl = int(r.getheader("Inference-Header-Content-Length"))
meta = json.loads(ans[:hl])
o = meta["outputs"][0]
if o["name"] != "predict" or "data" in o or o["parameters"]["binary_data_size"] != 4 * n:
    sys.exit("binary request: unexpected output header %r" % o)
if len(ans) != hl + 4 * n:
    sys.exit("binary request: %d bytes after the JSON, want %d" % (len(ans) - hl, 4 * n))
got = list(struct.unpack("<%df" % n, ans[hl:]))
bad = [i for i in range(n) if not (got[i] == want[i] or (math.isnan(got[i]) and math.isnan(want[i])))]
if bad:
    sys.exit("binary request: %d of %d values differ from the JSON answer (row %d: %r vs %r)" %
             (len(bad), n, bad[0], got[bad[0]], want[bad[0]]))
req = ("POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
       "Inference-Header-Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (path, len(head), len(body))).encode()
open(out, "wb").write(req + body)
print("binary probe: %d rows, request %d bytes (JSON %d), answer %d bytes, values equal the JSON answer"
      % (n, len(body), len(jbody), len(ans)))
EOF
	cat "$WORK/binprobe.txt" >&2
	die "inferd does not answer a 1000-row binary infer request correctly"
}
# And loadgen, sending those bytes, must get a 2xx for them too.
"$LOADGEN" -U "$ISOCK" -r "$WORK/infer-1000bin.req" -w 0 -d 0.2 >/dev/null 2>"$WORK/probe.txt" ||
	die "loadgen -r: inferd does not answer the raw binary request with 2xx"

LOAD_S=0 # seconds of load inferd has served, for the RSS figure
# CPU time (ns) used so far by processes $@ and their children, every thread: a figure the
# host's other load does not inflate, unlike wall-clock rates.
server_cpu_ns() {
	for p in "$@"; do
		cat /proc/"$p"/task/*/schedstat
		for c in $(cat /proc/"$p"/task/*/children); do
			cat /proc/"$c"/task/*/schedstat
		done
	done 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}
# run SERVER CONNS REP PINNED BODY STAGE: one loadgen run, appended as one JSON line.
run() {
	r_srv=$1 r_conns=$2 r_rep=$3 r_pinned=$4 r_rows=$5 r_stage=$6
	if [ "$1" = inferd ]; then
		s=$ISOCK
		sp=$INFERD_PID
	else
		s=$NSOCK
		sp=$NGINX_PID
	fi
	pre=
	[ "$4" = true ] && pre="taskset -c 1"
	# Stage batch-bin: the binary twin of the body, as a raw request.
	if [ "$6" = batch-bin ]; then
		set -- "$@" -r "$WORK/infer-${5}bin.req"
	else
		set -- "$@" -m POST -p "$INFER_PATH" -b "$MODELS/infer-$5.json"
	fi
	c0=$(server_cpu_ns "$sp")
	shift 6
	$pre "$LOADGEN" -U "$s" "$@" -c "$r_conns" -d "$DUR" -w "$WARM" >"$WORK/run.json" 2>"$WORK/run.err" || true
	set -- "$r_srv" "$r_conns" "$r_rep" "$r_pinned" "$r_rows" "$r_stage"
	c1=$(server_cpu_ns "$sp")
	[ -s "$WORK/run.json" ] || echo '{"requests": 0, "errors": -1}' >"$WORK/run.json"
	printf '{"stage": "%s", "server": "%s", "conns": %s, "rep": %s, "pinned": %s, "rows": %s, "server_cpu_s": %s, "run_s": %s, "result": %s}\n' \
		"$6" "$1" "$2" "$3" "$4" "$5" "$(awk "BEGIN { print ($c1 - $c0) / 1e9 }")" \
		"$(awk "BEGIN { print $DUR + $WARM }")" "$(cat "$WORK/run.json")" >>"$RESULTS/e2e.jsonl"
	[ "$1" = nginx ] || LOAD_S=$(awk "BEGIN { print $LOAD_S + $DUR + $WARM }")
}
# Every process of a server (nginx: master and workers), every thread (-a).
pin() { # $1 = cpu list, $2.. = pids
	cpus=$1
	shift
	for p in "$@"; do
		taskset -a -p -c "$cpus" "$p" >/dev/null 2>&1
		for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
			taskset -a -p -c "$cpus" "$c" >/dev/null 2>&1
		done
	done
}

# --- 2. End to end: single-row infer vs nginx's fixed answer, A B A B. ----------------------
rep=1
while [ $rep -le "$REPS" ]; do
	for c in $CONNS; do
		say "e2e: repetition $rep/$REPS, $c connection(s): nginx, inferd"
		run nginx "$c" $rep false 1 e2e
		run inferd "$c" $rep false 1 e2e
	done
	rep=$((rep + 1))
done
NCPU=$(nproc 2>/dev/null || echo 1)
if [ "$NCPU" -ge 2 ]; then
	pin 0 "$INFERD_PID" "$NGINX_PID"
	rep=1
	while [ $rep -le 3 ] && [ $rep -le "$REPS" ]; do
		for c in 1 16; do
			say "e2e pinned (servers on CPU 0, client on CPU 1): repetition $rep, $c connection(s)"
			run nginx "$c" $rep true 1 e2e
			run inferd "$c" $rep true 1 e2e
		done
		rep=$((rep + 1))
	done
	pin "0-$((NCPU - 1))" "$INFERD_PID" "$NGINX_PID"
else
	say "one CPU: no pinned run"
fi

# --- 3. Batch over the socket: 1,000-row requests, JSON and binary, A B A B. -----------------
rep=1
while [ $rep -le "$REPS" ]; do
	for c in 1 2; do
		say "batch: repetition $rep/$REPS, 1000-row requests, $c connection(s): JSON, binary"
		run inferd "$c" $rep false 1000 batch
		run inferd "$c" $rep false 1000 batch-bin
	done
	rep=$((rep + 1))
done

# --- 4. Size after load, then start time. ------------------------------------------------------
awk '/^Vm(RSS|HWM):/ { print $1, $2 }' "/proc/$INFERD_PID/status" >"$WORK/rss.txt"
printf '{"load_s": %s, "vmrss_kb": %s, "vmhwm_kb": %s}\n' "$LOAD_S" \
	"$(awk '$1 == "VmRSS:" { print $2 }' "$WORK/rss.txt")" \
	"$(awk '$1 == "VmHWM:" { print $2 }' "$WORK/rss.txt")" >"$RESULTS/rss.json"
kill "$INFERD_PID" "$NGINX_PID" 2>/dev/null
wait "$INFERD_PID" 2>/dev/null
wait "$NGINX_PID" 2>/dev/null
INFERD_PID=
NGINX_PID=

say "start: exec to READY=1, $STARTS starts"
# A fake NOTIFY_SOCKET: posix_spawn, then the time until READY=1 arrives on the datagram socket.
"$PYTHON3" - "$INFERD" "$WORK" "$STARTS" >"$RESULTS/start.json" <<'EOF' ||
import json, os, signal, socket, sys, time
inferd, work, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
nsock = os.path.join(work, "notify.sock")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(nsock)
s.settimeout(10)
conf_tpl = open(os.path.join(work, "inferd.conf")).read()
out, base, cpu = [], [], []


def cpu_ms(pid):
    """CPU time of every thread so far: what the start costs, whatever else runs on the host."""
    t = 0
    d = "/proc/%d/task" % pid
    for tid in os.listdir(d):
        with open(os.path.join(d, tid, "schedstat")) as f:
            t += int(f.read().split()[0])
    return t / 1e6


for i in range(n):
    # A fresh socket path per start: no stale-file handling inside the figure.
    sp = os.path.join(work, "s%d.sock" % i)
    cf = os.path.join(work, "start%d.conf" % i)
    with open(cf, "w") as f:
        f.write(conf_tpl.replace(os.path.join(work, "inferd.sock"), sp))
    env = dict(os.environ, NOTIFY_SOCKET=nsock)
    env.pop("LISTEN_FDS", None)
    env.pop("LISTEN_PID", None)
    # What posix_spawn plus waiting costs by itself, with a program that does nothing.
    t0 = time.monotonic_ns()
    p = os.posix_spawn("/bin/true", ["/bin/true"], env)
    os.waitpid(p, 0)
    base.append((time.monotonic_ns() - t0) / 1e6)
    log = open(os.path.join(work, "start.log"), "ab")
    t0 = time.monotonic_ns()
    pid = os.posix_spawn(inferd, [inferd, "--foreground", "--config", cf], env,
                         file_actions=[(os.POSIX_SPAWN_DUP2, log.fileno(), 1),
                                       (os.POSIX_SPAWN_DUP2, log.fileno(), 2)])
    ready = None
    try:
        while ready is None:
            msg = s.recv(4096).decode(errors="replace")
            if "READY=1" in msg.split("\n"):
                ready = (time.monotonic_ns() - t0) / 1e6
                cpu.append(round(cpu_ms(pid), 3))
    except socket.timeout:
        pass
    os.kill(pid, signal.SIGTERM)
    os.waitpid(pid, 0)
    log.close()
    if ready is None:
        sys.exit("inferd sent no READY=1 within 10 s (log: start.log)")
    out.append(round(ready, 3))
    # Drain whatever else it sent (STATUS=, STOPPING=1) so the next start reads its own.
    s.setblocking(False)
    try:
        while True:
            s.recv(4096)
    except BlockingIOError:
        pass
    s.settimeout(10)
print(json.dumps({"starts": n, "exec_to_ready_ms": out, "cpu_to_ready_ms": cpu,
                  "spawn_true_ms": [round(b, 3) for b in base]}))
EOF
	{
		cat "$WORK/start.log" >&2 2>/dev/null
		say "start-time measurement failed"
		echo '{"starts": 0, "exec_to_ready_ms": [], "cpu_to_ready_ms": [], "spawn_true_ms": []}' >"$RESULTS/start.json"
	}

# Binary sizes (as built, and stripped), and the .deb when asked for.
strip -o "$WORK/inferd.stripped" "$INFERD" 2>/dev/null || cp "$INFERD" "$WORK/inferd.stripped"
strip -o "$WORK/inferctl.stripped" "$INFERCTL" 2>/dev/null || : >"$WORK/inferctl.stripped"
# The .deb: what `make deb` left in the build tree, else a fresh one (tests skipped: this
# is a size, and make check is not the bench's business).
built_deb() { # prints the path of the package's .deb in the build tree (not dbgsym's)
	for f in "$top_builddir"/deb-build/inferd_*.deb; do
		case $f in *dbgsym*) continue ;; esac
		[ -f "$f" ] && echo "$f" && return 0
	done
	return 1
}
if [ "${BENCH_DEB:-}" = 1 ] || { ! built_deb >/dev/null && [ "${BENCH_DEB:-}" != 0 ]; }; then
	say "building the .deb for its size (make deb, tests skipped; BENCH_DEB=0 skips this)"
	DEB_BUILD_OPTIONS=nocheck $MAKE -C "$top_builddir" deb >"$RESULTS/deb.log" 2>&1 ||
		say "make deb failed (log: $RESULTS/deb.log)"
fi
DEB=null
INSTALLED=null
if f=$(built_deb); then
	DEB=$(stat -c %s "$f")
	# The installed files: dpkg's Installed-Size field (KiB), which dpkg-gencontrol sums.
	INSTALLED=$(dpkg-deb -f "$f" Installed-Size 2>/dev/null) || INSTALLED=null
	[ -n "$INSTALLED" ] || INSTALLED=null
fi
printf '{"inferd_bytes": %s, "inferctl_bytes": %s, "inferd_stripped_bytes": %s, "inferctl_stripped_bytes": %s, "deb_bytes": %s, "deb_installed_kib": %s}\n' \
	"$(stat -c %s "$INFERD")" "$(stat -c %s "$INFERCTL" 2>/dev/null || echo 0)" \
	"$(stat -c %s "$WORK/inferd.stripped")" "$(stat -c %s "$WORK/inferctl.stripped")" \
	"$DEB" "$INSTALLED" >"$RESULTS/size.json"

# --- The table. ------------------------------------------------------------------------------
T_END=$(date +%s)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
"$PYTHON3" - "$RESULTS" "$REPS" "$DUR" $((T_END - T_BEGIN)) "$LOAD_BEGIN" "$LOAD_END" <<'EOF' || die "summary failed"
import glob, json, os, platform, statistics, sys, time

res, reps, dur, elapsed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
summary = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "host": platform.node(),
           "cpus": os.cpu_count(), "kernel": platform.release(), "reps": reps,
           "seconds_per_run": dur, "elapsed_s": elapsed, "loadavg_begin": sys.argv[5],
           "loadavg_end": sys.argv[6], "targets": []}


def stats(v):
    v = [x for x in v if x is not None]
    if not v:
        return None
    s = sorted(v)
    return {"median": statistics.median(s), "min": s[0], "max": s[-1], "n": len(s)}


def fmt(s, scale=1.0, digits=0, unit=""):
    if not s:
        return "n/a"
    f = "%%.%df" % digits
    return (f % (s["median"] * scale)) + unit + " (" + (f % (s["min"] * scale)) + ".." + (f % (s["max"] * scale)) + ")"


lines = []
P = lines.append
P("inferd benchmark, %s, %s (%d CPUs, kernel %s); %d repetitions, %.0f s per load run; took %d s" %
  (summary["date"], summary["host"], summary["cpus"], summary["kernel"], reps, dur, elapsed))
P("Load average before/after: %s / %s (other work on the host shows here and in the CPU share below)." %
  (summary["loadavg_begin"], summary["loadavg_end"]))
P("Figures: median (min..max) over repetitions; ratios are per repetition, A and B back to back.")
P("")

# 1. Engine.
engine = {}
for f in sorted(glob.glob(os.path.join(res, "engine-*.json"))):
    name = os.path.basename(f)[7:-5]
    engine[name] = json.load(open(f))
order = [n for n in ("bundled", "gen-500x8", "gen-1000x6") if n in engine] + \
        [n for n in engine if n not in ("bundled", "gen-500x8", "gen-1000x6")]
P("1. Engine in process (inferd model_predict vs libxgboost XGBoosterPredictFromDense, nthread as stated)")
P("%-11s %5s %5s %-28s %-28s %-18s" % ("model", "trees", "feat", "inferd p50 (range) / p99 ns", "xgboost p50 (range) / p99 ns", "p50 speedup"))
for n in order:
    e = engine[n]
    sr = e["single_row"]
    P("%-11s %5d %5d %-28s %-28s %-18s" % (
        n, e["num_trees"], e["num_feature"],
        "%s / %.0f" % (fmt(sr["inferd_p50_ns"]), sr["inferd_p99_ns"]["median"]),
        "%s / %.0f" % (fmt(sr["xgboost_p50_ns"]), sr["xgboost_p99_ns"]["median"]),
        "%.1fx (%.1f..%.1f)" % (sr["speedup_p50"]["median"], sr["speedup_p50"]["min"], sr["speedup_p50"]["max"])))
P("%-11s %-20s %-19s %-19s %-20s %-19s" % ("model", "1 thread inferd/xgb", "ratio 1t", "1t ratio, CPU time", "2 threads inferd/xgb", "ratio 2t"))
for n in order:
    e = engine[n]
    b1, b2 = e["batch_1t"], e["batch_2t"]
    P("%-11s %-20s %-19s %-19s %-20s %-19s" % (
        n, "%.0fk / %.0fk r/s" % (b1["inferd_rows_per_s"]["median"] / 1e3, b1["xgboost_rows_per_s"]["median"] / 1e3),
        "%.2fx (%.2f..%.2f)" % (b1["ratio"]["median"], b1["ratio"]["min"], b1["ratio"]["max"]),
        "%.2fx (%.2f..%.2f)" % (b1["ratio_by_cpu_time"]["median"], b1["ratio_by_cpu_time"]["min"], b1["ratio_by_cpu_time"]["max"]),
        "%.0fk / %.0fk r/s" % (b2["inferd_rows_per_s"]["median"] / 1e3, b2["xgboost_rows_per_s"]["median"] / 1e3),
        "%.2fx (%.2f..%.2f)" % (b2["ratio"]["median"], b2["ratio"]["min"], b2["ratio"]["max"])))
P("(batches of 10,000 rows; 'CPU time': rows per second of process CPU time, which other load on the host does not inflate)")
checks = ", ".join("%s %d/%d bit-identical (max diff %.2g)" % (n, engine[n]["check"]["bit_identical"], engine[n]["check"]["values"],
                                                          engine[n]["check"]["max_abs_diff"]) for n in order)
P("Outputs checked before timing: " + checks)
cpu = ", ".join("%s %.0f%%" % (n, 100 * engine[n]["cpu_s"] / engine[n]["wall_s"]) for n in order if engine[n].get("wall_s"))
P("CPU share of the engine runs (cpu/wall; mostly 1 thread, so ~100% when alone; below means other load): " + cpu)
P("")

# 2./3. End to end.
runs = [json.loads(l) for l in open(os.path.join(res, "e2e.jsonl"))] if os.path.exists(os.path.join(res, "e2e.jsonl")) else []
errors = sum(max(r["result"].get("errors", 0), 0) for r in runs) + sum(1 for r in runs if r["result"].get("errors", 0) < 0)


def pick(stage, server, conns, pinned):
    return sorted((r for r in runs if r["stage"] == stage and r["server"] == server and r["conns"] == conns and r["pinned"] == pinned),
                  key=lambda r: r["rep"])


def ratio(a, b, key, inv=False):
    out = []
    bb = {r["rep"]: r["result"].get(key) for r in b}
    for r in a:
        x, y = r["result"].get(key), bb.get(r["rep"])
        if x and y:
            out.append(y / x if inv else x / y)
    return stats(out)


e2e = {}
ngx = json.load(open(os.path.join(res, "nginx.json")))
P("2. End to end over the Unix socket: single-row infer POST (inferd) vs the same POST answered with a")
P("   fixed %d-byte JSON by nginx (%d workers, return 200); one loadgen thread; 'pinned': servers on CPU 0, client on CPU 1" % (ngx["body_bytes"], ngx["workers"]))
P("%-9s %-6s %-25s %-20s %-22s %-22s %-16s %-10s %s" % ("conns", "server", "req/s", "p50 us", "p99 us", "p99.9 us", "inferd/nginx", "CPU us/req", "errors"))
for pinned in (False, True):
    for c in (1, 16, 64):
        i, g = pick("e2e", "inferd", c, pinned), pick("e2e", "nginx", c, pinned)
        if not i:
            continue
        key = "%d%s" % (c, "-pinned" if pinned else "")
        e2e[key] = {}
        for name, rs in (("nginx", g), ("inferd", i)):
            st = {k: stats([r["result"].get(k) for r in rs]) for k in ("rps", "p50_us", "p99_us", "p999_us")}
            # Server CPU per request, over warm-up and window alike (both run at the same rate).
            st["cpu_us_per_req"] = stats([1e6 * r["server_cpu_s"] / (r["result"]["rps"] * r["run_s"])
                                          for r in rs if r["result"].get("rps")])
            st["errors"] = sum(abs(r["result"].get("errors", 0)) for r in rs)
            e2e[key][name] = st
            P("%-9s %-6s %-25s %-20s %-22s %-22s %-16s %-10s %d" % (
                key, name, fmt(st["rps"]), fmt(st["p50_us"], 1, 1), fmt(st["p99_us"]), fmt(st["p999_us"]),
                fmt(ratio(i, g, "rps"), 100, 0, "%") if name == "inferd" else "",
                "%.1f" % st["cpu_us_per_req"]["median"] if st["cpu_us_per_req"] else "n/a", st["errors"]))
        e2e[key]["rps_ratio"] = ratio(i, g, "rps")
        e2e[key]["p50_ratio"] = ratio(i, g, "p50_us")
P("")
P("3. Batch over the socket: 1,000-row infer requests to inferd, JSON and binary tensors (raw FP32 in and out,")
P("   Inference-Header-Content-Length; the same rows, checked to give the same values), interleaved A B A B")
batch, batch_bin = {}, {}


def batch_stats(rs):
    return {"rows_per_s": stats([r["result"].get("rps", 0) * 1000 for r in rs]),
            "cpu_ns_per_row": stats([1e9 * r["server_cpu_s"] / (r["result"]["rps"] * 1000 * r["run_s"])
                                     for r in rs if r["result"].get("rps")]),
            "p50_us": stats([r["result"].get("p50_us") for r in rs]),
            "errors": sum(abs(r["result"].get("errors", 0)) for r in rs)}


for c in (1, 2):
    rs, rb = pick("batch", "inferd", c, False), pick("batch-bin", "inferd", c, False)
    for kind, runs_k, out in (("JSON  ", rs, batch), ("binary", rb, batch_bin)):
        if not runs_k:
            continue
        st = batch_stats(runs_k)
        if kind == "binary":
            st["ratio_to_json"] = ratio(rb, rs, "rps")
        out[str(c)] = st
        P("%d conn %s: %s rows/s, p50 %s us per request, inferd CPU %s ns per row, errors %d%s" % (
            c, kind, fmt(st["rows_per_s"]), fmt(st["p50_us"]), fmt(st["cpu_ns_per_row"]), st["errors"],
            (", binary/JSON %s" % fmt(st["ratio_to_json"], 1, 2, "x")) if st.get("ratio_to_json") else ""))
P("")

# 4. Start and size.
start = json.load(open(os.path.join(res, "start.json")))
rss = json.load(open(os.path.join(res, "rss.json")))
size = json.load(open(os.path.join(res, "size.json")))
st_ready = stats(start["exec_to_ready_ms"])
st_base = stats(start["spawn_true_ms"])
st_cpu = stats(start.get("cpu_to_ready_ms", []))
P("4. Start and size")
P("exec to READY=1 (bundled model, golden check included): %s ms over %d starts (posix_spawn+wait of /bin/true: %s ms)" %
  (fmt(st_ready, 1, 2), len(start["exec_to_ready_ms"]), fmt(st_base, 1, 2)))
P("  of which inferd's own CPU time (all threads, from /proc/PID/task/*/schedstat): %s ms" % fmt(st_cpu, 1, 2))
P("RSS after %.0f s of load: VmRSS %.1f MiB, peak VmHWM %.1f MiB" % (rss["load_s"], rss["vmrss_kb"] / 1024, rss["vmhwm_kb"] / 1024))
binaries = "binaries: inferd %d bytes (%d stripped), inferctl %d bytes (%d stripped); .deb: %s" % (
    size["inferd_bytes"], size["inferd_stripped_bytes"], size["inferctl_bytes"], size["inferctl_stripped_bytes"],
    ("%d bytes, installed %s KiB" % (size["deb_bytes"], size.get("deb_installed_kib") or "n/a"))
    if size.get("deb_bytes") else "n/a (make deb failed, or BENCH_DEB=0)")
P(binaries.replace("inferctl 0 bytes (0 stripped)", "inferctl n/a (did not build)"))
P("")

# 1b. SHAP contributions.
shap = {}
for f in sorted(glob.glob(os.path.join(res, "shap-*.json"))):
    shap[os.path.basename(f)[5:-5]] = json.load(open(f))
if shap:
    P("1b. SHAP contributions in process (shap_contribs vs libxgboost XGBoosterPredictFromDMatrix type 2, 1 thread; bit-identical checked first)")
    P("%-11s %5s %-9s %-26s %-26s %-18s %-24s %-18s" % ("model", "trees", "bit-ident", "inferd p50 ns (range)", "xgboost p50 ns (range)", "p50 speedup", "batch r/CPU-s inferd/xgb", "batch ratio"))
    for n, e in sorted(shap.items()):
        sr, b1 = e["single_row"], e["batch_1t"]
        P("%-11s %5d %-9s %-26s %-26s %-18s %-24s %-18s" % (
            n, e["num_trees"], "%d/%d" % (e["check"]["bit_identical"], e["check"]["values"]),
            fmt(sr["inferd_p50_ns"]), fmt(sr["xgboost_p50_ns"]),
            "%.1fx (%.1f..%.1f)" % (sr["speedup_p50"]["median"], sr["speedup_p50"]["min"], sr["speedup_p50"]["max"]),
            "%.0f / %.0f (%d rows)" % (b1["inferd_rows_per_cpu_s"]["median"], b1["xgboost_rows_per_cpu_s"]["median"], e["batch_rows"]),
            "%.2fx (%.2f..%.2f)" % (b1["ratio"]["median"], b1["ratio"]["min"], b1["ratio"]["max"])))

# Targets.
targets = []


def target(what, measured, ok):
    targets.append({"target": what, "measured": measured, "pass": ok})


b = engine.get("bundled")
if b:
    s = b["single_row"]["speedup_p50"]
    target("single-row engine latency >= 20x faster than libxgboost (bundled)", "%.1fx (%.1f..%.1f)" % (s["median"], s["min"], s["max"]), s["median"] >= 20)
for n in order:
    s = engine[n]["batch_1t"]["ratio"]
    c = engine[n]["batch_1t"]["ratio_by_cpu_time"]
    target("10k-row batch, 1 thread >= 3x libxgboost rows/s (%s)" % n, "%.2fx (%.2f..%.2f; by CPU time %.2fx)" % (s["median"], s["min"], s["max"], c["median"]), s["median"] >= 3)
sb = shap.get("bundled")
if sb:
    s = sb["single_row"]["speedup_p50"]
    target("SHAP contributions, one row >= 2x faster than libxgboost (bundled)", "%.1fx (%.1f..%.1f)" % (s["median"], s["min"], s["max"]), s["median"] >= 2)
    s = sb["batch_1t"]["ratio"]
    target("SHAP contributions, 1,000-row batch, 1 thread >= 2x libxgboost (bundled)", "%.2fx (%.2f..%.2f)" % (s["median"], s["min"], s["max"]), s["median"] >= 2)
r16 = e2e.get("16", {})
if r16.get("rps_ratio"):
    s = r16["rps_ratio"]
    target("infer req/s at 16 connections >= 60% of nginx's", "%.0f%% (%.0f..%.0f)" % (100 * s["median"], 100 * s["min"], 100 * s["max"]), s["median"] >= 0.6)
    s = r16["inferd"]["p99_us"]
    target("p99 at 16 connections <= 1 ms", "%.0f us (%.0f..%.0f)" % (s["median"], s["min"], s["max"]), s["median"] <= 1000)
r1 = e2e.get("1", {})
if r1.get("p50_ratio"):
    s = r1["p50_ratio"]
    target("p50 at 1 connection <= 2x nginx's p50", "%.2fx (%.2f..%.2f)" % (s["median"], s["min"], s["max"]), s["median"] <= 2)
if batch:
    best = max(batch.items(), key=lambda kv: kv[1]["rows_per_s"]["median"])
    s = best[1]["rows_per_s"]
    target("1,000-row JSON batch >= 500k rows/s end to end", "%.0fk rows/s at %s conn (%.0fk..%.0fk)" % (s["median"] / 1e3, best[0], s["min"] / 1e3, s["max"] / 1e3), s["median"] >= 500e3)
if st_ready:
    target("exec to READY=1 <= 20 ms", "%.2f ms (%.2f..%.2f)" % (st_ready["median"], st_ready["min"], st_ready["max"]), st_ready["median"] <= 20)
target("RSS <= 16 MB (VmRSS after %.0f s of load)" % rss["load_s"], "%.1f MiB (peak %.1f)" % (rss["vmrss_kb"] / 1024, rss["vmhwm_kb"] / 1024), rss["vmrss_kb"] <= 16 * 1024)
if batch_bin:
    # Where binary is fastest, against JSON at the same connection count, per repetition.
    best = max(batch_bin.items(), key=lambda kv: kv[1]["rows_per_s"]["median"])
    s = best[1].get("ratio_to_json")
    if s:
        target("binary tensors, 1,000-row requests >= 3x the JSON rows/s",
               "%.2fx at %s conn (%.2f..%.2f); %.0fk rows/s" % (s["median"], best[0], s["min"], s["max"],
                                                               best[1]["rows_per_s"]["median"] / 1e3),
               s["median"] >= 3)
P("Targets")
for t in targets:
    P("  %-4s %-72s %s" % ("PASS" if t["pass"] else ("MISS" if t["pass"] is False else "----"), t["target"], t["measured"]))
if errors:
    P("WARNING: %d load-generator errors (non-2xx, closed or timed out): see e2e.jsonl" % errors)

summary.update({"nginx": ngx, "engine": engine, "shap": shap, "e2e": e2e, "batch": batch, "batch_binary": batch_bin, "start": start, "rss": rss, "size": size,
                "targets": targets, "loadgen_errors": errors})
with open(os.path.join(res, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)
text = "\n".join(lines) + "\n"
with open(os.path.join(res, "table.txt"), "w") as f:
    f.write(text)
sys.stdout.write(text)
EOF
say "results in $RESULTS (summary.json, table.txt, engine-*.json, shap-*.json, e2e.jsonl, start.json, rss.json, size.json)"
