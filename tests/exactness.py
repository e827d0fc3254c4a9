# exactness.py: inferd's predictions against XGBoost's own, over many generated models.
"""Trains models with python3-xgboost across every supported objective and booster, serves
them with a real inferd and compares predict and margin with Booster.predict(); then serves
exactness_engine.py's 100+ models (every output: predict, margin, predict_proba, label,
contribs, leaf; trees "all" and "best"; inputs by feature name) and compares each, bit for
bit, with XGBoost (EXACTNESS_ENGINE_MODELS=0 skips that part). Exit 0 on
success, 1 on any mismatch, 77 when xgboost is not available."""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

# One thread, and no OpenMP spinning: training must not crawl on a loaded build machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    import numpy as np
    import xgboost as xgb
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIP: python3-xgboost is not importable ({e})")
    sys.exit(77)

PREDICT_TOL = 1e-6
MARGIN_RTOL = 1e-5
SEED = 20240611

OBJECTIVES = [
    "binary:logistic",
    "binary:logitraw",
    "binary:hinge",
    "reg:squarederror",
    "reg:squaredlogerror",
    "reg:logistic",
    "reg:pseudohubererror",
    "reg:absoluteerror",
    "count:poisson",
    "reg:gamma",
    "reg:tweedie",
    "multi:softprob",
    "multi:softmax",
    "survival:cox",
    "survival:aft",
    "rank:pairwise",
    "rank:ndcg",
    "rank:map",
]


def labels(rng, objective, X, num_class):
    """Labels that the objective accepts, loosely tied to X so the trees split."""
    cols = min(X.shape[1], 3)
    signal_ = np.nan_to_num(X[:, :cols]).sum(axis=1) + rng.normal(0, 0.3, X.shape[0])
    if objective.startswith("binary:") or objective == "reg:logistic":
        return (signal_ > np.median(signal_)).astype(np.float32)
    if objective.startswith("multi:"):
        qs = np.quantile(signal_, np.linspace(0, 1, num_class + 1)[1:-1])
        return np.searchsorted(qs, signal_).astype(np.float32)
    if objective in ("count:poisson", "reg:tweedie"):
        return rng.poisson(np.exp(np.clip(signal_ / 3, -3, 3))).astype(np.float32)
    if objective in ("reg:gamma", "survival:aft"):
        return np.exp(signal_ / 3).astype(np.float32) + 0.01
    if objective == "survival:cox":
        t = np.exp(signal_ / 3).astype(np.float32) + 0.01
        return np.where(rng.random(len(t)) < 0.2, -t, t).astype(np.float32)
    if objective.startswith("rank:"):
        return np.clip(np.round(signal_), 0, 4).astype(np.float32)
    if objective == "reg:squaredlogerror":
        return np.abs(signal_).astype(np.float32)
    return (3 * signal_ + 1).astype(np.float32)


def model_specs():
    """At least 50 (booster, objective, trees, depth, features, extras) combinations."""
    specs = []
    rng = np.random.default_rng(SEED)
    boosters = ["gbtree", "dart", "gblinear"]
    for i, obj in enumerate(OBJECTIVES):
        for j, booster in enumerate(boosters):
            trees = int(rng.integers(1, 60)) if booster != "gbtree" else int(rng.integers(1, 150))
            specs.append(dict(objective=obj, booster=booster, trees=trees,
                              depth=int(1 + (i + j) % 8), features=int(rng.integers(1, 40)),
                              extra={}))
    # Extremes and special structure.
    specs += [
        dict(objective="binary:logistic", booster="gbtree", trees=500, depth=6, features=30,
             extra={}),
        dict(objective="reg:squarederror", booster="gbtree", trees=100, depth=12,
             features=200, extra={}),
        dict(objective="reg:squarederror", booster="gbtree", trees=1, depth=1, features=1,
             extra={}),
        dict(objective="multi:softprob", booster="gbtree", trees=40, depth=4, features=20,
             num_class=7, extra={}),
        dict(objective="multi:softmax", booster="dart", trees=30, depth=3, features=10,
             num_class=5, extra={"rate_drop": 0.3, "skip_drop": 0.0}),
        dict(objective="binary:logistic", booster="gbtree", trees=30, depth=5, features=12,
             extra={"num_parallel_tree": 3, "subsample": 0.7, "colsample_bynode": 0.6}),
        dict(objective="reg:squarederror", booster="gbtree", trees=50, depth=8, features=15,
             extra={"gamma": 5.0}),
        dict(objective="binary:logistic", booster="gbtree", trees=80, depth=7, features=25,
             extra={"tree_method": "exact"}),
        dict(objective="reg:squarederror", booster="gbtree", trees=60, depth=10, features=8,
             extra={"tree_method": "approx"}),
        dict(objective="binary:logistic", booster="gbtree", trees=40, depth=4, features=6,
             extra={"base_score": 0.3}),
        dict(objective="count:poisson", booster="gbtree", trees=120, depth=5, features=9,
             extra={"base_score": 2.5}),
        dict(objective="multi:softprob", booster="gblinear", trees=20, depth=1, features=50,
             num_class=4, extra={}),
        dict(objective="reg:tweedie", booster="dart", trees=80, depth=6, features=18,
             extra={"rate_drop": 0.5, "normalize_type": "forest", "tweedie_variance_power": 1.3}),
        dict(objective="binary:logitraw", booster="dart", trees=100, depth=9, features=60,
             extra={"rate_drop": 0.2, "sample_type": "weighted"}),
        # Categorical features (sent as category codes): partition and one-hot splits.
        dict(objective="reg:squarederror", booster="gbtree", trees=20, depth=4, features=5,
             cats={0: 12, 3: 40}, extra={"tree_method": "hist", "max_cat_to_onehot": 1}),
        dict(objective="multi:softprob", booster="dart", trees=10, depth=3, features=4,
             num_class=3, cats={1: 6}, extra={"tree_method": "hist", "max_cat_to_onehot": 16,
                                              "rate_drop": 0.2}),
    ]
    for k, s in enumerate(specs):
        s["name"] = f"m{k + 1:02d}"
        s.setdefault("num_class", 3 if s["objective"].startswith("multi:") else 0)
    return specs


def thresholds(path):
    """(feature, split_condition) of every numeric split in a saved JSON model."""
    with open(path) as f:
        doc = json.load(f)
    gb = doc["learner"]["gradient_booster"]
    model = gb.get("model") or gb.get("gbtree", {}).get("model")
    out = []
    for tree in (model or {}).get("trees", []):
        for l, fid, cond in zip(tree["left_children"], tree["split_indices"],
                                tree["split_conditions"]):
            if l != -1:
                out.append((fid, cond))
    return out


def make_rows(rng, n_feat, splits, n=96):
    """Random rows with NaN, plus rows sitting exactly on (and next to) split thresholds."""
    X = rng.normal(0, 1.5, (n, n_feat)).astype(np.float32)
    X[rng.random(X.shape) < 0.15] = np.nan
    X[0, :] = np.nan
    X[1, :] = 0.0
    for r in range(2, n, 2):
        if not splits:
            break
        for _ in range(min(n_feat, 4)):
            fid, cond = splits[int(rng.integers(len(splits)))]
            c = np.float32(cond)
            X[r, fid] = c
            if r + 1 < n:
                X[r + 1, fid] = np.nextafter(c, np.float32(-np.inf))
    return X


def build_cases(workdir):
    """Trains, saves and predicts every model; returns the expected outputs."""
    cases = []
    for spec in model_specs():
        rng = np.random.default_rng(SEED + int(spec["name"][1:]))
        n_train = 300
        X = rng.normal(0, 1.5, (n_train, spec["features"])).astype(np.float32)
        cats = spec.get("cats", {})
        for col, k in cats.items():
            X[:, col] = rng.integers(0, k, n_train)
        X[rng.random(X.shape) < 0.1] = np.nan
        y = labels(rng, spec["objective"], X, spec["num_class"])
        params = {"objective": spec["objective"], "booster": spec["booster"],
                  "max_depth": spec["depth"], "eta": 0.3, "seed": 7, "nthread": 1,
                  "verbosity": 0}
        if spec["num_class"]:
            params["num_class"] = spec["num_class"]
        if spec["booster"] == "dart":
            params.setdefault("rate_drop", 0.1)
        if spec["booster"] == "gblinear":
            params.pop("max_depth")
            params["updater"] = "coord_descent"
        params.update(spec["extra"])
        ftypes = ["c" if c in cats else "q" for c in range(spec["features"])] if cats else None
        dtrain = xgb.DMatrix(X, label=y, missing=np.nan, feature_types=ftypes,
                             enable_categorical=bool(cats))
        if spec["objective"].startswith("rank:"):
            dtrain.set_group([30] * (n_train // 30))
        if spec["objective"] == "survival:aft":
            dtrain.set_float_info("label_lower_bound", y)
            dtrain.set_float_info("label_upper_bound",
                                  np.where(rng.random(len(y)) < 0.3, np.inf, y))
        bst = xgb.train(params, dtrain, num_boost_round=spec["trees"])
        path = os.path.join(workdir, spec["name"] + ".json")
        bst.save_model(path)
        # Predictions come from the saved file, exactly what inferd will read.
        ref = xgb.Booster(model_file=path)
        rows = make_rows(rng, spec["features"], thresholds(path))
        for col, k in cats.items():
            # Category codes: seen, unseen, fractional and out of range ones.
            rows[:, col] = rng.choice([0, 1, 2, k - 1, k, k + 5, 1.5, 64, 1000], len(rows))
            rows[rng.random(len(rows)) < 0.1, col] = np.nan
        d = xgb.DMatrix(rows, missing=np.nan, feature_types=ftypes, enable_categorical=bool(cats))
        predict = ref.predict(d)
        margin = ref.predict(d, output_margin=True)
        cases.append(dict(spec, path=path, rows=rows,
                          predict=np.asarray(predict, dtype=np.float32),
                          margin=np.asarray(margin, dtype=np.float32)))
    return cases


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def request(conn, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def write_config(workdir, sock, cases):
    models = ",\n".join(
        f'  {{ name = "{c["name"]}"; path = "{c["path"]}"; version = 1; }}' for c in cases)
    text = (f'socket = {{ path = "{sock}"; }};\n'
            f'log_level = "warning";\n'
            f'models = (\n{models}\n);\n')
    conf = os.path.join(workdir, "inferd.conf")
    with open(conf, "w") as f:
        f.write(text)
    return conf


def start_daemon(conf, sock, builddir):
    argv = os.environ.get("INFERD_WRAPPER", "").split()
    argv += [os.path.join(builddir, "src", "inferd"), "--foreground", "--config", conf]
    proc = subprocess.Popen(argv)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"inferd exited early with status {proc.returncode}")
        if os.path.exists(sock):
            try:
                conn = UnixHTTPConnection(sock, timeout=5)
                status, _ = request(conn, "GET", "/v2/health/ready")
                conn.close()
                if status == 200:
                    return proc
            except OSError:
                pass
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError("inferd did not become ready")


def tensor_json(rows):
    flat = [None if np.isnan(v) else float(v) for v in rows.ravel()]
    return {"name": "input", "datatype": "FP32", "shape": list(rows.shape), "data": flat}


def as_f32(values):
    """Response data (null for a non-finite value) as float32."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64).astype(
        np.float32)


def compare(got, want, kind):
    """Returns (ok, max difference, identical) under the tolerance for kind."""
    want = want.ravel()
    if got.shape != want.shape:
        return False, float("inf"), False
    both_nonfinite = ~np.isfinite(want) & ~np.isfinite(got)
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    diff = np.where(both_nonfinite, 0.0, np.abs(g - w))
    diff = np.nan_to_num(diff, nan=np.inf)
    if kind == "predict":
        ok = bool(np.all(diff <= PREDICT_TOL))
        worst = float(diff.max()) if diff.size else 0.0
    else:
        scale = np.maximum(1.0, np.abs(np.nan_to_num(w, nan=0.0, posinf=0.0, neginf=0.0)))
        ok = bool(np.all(diff <= MARGIN_RTOL * scale))
        worst = float((diff / scale).max()) if diff.size else 0.0
    identical = bool(np.all((got.view(np.uint32) == want.view(np.uint32)) | both_nonfinite))
    return ok, worst, identical


def infer(conn, c, lo, hi):
    """Posts rows lo..hi-1; returns ({kind: (ok, diff, identical)}, "") or (None, why)."""
    body = json.dumps({"inputs": [tensor_json(c["rows"][lo:hi])],
                       "outputs": [{"name": "predict"}, {"name": "margin"}]})
    status, raw = request(conn, "POST", f"/v2/models/{c['name']}/infer", body)
    if status != 200:
        return None, f"HTTP {status}: {raw[:200]!r}"
    doc = json.loads(raw)
    outs = {o["name"]: o for o in doc.get("outputs", [])}
    results = {}
    for kind in ("predict", "margin"):
        want = c[kind][lo:hi]
        o = outs.get(kind)
        if o is None:
            return None, f"no {kind} output"
        if list(o["shape"]) != list(want.shape):
            return None, f"{kind} shape {o['shape']} != {list(want.shape)}"
        results[kind] = compare(as_f32(o["data"]), want, kind)
    return results, ""


def check_case(conn, c):
    """The whole batch at once, then a few rows alone (the engine's single-row path)."""
    results, why = infer(conn, c, 0, len(c["rows"]))
    if results is None:
        return False, why, None
    for r in range(4):
        single, why = infer(conn, c, r, r + 1)
        if single is None:
            return False, f"row {r} alone: {why}", None
        for kind in ("predict", "margin"):
            ok, diff, same = results[kind]
            results[kind] = (ok and single[kind][0], max(diff, single[kind][1]),
                             same and single[kind][2])
    ok = results["predict"][0] and results["margin"][0]
    return ok, "", results


# --- Every numeric datatype of the protocol (self-contained: check_datatypes()) -------------

DATATYPES = [
    # (protocol name, the numpy dtype a client would hold the rows in)
    ("BOOL", np.bool_), ("UINT8", np.uint8), ("UINT16", np.uint16), ("UINT32", np.uint32),
    ("UINT64", np.uint64), ("INT8", np.int8), ("INT16", np.int16), ("INT32", np.int32),
    ("INT64", np.int64), ("FP16", np.float16), ("FP32", np.float32), ("FP64", np.float64),
]


def datatype_rows(rng, dtype, n, n_feat):
    """n rows of dtype: values near the trees' thresholds, the type's extremes, and for
    floating types subnormals, infinities and NaN (missing)."""
    if dtype == np.bool_:
        return rng.integers(0, 2, (n, n_feat)).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        small = rng.integers(max(int(info.min), -4), 5, (n, n_feat))
        x = small.astype(object)
        edges = [int(info.min), int(info.max), int(info.max) - 1, int(info.min) + 1,
                 (1 << 24) + 1, (1 << 53) + 1, (1 << 63) - 1, (1 << 63) + (1 << 39) + 1]
        edges = [e for e in edges if info.min <= e <= info.max]
        mask = rng.random((n, n_feat)) < 0.15
        for r, f in zip(*np.nonzero(mask)):
            x[r, f] = edges[int(rng.integers(len(edges)))]
        return np.array(x.tolist(), dtype=dtype)
    # XGBoost refuses infinities in a DMatrix, so none here (the unit tests cover them).
    x = rng.normal(0, 1.5, (n, n_feat)).astype(dtype)
    specials = {
        # The smallest and largest subnormals, the smallest normal, the largest half.
        np.float16: [6e-8, -6e-8, 6.097e-5, 6.104e-5, 65504, -65504, 0.1, np.nan],
        np.float32: [1e-45, -1.1754942e-38, 1.17549435e-38, 3.4028235e38, -3.4028235e38,
                     0.1, np.nan],
        # Doubles that float32 rounds: to 0, to subnormals, to near its largest.
        np.float64: [1e-50, -1e-40, 2.2250738585072014e-308, 3.4e38, -3.4028234e38, 0.1,
                     1 / 3, np.nan],
    }[dtype]
    specials = np.array(specials, dtype=dtype)
    mask = rng.random((n, n_feat)) < 0.15
    x[mask] = specials[rng.integers(len(specials), size=int(mask.sum()))]
    return x


def datatype_json_value(v, dtype):
    if dtype == np.bool_:
        return bool(v)
    if np.issubdtype(dtype, np.integer):
        return int(v)
    return None if np.isnan(v) else float(v)


def datatype_outputs(raw):
    doc = json.loads(raw)
    outs = {o["name"]: as_f32(o["data"]) for o in doc.get("outputs", [])}
    return outs.get("predict"), outs.get("margin")


def datatype_post(conn, path, name, arr, binary):
    """Posts arr as one tensor of datatype name, JSON or binary; returns (predict, margin)
    or raises with the reason."""
    dtype = arr.dtype.type
    tensor = {"name": "input", "datatype": name, "shape": list(arr.shape)}
    if binary:
        raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        tensor["parameters"] = {"binary_data_size": len(raw)}
    else:
        tensor["data"] = [datatype_json_value(v, dtype) for v in arr.ravel()]
    head = json.dumps({"inputs": [tensor],
                       "outputs": [{"name": "predict"}, {"name": "margin"}]}).encode()
    body = head + raw if binary else head
    headers = {"Content-Type": "application/octet-stream" if binary else "application/json"}
    if binary:
        headers["Inference-Header-Content-Length"] = str(len(head))
    conn.request("POST", path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {data[:200]!r}")
    return datatype_outputs(data)


def bits_equal(got, want):
    if got is None or got.shape != want.shape:
        return False
    nan = np.isnan(got) & np.isnan(want)
    return bool(np.all((got.view(np.uint32) == want.view(np.uint32)) | nan))


def check_datatypes(conn, cases):
    """For two tree models, rows in every datatype, sent as JSON and as binary tensor data,
    must predict bit for bit what XGBoost predicts from xgboost.DMatrix of a numpy array of
    that dtype. Returns the number of failures."""
    picked = [c for c in cases if c["booster"] == "gbtree" and c["objective"] in
              ("reg:squarederror", "binary:logistic")][:2]
    failures = 0
    for c in picked:
        rng = np.random.default_rng(SEED + 7919)
        ref = xgb.Booster(model_file=c["path"])
        path = f"/v2/models/{c['name']}/infer"
        for name, dtype in DATATYPES:
            arr = datatype_rows(rng, dtype, 24, c["features"])
            d = xgb.DMatrix(arr, missing=np.nan)
            want = (np.asarray(ref.predict(d), dtype=np.float32).ravel(),
                    np.asarray(ref.predict(d, output_margin=True), dtype=np.float32).ravel())
            for binary in (False, True):
                how = "binary" if binary else "JSON"
                try:
                    got = datatype_post(conn, path, name, arr, binary)
                    ok = bits_equal(got[0], want[0]) and bits_equal(got[1], want[1])
                    why = "" if ok else "differs from XGBoost on the numpy array"
                except (RuntimeError, OSError, ValueError) as e:
                    ok, why = False, str(e)
                print(f"{'ok  ' if ok else 'FAIL'} datatype {name:6s} {how:6s} {c['name']} "
                      f"{c['objective']}{': ' + why if why else ' (bit-identical)'}")
                failures += not ok
    if not picked:
        print("FAIL datatypes: no gbtree reg:squarederror or binary:logistic model")
        failures += 1
    return failures


# --- The engine suite's models through HTTP: every output, both tree choices ---------------

def engine_module():
    """tests/exactness_engine.py's model generation, imported rather than written twice."""
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    import exactness_engine  # noqa: E402 (a sibling module, found through sys.path)
    return exactness_engine


def engine_refs(ee, spec, case):
    """XGBoost's contribs and leaf for case's rows, over all trees and over the best."""
    bst = xgb.Booster(model_file=case.path)
    cats = spec.get("cats", {})
    names = ([f"f_{i}" for i in range(spec["features"])]
             if spec.get("names") and "wrapper" not in spec else None)
    d = ee.dmatrix(case.rows, cats=cats, names=names)
    lims = {"all": (0, 0)}
    if case.best is not None:
        lims["best"] = (0, case.best + 1)
    for lim, rng_ in lims.items():
        case.refs[("contribs", lim)] = bst.predict(d, pred_contribs=True, iteration_range=rng_)
        if spec.get("booster", "gbtree") != "gblinear":
            case.refs[("leaf", lim)] = bst.predict(d, pred_leaf=True,
                                                   iteration_range=rng_).astype(np.int32)
    case.names = names


def engine_outputs(case):
    """The outputs key for case: every output its references cover."""
    have = {out for (out, _lim) in case.refs}
    names = {"predict": "predict", "margin": "margin", "proba": "predict_proba",
             "label": "label", "contribs": "contribs", "leaf": "leaf"}
    return [names[k] for k in ("predict", "margin", "proba", "label", "contribs", "leaf")
            if k in have]


def engine_compare(got, want):
    """(bit-identical, max abs difference) of two arrays, NaN equal to NaN."""
    g = np.asarray(got, dtype=np.float64).ravel()
    w = np.asarray(want, dtype=np.float64).ravel()
    if g.shape != w.shape:
        return False, float("inf")
    both = np.isnan(g) & np.isnan(w)
    diff = np.where(both, 0.0, np.abs(g - w))
    diff = np.nan_to_num(diff, nan=np.inf)
    gf = np.asarray(got).ravel()
    wf = np.asarray(want).ravel().astype(gf.dtype)
    same = bool(np.all((gf == wf) | both))
    return same, float(diff.max()) if diff.size else 0.0


def engine_infer(conn, name, rows, by_name=None):
    """Posts rows with no outputs named (so: every output served); {name: array}."""
    if by_name:
        inputs = [{"name": n, "datatype": "FP32", "shape": [len(rows)],
                   "data": [None if np.isnan(v) else float(v) for v in rows[:, j]]}
                  for j, n in enumerate(by_name)]
    else:
        inputs = [tensor_json(rows)]
    status, raw = request(conn, "POST", f"/v2/models/{name}/infer",
                          json.dumps({"inputs": inputs}))
    if status != 200:
        raise RuntimeError(f"{name}: HTTP {status}: {raw[:200]!r}")
    out = {}
    for o in json.loads(raw)["outputs"]:
        data = o["data"]
        if o["datatype"] == "INT32":
            out[o["name"]] = np.array(data, dtype=np.int32)
        else:
            out[o["name"]] = as_f32(data)
        out[o["name"]] = out[o["name"]].reshape(o["shape"])
    return out


def check_engine_models(builddir, workdir):
    """Trains the engine suite's models, serves each with trees = "all" (and "best" when it
    has a best_iteration) and every output, and compares each with XGBoost. Prints a table;
    returns the number of failures."""
    ee = engine_module()
    t0 = time.monotonic()
    cases, untrainable = [], []
    for k, spec in enumerate(ee.model_specs()):
        rng = np.random.default_rng(ee.SEED + k)
        try:
            case = (ee.train_sklearn if "wrapper" in spec else ee.train_plain)(
                workdir, k, spec, rng)
        except xgb.core.XGBoostError as e:
            untrainable.append(f"{spec['name']} {spec['objective']}: {str(e)[:80]}")
            continue
        engine_refs(ee, spec, case)
        case.spec = spec
        cases.append(case)
    print(f"engine models: trained {len(cases)} in {time.monotonic() - t0:.1f}s")
    entries = []
    for c in cases:
        outs = ", ".join(f'"{o}"' for o in engine_outputs(c))
        entries.append(f'  {{ name = "{c.name}"; path = "{c.path}"; outputs = [ {outs} ]; }}')
        if c.best is not None:
            entries.append(f'  {{ name = "{c.name}b"; path = "{c.path}"; trees = "best"; '
                           f'outputs = [ {outs} ]; }}')
    sock = os.path.join(workdir, "engine.sock")
    conf = os.path.join(workdir, "engine.conf")
    with open(conf, "w") as f:
        f.write(f'socket = {{ path = "{sock}"; }};\nlog_level = "warning";\n'
                f'models = (\n' + ",\n".join(entries) + "\n);\n")
    proc = start_daemon(conf, sock, builddir)
    conn = UnixHTTPConnection(sock)
    failures, table = 0, {}
    wire = {"proba": "predict_proba"}
    try:
        for c in cases:
            for lim in ("all", "best"):
                name = c.name if lim == "all" else c.name + "b"
                if lim == "best" and c.best is None:
                    continue
                got = engine_infer(conn, name, c.rows)
                # Every output a request names none of: all the served ones come back.
                for (out, l2), want in c.refs.items():
                    if l2 != lim and not (l2 == "all" and out in ("proba", "label")
                                          and c.best is not None and lim == "best"):
                        continue
                    if (out in ("proba", "label") and l2 != lim):
                        continue
                    g = got.get(wire.get(out, out))
                    if g is None:
                        print(f"FAIL {name}: no {out} output")
                        failures += 1
                        continue
                    same, diff = engine_compare(g, want)
                    known = (out == "proba" and c.spec["objective"] == "multi:softmax"
                             and ee.NUMPY_EXP_IS_LIBM)
                    row = table.setdefault(f"{out}/{lim}", [0, 0, 0.0])
                    row[0] += 1
                    row[1] += same
                    row[2] = max(row[2], diff)
                    if not same and not known:
                        print(f"FAIL {name} {c.spec['objective']} {c.spec.get('booster')} "
                              f"{out}/{lim}: max diff {diff:g}")
                        failures += 1
                # SHAP's efficiency: the contributions of a row sum to its margin.
                ctb = got["contribs"].astype(np.float64)
                total = ctb.sum(axis=-1).reshape(got["margin"].shape)
                m = got["margin"].astype(np.float64)
                if not np.allclose(total, m, rtol=1e-4, atol=1e-4):
                    print(f"FAIL {name}: contribs do not sum to margin "
                          f"(max diff {np.abs(total - m).max():g})")
                    failures += 1
                row = table.setdefault(f"sum(contribs)=margin/{lim}", [0, 0, 0.0])
                row[0] += 1
                row[1] += bool(np.allclose(total, m, rtol=1e-4, atol=1e-4))
                row[2] = max(row[2], float(np.abs(total - m).max()))
                if c.names and lim == "all":
                    named = engine_infer(conn, name, c.rows, by_name=c.names)
                    same, diff = engine_compare(named["predict"], got["predict"])
                    row = table.setdefault("inputs by feature name", [0, 0, 0.0])
                    row[0] += 1
                    row[1] += same
                    row[2] = max(row[2], diff)
                    if not same:
                        print(f"FAIL {name}: one input per feature predicts differently")
                        failures += 1
    finally:
        conn.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    print(f"{'output':28} {'models':>6} {'exact':>6} {'max_diff':>10}")
    for out, (n, same, diff) in sorted(table.items()):
        print(f"{out:28} {n:6} {same:6} {diff:10g}")
    served = len(cases) + sum(c.best is not None for c in cases)
    print(f"engine models: {len(cases)} models ({served} served versions), {failures} "
          f"failures, {time.monotonic() - t0:.1f}s")
    for u in untrainable:
        print(f"not trainable in XGBoost 1.7 (skipped): {u}")
    if len(cases) < 100:
        print(f"FAIL: only {len(cases)} engine models (100 expected)")
        failures += 1
    return failures


def main():
    builddir = os.environ.get("top_builddir")
    if not builddir:
        print("top_builddir is not set (run through make check)")
        return 1
    t0 = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="inferd-exact-")
    proc = None
    failures = 0
    try:
        cases = build_cases(workdir)
        print(f"trained {len(cases)} models in {time.monotonic() - t0:.1f}s")
        sock = os.path.join(workdir, "inferd.sock")
        conf = write_config(workdir, sock, cases)
        proc = start_daemon(conf, sock, builddir)
        conn = UnixHTTPConnection(sock)
        worst = {"predict": 0.0, "margin": 0.0}
        identical = {"predict": 0, "margin": 0}
        for c in cases:
            ok, why, res = check_case(conn, c)
            desc = (f"{c['name']} {c['booster']:8s} {c['objective']:21s} trees={c['trees']:3d} "
                    f"depth={c['depth']:2d} features={c['features']:3d}")
            if res is None:
                print(f"FAIL {desc}: {why}")
                failures += 1
                continue
            for kind in ("predict", "margin"):
                worst[kind] = max(worst[kind], res[kind][1])
                identical[kind] += res[kind][2]
            print(f"{'ok  ' if ok else 'FAIL'} {desc} predict_diff={res['predict'][1]:.3g}"
                  f"{' (bit-identical)' if res['predict'][2] else ''} "
                  f"margin_rel_diff={res['margin'][1]:.3g}"
                  f"{' (bit-identical)' if res['margin'][2] else ''}")
            failures += not ok
        failures += check_datatypes(conn, cases)
        conn.close()
        if os.environ.get("EXACTNESS_ENGINE_MODELS", "1") != "0":
            failures += check_engine_models(builddir, workdir)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
        proc = None
        if rc != 0:
            print(f"FAIL: inferd exited with status {rc} after SIGTERM")
            failures += 1
        print(f"summary: {len(cases)} models, {failures} failures, "
              f"max predict diff {worst['predict']:.3g}, max margin rel diff "
              f"{worst['margin']:.3g}, bit-identical predict {identical['predict']}/"
              f"{len(cases)}, margin {identical['margin']}/{len(cases)}, "
              f"{time.monotonic() - t0:.1f}s")
    except Exception as e:  # report, clean up, fail
        print(f"FAIL: {e}")
        failures += 1
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
