#!/bin/sh
# compare.sh: `make bench-compare BASE=REV`: inferd built from REV against this build, in one run.
#
# Environment (set by tests/Makefile.am): top_srcdir, top_builddir, PYTHON3, MAKE, BASE.
# Knobs: BENCH_REPS (5), BENCH_SECONDS per loadgen run (3), BENCH_WARMUP (0.5).
# REV (BASE=HEAD~1, BASE=b570834...) is exported with git archive into
# $top_builddir/bench/compare/base-HASH/, configured with this build's configure arguments
# (minus --enable-werror) and only inferd is built there; the build is kept and reused while
# its stamp is there. This build's inferd is "HEAD" (the working tree as built, dirty or not);
# loadgen comes from this build and drives both.
# Both servers run side by side, each on its own Unix socket, serving the bundled model; before
# any timing both must answer the timed requests with the very same body bytes. Then, for
# BENCH_REPS repetitions, every figure is measured on BASE and HEAD back to back (the order
# alternates, BASE first on odd repetitions), so both sides see the same host load: single-row
# infer at 1, 16 and 64 connections (req/s, p50, p99, server CPU per request), a 1,000-row JSON
# batch (rows/s, server CPU per row) and each server's VmRSS after every repetition's load.
# The table gives each figure's medians, HEAD/BASE, the per-repetition ratios' range and each
# side's own spread; a figure is "worse beyond spread" when HEAD's median is worse than BASE's
# by more than the larger of the two sides' spreads ((max - min) / median over repetitions),
# "better beyond spread" when better by more than that, else "within spread".
# It is a report: the verdicts never fail the target (exit 0); a failed build, a server that
# does not answer, or different answers (then the two would not do the same work) exit 1.
# Results: $top_builddir/bench/compare/{table.txt,summary.json,runs.jsonl,answer-*.json,*.log}.
set -u

: "${top_srcdir:?run me through make bench-compare}"
: "${top_builddir:?run me through make bench-compare}"
PYTHON3=${PYTHON3:-/usr/bin/python3}
[ -n "$PYTHON3" ] || PYTHON3=/usr/bin/python3
MAKE=${MAKE:-make}
REPS=${BENCH_REPS:-5}
DUR=${BENCH_SECONDS:-3}
WARM=${BENCH_WARMUP:-0.5}
CONNS="1 16 64"
OUT=$top_builddir/bench/compare
BUNDLED=$top_srcdir/src/models/breast-cancer/1
HEAD_INFERD=$top_builddir/src/inferd
LOADGEN=$top_builddir/tests/loadgen
INFER_PATH=/v2/models/breast-cancer/infer
T_BEGIN=$(date +%s)
LOAD_BEGIN=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

say() { printf 'bench-compare: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

[ -n "${BASE:-}" ] || die "say which commit to compare with: make bench-compare BASE=REV (e.g. BASE=HEAD~1)"
BASE_HASH=$(git -C "$top_srcdir" rev-parse --verify -q "$BASE^{commit}") ||
	die "BASE=$BASE is not a commit of $top_srcdir"
HEAD_DESC=$(git -C "$top_srcdir" describe --always --dirty 2>/dev/null || echo unknown)
BASE_DESC=$(git -C "$top_srcdir" log -1 --format='%h %s' "$BASE_HASH")
mkdir -p "$OUT" || die "cannot create $OUT"
rm -f "$OUT"/*.json "$OUT"/*.jsonl "$OUT"/*.txt

# --- Builds: this tree's inferd and loadgen, then REV's inferd (kept between runs). ----------
say "building inferd and loadgen here"
if ! { $MAKE -C "$top_builddir/src" inferd >"$OUT/head-build.log" 2>&1 &&
	$MAKE -C "$top_builddir/tests" loadgen >>"$OUT/head-build.log" 2>&1; }; then
	tail -n 30 "$OUT/head-build.log" >&2
	die "build failed (log: $OUT/head-build.log)"
fi
BDIR=$OUT/base-$BASE_HASH
BASE_INFERD=$BDIR/build/src/inferd
if [ -f "$BDIR/built.stamp" ] && [ -x "$BASE_INFERD" ]; then
	say "BASE $BASE_DESC: reusing $BDIR"
else
	say "BASE $BASE_DESC: exporting, configuring and building inferd in $BDIR (log: $OUT/base-build.log)"
	rm -rf "$BDIR"
	mkdir -p "$BDIR/src" "$BDIR/build" || die "cannot create $BDIR"
	# This build's configure arguments, as config.status quotes them, minus --enable-werror.
	CONFIG_ARGS=$(cd "$top_builddir" && ./config.status --config) ||
		die "cannot read $top_builddir/config.status --config"
	eval "set -- $CONFIG_ARGS"
	for a in "$@"; do
		shift
		[ "$a" = --enable-werror ] || set -- "$@" "$a"
	done
	if ! {
		git -C "$top_srcdir" archive "$BASE_HASH" | tar -x -C "$BDIR/src" &&
			(cd "$BDIR/src" && autoreconf -fi) &&
			(cd "$BDIR/build" && ../src/configure "$@") &&
			$MAKE -C "$BDIR/build/src" inferd
	} >"$OUT/base-build.log" 2>&1; then
		tail -n 30 "$OUT/base-build.log" >&2
		die "building BASE ($BASE_HASH) failed (log: $OUT/base-build.log)"
	fi
	echo "$BASE_HASH" >"$BDIR/built.stamp"
fi

WORK=$(mktemp -d /tmp/inferd-compare.XXXXXX) || die "mktemp failed"
BASE_PID=
HEAD_PID=
cleanup() {
	[ -z "$BASE_PID" ] || kill "$BASE_PID" 2>/dev/null
	[ -z "$HEAD_PID" ] || kill "$HEAD_PID" 2>/dev/null
	[ -z "$BASE_PID" ] || wait "$BASE_PID" 2>/dev/null
	[ -z "$HEAD_PID" ] || wait "$HEAD_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- Request bodies: run-bench.sh's own (gen_models.py's bundled rows, seeded). -------------
"$PYTHON3" - "$top_srcdir/tests/bench" "$WORK" "$BUNDLED" >"$WORK/bodies.log" 2>&1 <<'EOF' || {
import sys

sys.path.insert(0, sys.argv[1])
import gen_models  # noqa: E402
import numpy as np  # noqa: E402

gen_models.bundled(sys.argv[2], sys.argv[3], np.random.default_rng([gen_models.SEED, 0]))
EOF
	cat "$WORK/bodies.log" >&2
	die "cannot write the request bodies (gen_models.py needs python3-numpy and python3-xgboost)"
}

# --- Servers. ----------------------------------------------------------------------------------
write_conf() { # $1 = side
	mkdir -p "$WORK/$1-state"
	cat >"$WORK/$1.conf" <<EOF
socket = { path = "$WORK/$1.sock"; mode = "0600"; };
server = { state_dir = "$WORK/$1-state"; };
log_level = "warning";
models = (
  { name = "breast-cancer"; path = "$BUNDLED/model.json"; version = 1;
    golden = "$BUNDLED/golden.json"; }
);
EOF
}
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
write_conf base
write_conf head
"$BASE_INFERD" --foreground --config "$WORK/base.conf" >"$WORK/base.log" 2>&1 &
BASE_PID=$!
"$HEAD_INFERD" --foreground --config "$WORK/head.conf" >"$WORK/head.log" 2>&1 &
HEAD_PID=$!
for side in base head; do
	if [ $side = base ]; then p=$BASE_PID; else p=$HEAD_PID; fi
	wait_up "$WORK/$side.sock" /v2/health/ready "$p" || {
		cat "$WORK/$side.log" >&2
		die "$side inferd did not become ready on $WORK/$side.sock"
	}
done

# Both must answer each timed request with 200 and the same body bytes, before any timing.
"$PYTHON3" - "$WORK/base.sock" "$WORK/head.sock" "$INFER_PATH" "$WORK" "$OUT" >"$WORK/probe.txt" 2>&1 <<'EOF' || {
import http.client, os, socket, sys

bsock, hsock, path, work, out = sys.argv[1:6]


class UnixConn(http.client.HTTPConnection):
    def __init__(self, sock):
        super().__init__("localhost")
        self.path = sock

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)


def ask(sock, body):
    c = UnixConn(sock)
    c.request("POST", path, body, {"Content-Type": "application/json"})
    r = c.getresponse()
    ans = r.read()
    c.close()
    if r.status != 200:
        sys.exit("%s: HTTP %d: %r" % (sock, r.status, ans[:500]))
    return ans


for n in (1, 1000):
    body = open(os.path.join(work, "infer-%d.json" % n), "rb").read()
    a, b = ask(bsock, body), ask(hsock, body)
    if a != b:
        i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        sys.exit("the %d-row answers differ (BASE %d bytes, HEAD %d bytes), first at byte %d:\n"
                 "BASE ...%r...\nHEAD ...%r..." % (n, len(a), len(b), i, a[max(0, i - 40):i + 40],
                                                   b[max(0, i - 40):i + 40]))
    open(os.path.join(out, "answer-%d.json" % n), "wb").write(a)
    print("%d-row request: both answer the same %d bytes" % (n, len(a)))
EOF
	cat "$WORK/probe.txt" >&2
	die "BASE and HEAD do not answer the timed requests alike: no timing (see above)"
}
cat "$WORK/probe.txt" >&2

# CPU time (ns) used so far by process $1, every thread: a figure the host's other load does
# not inflate, unlike wall-clock rates.
server_cpu_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}
# run SIDE STAGE CONNS ROWS REP: one loadgen run, appended to runs.jsonl as one JSON line.
run() {
	if [ "$1" = base ]; then sp=$BASE_PID; else sp=$HEAD_PID; fi
	c0=$(server_cpu_ns "$sp")
	"$LOADGEN" -U "$WORK/$1.sock" -m POST -p "$INFER_PATH" -b "$WORK/infer-$4.json" \
		-c "$3" -d "$DUR" -w "$WARM" >"$WORK/run.json" 2>"$WORK/run.err" || true
	c1=$(server_cpu_ns "$sp")
	[ -s "$WORK/run.json" ] || echo '{"requests": 0, "errors": -1}' >"$WORK/run.json"
	printf '{"side": "%s", "stage": "%s", "conns": %s, "rows": %s, "rep": %s, "server_cpu_s": %s, "run_s": %s, "result": %s}\n' \
		"$1" "$2" "$3" "$4" "$5" "$(awk "BEGIN { print ($c1 - $c0) / 1e9 }")" \
		"$(awk "BEGIN { print $DUR + $WARM }")" "$(cat "$WORK/run.json")" >>"$OUT/runs.jsonl"
}
rss() { # SIDE REP
	if [ "$1" = base ]; then sp=$BASE_PID; else sp=$HEAD_PID; fi
	printf '{"side": "%s", "stage": "rss", "rep": %s, "vmrss_kb": %s, "vmhwm_kb": %s}\n' "$1" "$2" \
		"$(awk '$1 == "VmRSS:" { print $2 }' /proc/"$sp"/status)" \
		"$(awk '$1 == "VmHWM:" { print $2 }' /proc/"$sp"/status)" >>"$OUT/runs.jsonl"
}

# --- One run, A B A B: every figure on both sides back to back, order alternating. ----------
rep=1
while [ "$rep" -le "$REPS" ]; do
	if [ $((rep % 2)) = 1 ]; then order="base head"; else order="head base"; fi
	for c in $CONNS; do
		say "repetition $rep/$REPS: single-row infer, $c connection(s): $order"
		for side in $order; do run "$side" single "$c" 1 "$rep"; done
	done
	say "repetition $rep/$REPS: 1000-row JSON batch, 1 connection: $order"
	for side in $order; do run "$side" batch 1 1000 "$rep"; done
	for side in $order; do rss "$side" "$rep"; done
	rep=$((rep + 1))
done

# --- The table. --------------------------------------------------------------------------------
T_END=$(date +%s)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
"$PYTHON3" - "$OUT" "$REPS" "$DUR" $((T_END - T_BEGIN)) "$LOAD_BEGIN" "$LOAD_END" \
	"$BASE_HASH" "$BASE_DESC" "$HEAD_DESC" <<'EOF' || die "summary failed"
import json, os, platform, statistics, sys, time

out, reps, dur, elapsed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
base_hash, base_desc, head_desc = sys.argv[7:10]
runs = [json.loads(l) for l in open(os.path.join(out, "runs.jsonl"))]


def series(side, stage, conns, rows, value):
    """{rep: value} for one figure on one side (None where the run failed)."""
    got = {}
    for r in runs:
        if r["side"] == side and r["stage"] == stage and r.get("conns") == conns and r.get("rows") == rows:
            got[r["rep"]] = value(r)
    return got


def rps(r):
    return r["result"].get("rps") or None


def res(key):
    return lambda r: r["result"].get(key) if r["result"].get("rps") else None


def cpu_per(unit, rows):
    return lambda r: (unit * r["server_cpu_s"] / (r["result"]["rps"] * rows * r["run_s"])
                      if r["result"].get("rps") else None)


# figure name, unit, higher is better, stage, conns, rows, value
FIGS = []
for c in (1, 16, 64):
    FIGS += [("single-row %d conn: req/s" % c, "req/s", True, "single", c, 1, rps),
             ("single-row %d conn: p50" % c, "us", False, "single", c, 1, res("p50_us")),
             ("single-row %d conn: p99" % c, "us", False, "single", c, 1, res("p99_us")),
             ("single-row %d conn: server CPU/req" % c, "us", False, "single", c, 1, cpu_per(1e6, 1))]
FIGS += [("1000-row JSON batch: rows/s", "rows/s", True, "batch", 1, 1000, lambda r: (rps(r) or 0) * 1000 or None),
         ("1000-row JSON batch: server CPU/row", "ns", False, "batch", 1, 1000, cpu_per(1e9, 1000)),
         ("VmRSS after each repetition's load", "KiB", False, "rss", None, None, lambda r: r["vmrss_kb"]),
         ("VmHWM (peak RSS)", "KiB", False, "rss", None, None, lambda r: r["vmhwm_kb"])]


def stats(v):
    v = sorted(x for x in v if x is not None)
    if not v:
        return None
    m = statistics.median(v)
    return {"median": m, "min": v[0], "max": v[-1], "n": len(v),
            "spread": (v[-1] - v[0]) / m if m else 0.0}


def num(x):
    if x is None:
        return "n/a"
    return "%.0f" % x if abs(x) >= 100 else "%.1f" % x if abs(x) >= 10 else "%.2f" % x


figures = []
for name, unit, higher, stage, conns, rows, value in FIGS:
    b, h = series("base", stage, conns, rows, value), series("head", stage, conns, rows, value)
    sb, sh = stats(b.values()), stats(h.values())
    ratios = stats([h[k] / b[k] for k in b if k in h and b[k] and h[k] is not None])
    f = {"figure": name, "unit": unit, "higher_is_better": higher, "base": sb, "head": sh,
         "per_rep_ratio": ratios, "base_by_rep": b, "head_by_rep": h}
    if sb and sh and sb["median"]:
        ratio = sh["median"] / sb["median"]
        # How much worse HEAD is (0 when equal or better), against the larger side's own spread.
        worse = (1 - ratio) if higher else (ratio - 1)
        spread = max(sb["spread"], sh["spread"])
        f.update({"ratio": ratio, "worse_by": max(worse, 0.0), "spread": spread,
                  "verdict": "worse beyond spread" if worse > spread else
                  ("better beyond spread" if -worse > spread else "within spread")})
    else:
        f.update({"ratio": None, "verdict": "n/a (runs failed)"})
    figures.append(f)

errors = sum(max(r["result"].get("errors", 0), 0) + (1 if r["result"].get("errors", 0) < 0 else 0)
             for r in runs if "result" in r)
lines = []
P = lines.append
P("inferd A/B benchmark, %s, %s (%d CPUs, kernel %s); %d repetitions, %.0f s per load run; took %d s" %
  (time.strftime("%Y-%m-%d %H:%M %Z"), platform.node(), os.cpu_count(), platform.release(), reps, dur, elapsed))
P("BASE: %s" % base_desc)
P("HEAD: this build (%s)" % head_desc)
P("Load average before/after: %s / %s. Both servers side by side, same socket setup, bundled model;" % (sys.argv[5], sys.argv[6]))
P("answers to the timed requests checked byte-identical first. Per repetition BASE and HEAD back to back.")
P("ratio = HEAD median / BASE median; rep ratios = min..max of per-repetition HEAD/BASE;")
P("spread = (max - min) / median of each side's repetitions (BASE / HEAD); verdict against the larger.")
P("")
P("%-38s %10s %10s %6s %13s %15s  %s" % ("figure", "BASE med", "HEAD med", "ratio", "rep ratios", "spread B / H", "verdict"))
for f in figures:
    sb, sh, rr = f["base"], f["head"], f["per_rep_ratio"]
    P("%-38s %10s %10s %6s %13s %15s  %s" % (
        f["figure"] if f["figure"].endswith(f["unit"]) else "%s (%s)" % (f["figure"], f["unit"]), num(sb and sb["median"]), num(sh and sh["median"]),
        "%.3f" % f["ratio"] if f["ratio"] else "n/a",
        "%.2f..%.2f" % (rr["min"], rr["max"]) if rr else "n/a",
        "%.0f%% / %.0f%%" % (100 * sb["spread"], 100 * sh["spread"]) if sb and sh else "n/a",
        f["verdict"]))
worse = [f["figure"] for f in figures if f["verdict"] == "worse beyond spread"]
P("")
P("Worse beyond spread: %s" % (", ".join(worse) if worse else "none"))
if errors:
    P("WARNING: %d load-generator errors (non-2xx, closed or timed out): see runs.jsonl" % errors)
summary = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "host": platform.node(), "cpus": os.cpu_count(),
           "reps": reps, "seconds_per_run": dur, "elapsed_s": elapsed, "loadavg_begin": sys.argv[5],
           "loadavg_end": sys.argv[6], "base": {"commit": base_hash, "describe": base_desc},
           "head": {"describe": head_desc}, "figures": figures, "worse_beyond_spread": worse,
           "loadgen_errors": errors}
with open(os.path.join(out, "summary.json"), "w") as fo:
    json.dump(summary, fo, indent=1)
text = "\n".join(lines) + "\n"
with open(os.path.join(out, "table.txt"), "w") as fo:
    fo.write(text)
sys.stdout.write(text)
EOF
say "results in $OUT (table.txt, summary.json, runs.jsonl, answer-*.json)"
exit 0
