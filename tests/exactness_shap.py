# exactness_shap.py: inferd's SHAP values and leaf indices against XGBoost's own, bit for bit.
"""Trains models with python3-xgboost 1.7.4 (binary, regression, multiclass, dart, gblinear,
categorical partition and one-hot splits (feature_types "c"), missing values, early stopping with
iteration_range, parallel trees, per-row base margins), runs tests/shap_tool (src/shap.c over
a test-only JSON loader) on the same rows, and compares with Booster.predict(pred_contribs=True)
and pred_leaf=True bit for bit, with and without per-leaf tables. Also checks that the contributions add up to the margin, as
XGBoost's own tests do. Exit 0 on success, 1 on any difference, 77 without xgboost."""

import json
import os
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
SUM_TOL = 1e-4


def ulps(a, b):
    """Distance in float32 units in the last place, element-wise (equal bits give 0)."""
    ia = a.astype(np.float32).view(np.int32).astype(np.int64)
    ib = b.astype(np.float32).view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia)
    ib = np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
    return np.abs(ia - ib)


def numeric_data(rng, n, f, missing):
    X = rng.normal(size=(n, f)).astype(np.float32)
    X[rng.random(X.shape) < missing] = np.nan
    return X


def labels(rng, X, kind, num_class=3):
    s = np.nan_to_num(X[:, : min(3, X.shape[1])]).sum(axis=1) + rng.normal(0, 0.5, X.shape[0])
    if kind == "binary":
        return (s > np.median(s)).astype(np.float32)
    if kind == "multi":
        qs = np.quantile(s, np.linspace(0, 1, num_class + 1)[1:-1])
        return np.searchsorted(qs, s).astype(np.float32)
    if kind == "count":
        return rng.poisson(np.exp(np.clip(s / 3, -3, 3))).astype(np.float32)
    return (3 * s + 1).astype(np.float32)


def specs():
    """(name, params, rounds, data kind, extras): every case the engine must match."""
    out = []
    add = lambda name, params, rounds, kind, **kw: out.append((name, params, rounds, kind, kw))
    add("binary d6", {"objective": "binary:logistic", "max_depth": 6}, 40, "binary")
    add("binary missing 40%", {"objective": "binary:logistic", "max_depth": 5}, 30, "binary",
        missing=0.4)
    add("regression d8", {"objective": "reg:squarederror", "max_depth": 8, "eta": 0.3}, 30, "reg")
    add("regression d2 many feats", {"objective": "reg:squarederror", "max_depth": 2}, 60, "reg",
        features=120)
    add("poisson", {"objective": "count:poisson", "max_depth": 4}, 20, "count")
    add("multiclass 4", {"objective": "multi:softprob", "num_class": 4, "max_depth": 4}, 15,
        "multi", num_class=4)
    add("lossguide deep", {"objective": "reg:squarederror", "tree_method": "hist",
                           "grow_policy": "lossguide", "max_leaves": 64, "max_depth": 0}, 10,
        "reg", rows=2000)
    add("dart", {"booster": "dart", "objective": "binary:logistic", "max_depth": 4,
                 "rate_drop": 0.3, "skip_drop": 0.0, "seed": 7}, 25, "binary")
    add("dart multiclass", {"booster": "dart", "objective": "multi:softmax", "num_class": 3,
                            "max_depth": 3, "rate_drop": 0.2, "seed": 3}, 10, "multi")
    add("dart limit 8", {"booster": "dart", "objective": "reg:squarederror", "max_depth": 4,
                         "rate_drop": 0.3, "seed": 5}, 20, "reg", iteration_end=8)
    add("gblinear", {"booster": "gblinear", "objective": "reg:squarederror"}, 20, "reg")
    add("gblinear multiclass", {"booster": "gblinear", "objective": "multi:softprob",
                                "num_class": 3}, 10, "multi")
    add("gblinear logistic", {"booster": "gblinear", "objective": "binary:logistic"}, 10, "binary")
    add("early stopped", {"objective": "binary:logistic", "max_depth": 6, "eta": 0.8}, 200,
        "binary", early=True)
    add("early stopped multi", {"objective": "multi:softprob", "num_class": 3, "max_depth": 5,
                                "eta": 0.9}, 100, "multi", early=True)
    add("parallel trees", {"objective": "reg:squarederror", "num_parallel_tree": 3,
                           "subsample": 0.7, "colsample_bynode": 0.7, "max_depth": 4}, 6, "reg",
        iteration_end=4)
    add("base_margin rows", {"objective": "binary:logistic", "max_depth": 3}, 10, "binary",
        base_margin=True)
    add("categorical partition", {"objective": "reg:squarederror", "tree_method": "hist",
                                  "max_cat_to_onehot": 1, "max_depth": 5}, 20, "cat")
    add("categorical one-hot", {"objective": "binary:logistic", "tree_method": "hist",
                                "max_cat_to_onehot": 64, "max_depth": 4}, 20, "catbin")
    add("categorical multiclass", {"objective": "multi:softprob", "num_class": 3,
                                   "tree_method": "hist", "max_cat_to_onehot": 1,
                                   "max_depth": 4}, 8, "catmulti")
    # Paths of 40 distinct features: the scalar leaf loop, and XGBoost's float drift.
    add("chain 40 deep", {}, 0, "chain", depth=40, drifts=True)
    add("chain 20 deep", {}, 0, "chain", depth=20)
    return out


def cat_data(rng, n, kind):
    """Two categorical columns (12 and 40 levels, some missing) among numeric ones, flagged
    with feature_types "c" (what pandas' category dtype turns into; pandas is not a build
    dependency). The prediction rows add unseen and invalid categories given as floats."""
    num = rng.normal(size=(n, 3)).astype(np.float32)
    c1 = rng.integers(0, 12, n).astype(np.float32)
    c2 = rng.integers(0, 40, n).astype(np.float32)
    s = num[:, 0] + np.where(c1 % 3 == 0, 2.0, -1.0) + (c2 % 5) * 0.5 + rng.normal(0, 0.3, n)
    c1[rng.random(n) < 0.1] = np.nan
    if kind == "catbin":
        y = (s > np.median(s)).astype(np.float32)
    elif kind == "catmulti":
        y = np.searchsorted(np.quantile(s, [1 / 3, 2 / 3]), s).astype(np.float32)
    else:
        y = s.astype(np.float32)
    X = np.column_stack([num[:, 0], c1, num[:, 1], c2, num[:, 2]]).astype(np.float32)
    return X, y


CAT_TYPES = ["q", "c", "q", "c", "q"]


def chain_model(tmp, rng, depth):
    """A booster whose one tree is a chain `depth` deep, node 2i splitting on feature i (a
    leaf on the left, the chain on the right): leaf paths of up to `depth` distinct
    features. Built by editing a trained model's JSON, then loaded back by XGBoost."""
    X = rng.normal(size=(50, depth)).astype(np.float32)
    xgb.train({"max_depth": 1, "nthread": 1}, xgb.DMatrix(X, X[:, 0]), 1).save_model(
        os.path.join(tmp, "base.json"))
    with open(os.path.join(tmp, "base.json")) as f:
        j = json.load(f)
    n = 2 * depth + 1
    left, right, idx = [-1] * n, [-1] * n, [0] * n
    cond = [float(rng.integers(-100, 100)) / 64 for _ in range(n)]
    hess = [float(1 + rng.integers(0, 9)) for _ in range(n)]
    for i in range(depth):
        left[2 * i], right[2 * i], idx[2 * i], cond[2 * i] = 2 * i + 1, 2 * i + 2, i, 0.0
    for i in range(2 * depth - 2, -1, -2):
        hess[i] = hess[i + 1] + hess[i + 2]
    parents = [2147483647] + [k - 1 if k % 2 else k - 2 for k in range(1, n)]
    t = j["learner"]["gradient_booster"]["model"]["trees"][0]
    t.update(left_children=left, right_children=right, split_indices=idx, split_conditions=cond,
             sum_hessian=hess, default_left=[i % 2 for i in range(n)], split_type=[0] * n,
             base_weights=[0.0] * n, loss_changes=[0.0] * n, parents=parents)
    t["tree_param"]["num_nodes"] = str(n)
    with open(os.path.join(tmp, "chain.json"), "w") as f:
        json.dump(j, f)
    return xgb.Booster(model_file=os.path.join(tmp, "chain.json"))


def run_case(tool, tmp, name, params, rounds, kind, kw, rng):
    n_train, n_test = kw.get("rows", 600), 300
    params = dict(params, nthread=1)
    if kind == "chain":
        bst = chain_model(tmp, rng, kw["depth"])
        Xt = (rng.integers(0, 100, size=(n_test, kw["depth"])) / 90).astype(np.float32)
        Xt[rng.random(Xt.shape) < 0.1] = np.nan
        dtest = xgb.DMatrix(Xt)
    elif kind.startswith("cat"):
        X, y = cat_data(rng, n_train + n_test, kind)
        dtrain = xgb.DMatrix(X[:n_train], y[:n_train], feature_types=CAT_TYPES,
                             enable_categorical=True)
        Xt = X[n_train:].copy()
        Xt[:5, 1] = [-1, 45, 1e9, 12, 11.5]
        Xt[5:8, 3] = [np.nan, 40, 16777216]
        dtest = xgb.DMatrix(Xt, feature_types=CAT_TYPES, enable_categorical=True)
    else:
        f = kw.get("features", 12)
        X = numeric_data(rng, n_train + n_test, f, kw.get("missing", 0.1))
        y = labels(rng, X, kind, kw.get("num_class", 3))
        dtrain = xgb.DMatrix(X[:n_train], y[:n_train])
        Xt = X[n_train:]
        dtest = xgb.DMatrix(Xt)
    evals_result = {}
    if kind == "chain":
        iteration_end = 0
    elif kw.get("early"):
        dval = xgb.DMatrix(Xt, labels(rng, Xt, kind, kw.get("num_class", 3)))
        bst = xgb.train(params, dtrain, rounds, evals=[(dval, "val")], early_stopping_rounds=5,
                        verbose_eval=False, evals_result=evals_result)
        iteration_end = bst.best_iteration + 1
    else:
        bst = xgb.train(params, dtrain, rounds)
        iteration_end = kw.get("iteration_end", 0)
    if kw.get("base_margin"):
        bm = rng.normal(size=Xt.shape[0]).astype(np.float32)
        dtest.set_base_margin(bm)
        bm.tofile(os.path.join(tmp, "bm.f32"))
    model = os.path.join(tmp, "model.json")
    bst.save_model(model)
    rows = os.path.join(tmp, "rows.f32")
    np.ascontiguousarray(Xt, dtype=np.float32).tofile(rows)

    rng_arg = (0, iteration_end)
    want = bst.predict(dtest, pred_contribs=True, iteration_range=rng_arg)
    margin = bst.predict(dtest, output_margin=True, iteration_range=rng_arg)
    linear = params.get("booster") == "gblinear"
    want_leaf = None if linear else bst.predict(dtest, pred_leaf=True, iteration_range=rng_arg)

    groups = max(1, params.get("num_class", 1))
    npt = params.get("num_parallel_tree", 1)
    cmd = [tool, "-m", model, "-r", rows, "-o", os.path.join(tmp, "out")]
    if iteration_end:
        cmd += ["-t", str(iteration_end * groups * npt)]
    if kw.get("base_margin"):
        cmd += ["-b", os.path.join(tmp, "bm.f32")]
    # Twice: the plain walk (no tables) and per-leaf tables for every tree that can have one.
    u = np.zeros(1, dtype=np.int64)
    d = np.zeros(1)
    leaf_ok = None
    for table_bytes in (0, 1 << 30):
        subprocess.run(cmd + ["-T", str(table_bytes)], check=True)
        got = np.fromfile(os.path.join(tmp, "out.contribs"), dtype=np.float32).reshape(want.shape)
        u = np.maximum(u.max(), ulps(got, want).max())
        d = np.maximum(d.max(), np.abs(got.astype(np.float64) - want.astype(np.float64)).max())
        if want_leaf is not None:
            got_leaf = np.fromfile(os.path.join(tmp, "out.leaf"), dtype=np.int32)
            ok = got_leaf.size == want_leaf.size and np.array_equal(
                got_leaf.reshape(want_leaf.shape), want_leaf.astype(np.int64))
            leaf_ok = ok if leaf_ok is None else (leaf_ok and ok)
    sums = got.astype(np.float64).sum(axis=-1)
    sum_ok = np.allclose(sums, margin.astype(np.float64).reshape(sums.shape), rtol=SUM_TOL,
                         atol=SUM_TOL)
    if kw.get("drifts") and not sum_ok:
        # XGBoost's own sum is off here too: bit-identical values are the check.
        xgb_sums = want.astype(np.float64).sum(axis=-1)
        sum_ok = "xgb too" if not np.allclose(xgb_sums, margin.reshape(sums.shape), rtol=SUM_TOL,
                                              atol=SUM_TOL) else False
    return dict(name=name, shape=want.shape, ulp=int(u.max()), abs=float(np.nanmax(d)),
                nan=bool(np.isnan(d).any()), leaf=leaf_ok, sum_ok=sum_ok,
                trees=(iteration_end * groups * npt) if iteration_end else "all")


def main():
    tool = sys.argv[1]
    rng = np.random.default_rng(SEED)
    t0 = time.time()
    failures = 0
    print(f"{'model':26} {'shape':>14} {'trees':>5} {'max ULP':>7} {'max abs':>9} "
          f"{'leaf':>9} {'sum=margin':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, params, rounds, kind, kw in specs():
            r = run_case(tool, tmp, name, params, rounds, kind, kw, rng)
            leaf = "n/a" if r["leaf"] is None else ("identical" if r["leaf"] else "DIFFERENT")
            ok = r["ulp"] == 0 and not r["nan"] and r["leaf"] is not False and bool(r["sum_ok"])
            failures += not ok
            print(f"{r['name']:26} {str(r['shape']):>14} {r['trees']:>5} {r['ulp']:>7} "
                  f"{r['abs']:>9.3g} {leaf:>9} "
                  f"{r['sum_ok'] if isinstance(r['sum_ok'], str) else 'yes' if r['sum_ok'] else 'NO':>10}"
                  f"{'' if ok else '  <- FAIL'}")
    print(f"{len(specs())} models, {failures} failing, {time.time() - t0:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
