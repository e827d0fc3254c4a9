"""collect.py: gathers the evidence notebook's data (docs/evidence/data/*.json) from real runs.

Usage: /usr/bin/python3 docs/evidence/collect.py [--builddir B] [--srcdir S] [--out DIR] STEP...
  STEP: requests | validation | bench | tests | all
  B defaults to $top_builddir, S to $top_srcdir (else this file's ../..), DIR to S/docs/evidence/data.

  requests    a generated request mix (valid single rows and batches, and invalid requests of
              several kinds) sent to a real inferd (B/src/inferd) over its Unix socket:
              status, expected status, latency; valid answers compared with XGBoost.
  validation  the bundled model's golden set through the daemon, `inferctl smoke --json`, and
              the exactness suite (B/tests/exactness.log from make check when present and
              newer than inferd, else tests/exactness.py is run now).
  bench       B/bench/results/* from make bench; when absent, a short make bench is run
              (BENCH_REPS=1 BENCH_SECONDS=1 BENCH_STARTS=3) and the record says so.
  tests       per-suite results from B/tests/*.trs and *.log (make check; run now when there
              are none and EVIDENCE_RUN_CHECK is not 0), the system test log
              (E2E_LOG, default B/evidence/systemd-e2e.log) and the fault matrix's case count.

Paths of this machine are written as $top_builddir / $top_srcdir in the output.
"""
import argparse
import glob
import http.client
import json
import math
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SEED = 20251128
MODEL = "breast-cancer"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Ctx:
    def __init__(self, a):
        self.src = os.path.realpath(a.srcdir)
        self.build = os.path.realpath(a.builddir)
        self.out = os.path.realpath(a.out)
        os.makedirs(self.out, exist_ok=True)

    def scrub(self, v):
        # No absolute path of this machine in committed files.
        if isinstance(v, str):
            v = v.replace(self.build, "$top_builddir").replace(self.src, "$top_srcdir")
            return re.sub(r"/tmp/[A-Za-z0-9_.-]+", "$TMPDIR/...", v)
        if isinstance(v, list):
            return [self.scrub(x) for x in v]
        if isinstance(v, dict):
            return {k: self.scrub(x) for k, x in v.items()}
        return v

    def write(self, name, obj):
        p = os.path.join(self.out, name)
        with open(p + ".tmp", "w") as f:
            json.dump(self.scrub(obj), f, indent=1, allow_nan=False)
            f.write("\n")
        os.replace(p + ".tmp", p)
        print("collect: wrote %s" % p)


class Daemon:
    """A real inferd from the build tree, on a private socket, serving the bundled model."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.dir = tempfile.mkdtemp(prefix="inferd-evid-")
        self.sock = os.path.join(self.dir, "s.sock")
        self.conf = os.path.join(self.dir, "inferd.conf")
        os.mkdir(os.path.join(self.dir, "state"))
        with open(self.conf, "w") as f:
            f.write('socket = { path = "%s"; };\nserver = { state_dir = "%s/state"; };\n'
                    'repository = [ "%s/src/models" ];\nmodels = ( { name = "%s"; } );\n'
                    % (self.sock, self.dir, ctx.src, MODEL))
        self.log = open(os.path.join(self.dir, "inferd.log"), "w")
        self.proc = subprocess.Popen([os.path.join(ctx.build, "src", "inferd"), "--config",
                                      self.conf], stdout=self.log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                st, _ = self.request("GET", "/v2/health/ready")
                if st == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.close()
        raise RuntimeError("inferd did not become ready")

    def request(self, method, path, body=None, conn=None):
        c = conn or UnixHTTPConnection(self.sock)
        try:
            c.request(method, path, body=body,
                      headers={"Content-Type": "application/json"} if body is not None else {})
            r = c.getresponse()
            data = r.read()
            return r.status, data
        finally:
            if conn is None:
                c.close()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def golden(ctx):
    with open(os.path.join(ctx.src, "src", "models", MODEL, "1", "golden.json")) as f:
        return json.load(f)


def infer_body(rows, outputs=("predict",), width=None, shape=None):
    width = width if width is not None else (len(rows[0]) if rows else 30)
    flat = [v for r in rows for v in r]
    return json.dumps({"inputs": [{"name": "input", "datatype": "FP32",
                                   "shape": shape or [len(rows), width], "data": flat}],
                       "outputs": [{"name": o} for o in outputs]})


def xgb_predict(ctx, rows):
    try:
        import numpy as np
        import xgboost as xgb
    except ImportError:
        return None
    b = xgb.Booster(model_file=os.path.join(ctx.src, "src", "models", MODEL, "1", "model.json"))
    x = np.array([[math.nan if v is None else v for v in r] for r in rows], dtype=np.float32)
    return [float(v) for v in b.predict(xgb.DMatrix(x, missing=math.nan)).reshape(-1)]


# ---- requests ------------------------------------------------------------------------------
def step_requests(ctx):
    rnd = random.Random(SEED)
    g = golden(ctx)
    gin = g["inputs"]
    nf = len(gin[0])
    lo = [min(r[j] for r in gin if r[j] is not None) for j in range(nf)]
    hi = [max(r[j] for r in gin if r[j] is not None) for j in range(nf)]

    def synth_row():
        # Uniform within the golden rows' range per feature, 5% missing: plausible, not real.
        return [None if rnd.random() < 0.05 else round(rnd.uniform(lo[j], hi[j]), 6)
                for j in range(nf)]

    path = "/v2/models/%s/infer" % MODEL
    mix = []  # (kind, method, path, body, expected status, rows or None)
    for _ in range(600):
        r = rnd.choice(gin) if rnd.random() < 0.3 else synth_row()
        mix.append(("single", "POST", path, infer_body([r]), 200, [r]))
    for _ in range(120):
        rows = [synth_row() for _ in range(rnd.choice([2, 5, 10, 50, 100, 500]))]
        mix.append(("batch", "POST", path, infer_body(rows), 200, rows))
    bad = {
        "truncated_json": lambda: (path, infer_body([synth_row()])[:-7], 400),
        "wrong_width": lambda: (path, infer_body([synth_row()[:-1]]), 400),
        "shape_data_mismatch": lambda: (path, infer_body([synth_row()], shape=[2, nf]), 400),
        "string_value": lambda: (path, json.dumps({"inputs": [{
            "name": "input", "datatype": "FP32", "shape": [1, nf],
            "data": ["x"] + synth_row()[1:]}]}), 400),
        "missing_inputs": lambda: (path, '{"id": "no-inputs"}', 400),
        "deep_nesting": lambda: (path, '{"inputs": ' + "[" * 200 + "]" * 200 + "}", 400),
        "unknown_model": lambda: ("/v2/models/no-such-model/infer",
                                  infer_body([synth_row()]), 404),
    }
    for kind, make in bad.items():
        for _ in range(30):
            p, body, exp = make()
            mix.append((kind, "POST", p, body, exp, None))
    for _ in range(30):
        mix.append(("wrong_method", "GET", path, None, 405, None))
    rnd.shuffle(mix)

    d = Daemon(ctx)
    recs, valid_rows, valid_answers = [], [], []
    try:
        conn = UnixHTTPConnection(d.sock)
        t_begin = now()
        for kind, method, p, body, exp, rows in mix:
            t0 = time.perf_counter_ns()
            try:
                st, data = d.request(method, p, body, conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = UnixHTTPConnection(d.sock)
                st, data = -1, b""
            us = (time.perf_counter_ns() - t0) / 1000
            rec = {"kind": kind, "method": method, "expected": exp, "status": st,
                   "latency_us": round(us, 1), "rows": len(rows) if rows else 0,
                   "bytes": len(body) if body else 0}
            if st != 200:
                try:
                    rec["error"] = json.loads(data).get("error", "")[:160]
                except (ValueError, AttributeError):
                    rec["error"] = None
            elif rows:
                out = json.loads(data)["outputs"][0]["data"]
                valid_rows.extend(rows)
                valid_answers.extend(out)
            recs.append(rec)
        conn.close()
    finally:
        d.close()
    ref = xgb_predict(ctx, valid_rows)
    cmp = None
    if ref is not None:
        diffs = [abs(a - b) for a, b in zip(valid_answers, ref)]
        cmp = {"rows": len(ref), "max_abs_diff": max(diffs) if diffs else None,
               "within_1e-6": sum(1 for x in diffs if x <= 1e-6)}
    ctx.write("requests.json", {
        "generated": t_begin, "seed": SEED,
        "client": "Python http.client over AF_UNIX, one keep-alive connection, sequential",
        "synthetic": "30%% golden rows, 70%% uniform within the golden rows' per-feature range "
                     "(5%% missing); batches of 2-500 such rows; invalid requests of %d kinds"
                     % (len(bad) + 1),
        "answers_vs_xgboost": cmp, "requests": recs})


# ---- validation -----------------------------------------------------------------------------
def step_validation(ctx):
    g = golden(ctx)
    res = {"generated": now()}
    d = Daemon(ctx)
    try:
        st, data = d.request("POST", "/v2/models/%s/infer" % MODEL,
                             infer_body(g["inputs"], outputs=("predict", "margin")))
        outs = {o["name"]: o["data"] for o in json.loads(data)["outputs"]} if st == 200 else {}
        tol = g.get("tolerance") or 1e-6
        gd = {"rows": len(g["inputs"]), "tolerance": tol, "status": st}
        for k in ("predict", "margin"):
            if k in outs and k in g:
                diffs = [abs(a - b) for a, b in zip(outs[k], g[k])]
                gd[k + "_max_abs_diff"] = max(diffs)
                gd[k + "_within_tolerance"] = sum(1 for x in diffs if x <= tol)
        gd["pass"] = st == 200 and gd.get("predict_within_tolerance") == len(g["inputs"])
        res["golden"] = gd
        p = subprocess.run([os.path.join(ctx.build, "src", "inferctl"), "--config", d.conf,
                            "smoke", "--json"], capture_output=True, text=True, timeout=120)
        try:
            res["smoke"] = json.loads(p.stdout)
        except ValueError:
            res["smoke"] = {"error": (p.stdout + p.stderr)[-400:]}
        res["smoke_exit_status"] = p.returncode
    finally:
        d.close()

    inferd = os.path.join(ctx.build, "src", "inferd")
    logs = [os.path.join(ctx.build, "tests", n) for n in ("exactness.log", "exactness.sh.log")]
    logs = [p for p in logs if os.path.exists(p) and os.path.getmtime(p) >= os.path.getmtime(inferd)]
    log = logs[0] if logs else None
    if log:
        with open(log) as f:
            text = f.read()
        source = "make check (tests/%s)" % os.path.basename(log)
    else:
        env = dict(os.environ, top_builddir=ctx.build, top_srcdir=ctx.src)
        p = subprocess.run(["/usr/bin/python3", os.path.join(ctx.src, "tests", "exactness.py")],
                           capture_output=True, text=True, env=env, timeout=1800)
        text = p.stdout + p.stderr
        source = "tests/exactness.py run by collect.py"
    cases = []
    for m in re.finditer(r"^(ok|FAIL)\s+(\S+)\s+(\S+)\s+(\S+)\s+trees=\s*(\d+)\s+depth=\s*(\d+)\s+"
                         r"features=\s*(\d+)\s+predict_diff=(\S+)( \(bit-identical\))?\s+"
                         r"margin_rel_diff=(\S+)( \(bit-identical\))?", text, re.M):
        cases.append({"ok": m.group(1) == "ok", "name": m.group(2), "booster": m.group(3),
                      "objective": m.group(4), "trees": int(m.group(5)),
                      "depth": int(m.group(6)), "features": int(m.group(7)),
                      "predict_diff": float(m.group(8)), "predict_identical": bool(m.group(9)),
                      "margin_rel_diff": float(m.group(10)),
                      "margin_identical": bool(m.group(11))})
    summ = re.search(r"^summary: .*$", text, re.M)
    res["exactness"] = {"source": source, "summary": summ.group(0) if summ else None,
                        "skipped": bool(re.search(r"^SKIP", text, re.M)), "cases": cases}
    ctx.write("validation.json", res)


# ---- bench ----------------------------------------------------------------------------------
def step_bench(ctx):
    rdir = os.path.join(ctx.build, "bench", "results")
    note = "make bench results found in the build tree"
    if not glob.glob(os.path.join(rdir, "*.json")):
        note = ("no make bench results in the build tree: a short make bench was run "
                "(BENCH_REPS=1 BENCH_SECONDS=1 BENCH_STARTS=3): fewer repetitions, wider spread")
        env = dict(os.environ, BENCH_REPS="1", BENCH_SECONDS="1", BENCH_STARTS="3")
        subprocess.run(["make", "-C", ctx.build, "bench"], env=env, timeout=3600,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    files, mtimes = {}, []
    for p in sorted(glob.glob(os.path.join(rdir, "*.json")) + glob.glob(os.path.join(rdir, "*.jsonl"))):
        try:
            with open(p) as f:
                if p.endswith(".jsonl"):
                    files[os.path.basename(p)] = [json.loads(l) for l in f if l.strip()]
                else:
                    files[os.path.basename(p)] = json.load(f)
            mtimes.append(os.path.getmtime(p))
        except ValueError as e:
            files[os.path.basename(p)] = {"unreadable": str(e)}
    ctx.write("bench.json", {
        "generated": now(), "note": note,
        "results_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(max(mtimes)))
        if mtimes else None, "files": files})


# ---- tests ----------------------------------------------------------------------------------
def step_tests(ctx):
    tdir = os.path.join(ctx.build, "tests")
    run_note = "results of the last make check in the build tree"
    if not glob.glob(os.path.join(tdir, "*.trs")) and os.environ.get("EVIDENCE_RUN_CHECK", "1") != "0":
        run_note = "make check was run by collect.py (no results were in the build tree)"
        subprocess.run(["make", "-C", ctx.build, "check"], timeout=7200,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    suites = []
    for trs in sorted(glob.glob(os.path.join(tdir, "*.trs"))):
        name = os.path.basename(trs)[:-4]
        with open(trs) as f:
            m = re.search(r"^:test-result: (\S+)", f.read(), re.M)
        s = {"suite": name, "result": m.group(1) if m else "?"}
        logp = trs[:-4] + ".log"
        if os.path.exists(logp):
            with open(logp, errors="replace") as f:
                text = f.read()
            c = re.search(r"(\d+)%: Checks: (\d+), Failures: (\d+), Errors: (\d+)", text)
            if c:
                s.update(kind="check", cases=int(c.group(2)),
                         failed=int(c.group(3)) + int(c.group(4)))
            else:
                ok = len(re.findall(r"^ok\b", text, re.M))
                bad = len(re.findall(r"^(FAIL|not ok)\b", text, re.M))
                s.update(kind="script", cases=ok + bad, failed=bad)
            sk = re.search(r"^SKIP:? (.*)$", text, re.M)
            if s["result"] == "SKIP" and sk:
                s["skip_reason"] = sk.group(1)[:200]
        suites.append(s)
    res = {"generated": now(), "note": run_note, "suites": suites}
    e2e = os.environ.get("E2E_LOG") or os.path.join(ctx.build, "evidence", "systemd-e2e.log")
    if os.path.exists(e2e):
        with open(e2e, errors="replace") as f:
            text = f.read()
        tot = re.findall(r"^(\d+) passed, (\d+) failed$", text, re.M)
        res["systemd_e2e"] = {
            "passed": int(tot[-1][0]) if tot else None, "failed": int(tot[-1][1]) if tot else None,
            "checks": [{"ok": m.group(1) == "ok", "what": m.group(2)[:200]}
                       for m in re.finditer(r"^(ok|FAIL) +- (.*)$", text, re.M)],
            "skipped": bool(re.search(r"^SKIP", text, re.M))}
    else:
        res["systemd_e2e"] = None
    fm = os.path.join(ctx.out, "fault-matrix.json")
    if os.path.exists(fm):
        with open(fm) as f:
            res["fault_matrix_cases"] = len(json.load(f).get("cases", []))
    ctx.write("tests.json", res)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--srcdir", default=os.environ.get("top_srcdir") or os.path.join(here, "..", ".."))
    ap.add_argument("--builddir", default=os.environ.get("top_builddir"))
    ap.add_argument("--out", default=None)
    ap.add_argument("steps", nargs="+", choices=["requests", "validation", "bench", "tests", "all"])
    a = ap.parse_args()
    if not a.builddir:
        ap.error("--builddir (or top_builddir) is required")
    a.out = a.out or os.path.join(a.srcdir, "docs", "evidence", "data")
    ctx = Ctx(a)
    steps = ["requests", "validation", "bench", "tests"] if "all" in a.steps else a.steps
    for s in steps:
        t0 = time.monotonic()
        globals()["step_" + s](ctx)
        print("collect: %s in %.1f s" % (s, time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(main())
