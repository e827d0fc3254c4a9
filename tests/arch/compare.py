# compare.py: the same requests to inferd builds of several architectures, answers compared byte for byte.
"""Usage: compare.py NAME=INFERD [NAME=INFERD...]   (the first is the reference, e.g. amd64)

Serves the bundled model and a few models trained here with python3-xgboost from every
daemon (each on its own Unix socket; a foreign one runs under qemu-user through its
wrapper), then sends each daemon the same requests: the golden sets' inputs, and fuzzed
rows (at least 10,000) built from the models' own split thresholds (each threshold and the
floats either side of it), NaN, +0 and -0, denormals, the largest finite floats and
infinities, and random values. Every request goes as JSON (FP32 text, both shortest and
17-digit spellings) and as binary tensor data (raw FP32, binary outputs asked), in batches
and as single rows. The status, the Inference-Header-Content-Length and the body of each
answer must be identical to the reference daemon's. Exit 0 when all are, 1 otherwise,
77 when python3-xgboost is missing."""

import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
try:
    import numpy as np
    import xgboost as xgb
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIP: python3-xgboost is not importable ({e})")
    sys.exit(77)

SEED = 20261207
FUZZ_ROWS = int(os.environ.get("ARCH_FUZZ_ROWS", "10400"))
BATCH = 200
F32 = np.float32
SPECIALS = [np.nan, 0.0, -0.0, 1e-45, -1e-45, 5.9e-39, -5.9e-39, 1.1754944e-38,
            -1.1754943e-38, 3.4028235e38, -3.4028235e38, 1e30, -1e30, 1e-30, 1.0, -1.0]
INFS = [np.inf, -np.inf]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def train_models(workdir):
    """A few small models over the objectives and boosters whose arithmetic differs."""
    rng = np.random.default_rng(SEED)
    specs = [("logistic", {"objective": "binary:logistic", "max_depth": 6}, 20, 60),
             ("softprob", {"objective": "multi:softprob", "num_class": 3, "max_depth": 4}, 12, 30),
             ("poisson", {"objective": "count:poisson", "max_depth": 5}, 9, 40),
             ("linear", {"objective": "reg:squarederror", "booster": "gblinear"}, 15, 20)]
    out = []
    for name, params, nf, rounds in specs:
        X = rng.normal(0, 1.5, (1500, nf)).astype(F32)
        X[rng.random(X.shape) < 0.05] = np.nan
        s = np.nan_to_num(X[:, :4]).sum(axis=1)
        if params["objective"] == "binary:logistic":
            y = (s > 0).astype(F32)
        elif params["objective"].startswith("multi"):
            y = np.digitize(s, [-1, 1]).astype(F32)
        elif params["objective"] == "count:poisson":
            y = rng.poisson(np.exp(np.clip(s / 3, -3, 3))).astype(F32)
        else:
            y = (3 * s + 1).astype(F32)
        p = dict(params, seed=1, nthread=1, eta=0.3)
        bst = xgb.train(p, xgb.DMatrix(X, label=y, missing=np.nan), num_boost_round=rounds)
        path = os.path.join(workdir, name + ".json")
        bst.save_model(path)
        out.append({"name": name, "path": path, "features": nf})
    return out


def thresholds(path, nf):
    """Each feature's split thresholds, read from the model file."""
    with open(path) as f:
        m = json.load(f)
    per = [set() for _ in range(nf)]
    for t in m["learner"]["gradient_booster"].get("model", {}).get("trees", []):
        for fid, c, left in zip(t["split_indices"], t["split_conditions"], t["left_children"]):
            if left != -1:
                per[fid].add(float(F32(c)))
    return [sorted(s) for s in per]


def fuzz_rows(rnd, th, n, with_inf):
    """n rows: mostly thresholds and their neighbours, then specials and random values."""
    nf = len(th)
    rows = np.empty((n, nf), dtype=F32)
    specials = SPECIALS + (INFS if with_inf else [])
    for r in range(n):
        for f in range(nf):
            u = rnd.random()
            if th[f] and u < 0.6:
                c = F32(rnd.choice(th[f]))
                k = rnd.randrange(3)
                rows[r, f] = c if k == 0 else np.nextafter(c, F32(np.inf if k == 1 else -np.inf))
            elif u < 0.85:
                rows[r, f] = F32(rnd.choice(specials))
            else:
                rows[r, f] = F32(rnd.gauss(0, 2) * 10 ** rnd.randrange(-3, 4))
    return rows


def text(v, long_form):
    if np.isnan(v):
        return "null"
    if long_form:
        return repr(float(v))  # the float's exact value to 17 digits
    return np.format_float_scientific(F32(v), unique=True, trim="-")


def json_request(rows, long_form):
    data = ",".join(text(v, long_form) for v in rows.ravel())
    body = ('{"id": "cmp", "inputs": [{"name": "input", "datatype": "FP32", "shape": [%d, %d], '
            '"data": [%s]}], "outputs": [{"name": "predict"}, {"name": "margin"}]}'
            % (rows.shape[0], rows.shape[1], data))
    return body.encode(), {"Content-Type": "application/json"}


def binary_request(rows):
    raw = rows.astype("<f4").tobytes()
    head = json.dumps({"id": "cmp", "inputs": [{"name": "input", "datatype": "FP32",
                                                "shape": list(rows.shape),
                                                "parameters": {"binary_data_size": len(raw)}}],
                       "outputs": [{"name": "predict", "parameters": {"binary_data": True}},
                                   {"name": "margin", "parameters": {"binary_data": True}}]},
                      separators=(",", ":")).encode()
    return head + raw, {"Content-Type": "application/octet-stream",
                        "Inference-Header-Content-Length": str(len(head))}


def build_requests(models):
    """(model, kind, body, headers) for every request, the same list for every daemon."""
    rnd = random.Random(SEED)
    reqs = []
    golden_path = os.path.join(os.environ["top_srcdir"], "src", "models", "breast-cancer", "1",
                               "golden.json")
    with open(golden_path) as f:
        golden = json.load(f)
    g = np.array([[np.nan if v is None else v for v in row] for row in golden["inputs"]],
                 dtype=F32)
    for long_form in (False, True):
        reqs.append(("breast-cancer", "golden-json", *json_request(g, long_form)))
    reqs.append(("breast-cancer", "golden-binary", *binary_request(g)))
    per_model = -(-FUZZ_ROWS // len(models))
    total = 0
    for m in models:
        th = thresholds(m["path"], m["features"])
        rows = fuzz_rows(rnd, th, per_model, with_inf=False)
        rows_inf = fuzz_rows(rnd, th, per_model, with_inf=True)
        total += per_model
        for i in range(0, per_model, BATCH):
            reqs.append((m["name"], "fuzz-json", *json_request(rows[i:i + BATCH], i % (2 * BATCH) == 0)))
            reqs.append((m["name"], "fuzz-binary", *binary_request(rows_inf[i:i + BATCH])))
        for i in range(25):
            reqs.append((m["name"], "row-json", *json_request(rows[i:i + 1], i % 2 == 1)))
            reqs.append((m["name"], "row-binary", *binary_request(rows_inf[i:i + 1])))
    return reqs, total


def start(name, inferd, workdir, models):
    sock = os.path.join(workdir, name + ".sock")
    lines = [f'  {{ name = "{m["name"]}"; path = "{m["path"]}"; version = 1; }}' for m in models]
    conf = os.path.join(workdir, name + ".conf")
    with open(conf, "w") as f:
        f.write(f'socket = {{ path = "{sock}"; }};\nlog_level = "warning";\n'
                f'server = {{ state_dir = "{workdir}/state-{name}"; }};\n'
                f'models = (\n{",".join(lines)}\n);\n')
    os.makedirs(os.path.join(workdir, "state-" + name), exist_ok=True)
    proc = subprocess.Popen([inferd, "--foreground", "--config", conf])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name}: inferd exited early with status {proc.returncode}")
        try:
            c = UnixHTTPConnection(sock, timeout=5)
            c.request("GET", "/v2/health/ready")
            if c.getresponse().status == 200:
                c.close()
                return proc, sock
            c.close()
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{name}: inferd did not become ready")


def answers(sock, reqs):
    c = UnixHTTPConnection(sock)
    out = []
    for model, _, body, headers in reqs:
        c.request("POST", f"/v2/models/{model}/infer", body=body, headers=headers)
        r = c.getresponse()
        out.append((r.status, r.getheader("Inference-Header-Content-Length"), r.read()))
    c.close()
    return out


def main():
    daemons = [a.split("=", 1) for a in sys.argv[1:]]
    if len(daemons) < 2:
        print(__doc__)
        return 2
    workdir = tempfile.mkdtemp(prefix="inferd-arch-")
    procs = []
    status = 0
    try:
        t0 = time.monotonic()
        models = train_models(workdir)
        models.insert(0, {"name": "breast-cancer", "features": 30, "path": os.path.join(
            os.environ["top_srcdir"], "src", "models", "breast-cancer", "1", "model.json")})
        reqs, nrows = build_requests(models[1:] + models[:1])
        print(f"{len(reqs)} requests, {nrows} fuzzed rows (+ golden), {len(models)} models")
        ref = None
        for name, inferd in daemons:
            t = time.monotonic()
            proc, sock = start(name, inferd, workdir, models)
            procs.append(proc)
            got = answers(sock, reqs)
            proc.terminate()
            rc = proc.wait(timeout=60)
            procs.remove(proc)
            ok200 = sum(1 for g in got if g[0] == 200)
            if rc != 0:
                print(f"FAIL {name}: inferd exited with status {rc} after SIGTERM")
                status = 1
            if ref is None:
                ref_name, ref = name, got
                print(f"ok   {name}: {len(got)} answers ({ok200} 200 OK), the reference "
                      f"({time.monotonic() - t:.1f}s)")
                if ok200 != len(got):
                    print(f"FAIL {name}: not every request was answered 200")
                    status = 1
                continue
            diff = [i for i, (a, b) in enumerate(zip(ref, got)) if a != b]
            if diff:
                status = 1
                i = diff[0]
                print(f"FAIL {name}: {len(diff)} of {len(got)} answers differ from {ref_name}'s; "
                      f"first: request {i} ({reqs[i][0]}, {reqs[i][1]})")
                print(f"  {ref_name}: {ref[i][0]} {ref[i][2][:300]!r}")
                print(f"  {name}: {got[i][0]} {got[i][2][:300]!r}")
            else:
                print(f"ok   {name}: all {len(got)} answers identical to {ref_name}'s, "
                      f"byte for byte ({time.monotonic() - t:.1f}s)")
        print(f"compare: {'PASS' if status == 0 else 'FAIL'} ({time.monotonic() - t0:.1f}s)")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        subprocess.run(["rm", "-rf", workdir], check=False)
    return status


if __name__ == "__main__":
    sys.exit(main())
