# exactness_engine.py: the engine's outputs (model_tool) against XGBoost 1.7's, bit for bit.
"""Trains well over 100 small models with python3-xgboost (every 1.7 objective; gbtree,
dart and gblinear; categorical features split by partition and one-hot; JSON and UBJSON
saves; sklearn wrappers with early stopping; feature names), predicts rows with missing
values and unseen categories through tests/model_tool, and compares every output
(predict and margin over all trees and over the best iteration, predict_proba, label) with
XGBoost's own, bit for bit. Prints a table. Exit 0 when all match, 1 otherwise, 77 without
python3-xgboost."""

import os
import subprocess
import sys
import tempfile
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    import numpy as np
    import xgboost as xgb
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIP: python3-xgboost is not importable ({e})")
    sys.exit(77)


def sklearn_shim():
    """xgboost's sklearn wrappers refuse to start without scikit-learn, which they use only
    for BaseEstimator.get_params and the mixins' _estimator_type. Without it, provide those
    two (as sklearn defines them) so that XGBoost's own fit, save_model, load_model,
    predict and predict_proba code runs unchanged."""
    import inspect
    import xgboost.sklearn as xs

    def get_params(self, deep=True):
        names = set()
        for cls in type(self).__mro__:
            if cls is not object and "__init__" in cls.__dict__:
                names |= {p for p in inspect.signature(cls.__init__).parameters
                          if p not in ("self", "kwargs")}
        params = {n: getattr(self, n, None) for n in names}
        params.update(getattr(self, "kwargs", None) or {})
        return params

    xs.SKLEARN_INSTALLED = True
    xs.XGBModel.get_params = get_params
    xgb.XGBClassifier._estimator_type = "classifier"
    xgb.XGBRegressor._estimator_type = "regressor"


try:
    import sklearn  # noqa: F401 - the wrappers' real base classes
except ImportError:
    sklearn_shim()
HAVE_SKLEARN = True

warnings.filterwarnings("ignore")
SEED = 20261207
N_ROWS = 80

OBJECTIVES = [
    "binary:logistic", "binary:logitraw", "binary:hinge",
    "reg:squarederror", "reg:linear", "reg:squaredlogerror", "reg:logistic",
    "reg:pseudohubererror", "reg:absoluteerror",
    "count:poisson", "reg:gamma", "reg:tweedie",
    "survival:cox", "survival:aft",
    "rank:pairwise", "rank:ndcg", "rank:map",
    "multi:softprob", "multi:softmax",
]


def labels(rng, objective, X, num_class):
    """Labels the objective accepts, loosely tied to X so that the trees split."""
    sig = np.nan_to_num(X[:, : min(X.shape[1], 3)]).sum(axis=1) + rng.normal(0, 0.3, len(X))
    if objective.startswith("binary:") or objective == "reg:logistic":
        return (sig > np.median(sig)).astype(np.float32)
    if objective.startswith("multi:"):
        qs = np.quantile(sig, np.linspace(0, 1, num_class + 1)[1:-1])
        return np.searchsorted(qs, sig).astype(np.float32)
    if objective in ("count:poisson", "reg:tweedie"):
        return rng.poisson(np.exp(np.clip(sig / 3, -3, 3))).astype(np.float32)
    if objective in ("reg:gamma", "survival:aft"):
        return (np.exp(sig / 3) + 0.01).astype(np.float32)
    if objective == "survival:cox":
        t = (np.exp(sig / 3) + 0.01).astype(np.float32)
        return np.where(rng.random(len(X)) < 0.2, -t, t).astype(np.float32)
    if objective == "reg:squaredlogerror":
        return np.abs(sig).astype(np.float32)
    if objective.startswith("rank:"):
        return np.clip(np.round(sig), 0, 4).astype(np.float32)
    return (3 * sig + 1).astype(np.float32)


def features(rng, n, nfeat, cats, missing=0.1):
    """Numeric columns, and category codes 0..k-1 in the columns named in cats (col: k)."""
    X = rng.normal(0, 1, (n, nfeat)).astype(np.float32)
    for c, k in cats.items():
        X[:, c] = rng.integers(0, k, n)
    X[rng.random(X.shape) < missing] = np.nan
    return X


def test_rows(rng, nfeat, cats):
    """Rows to predict: fresh values, missing ones, and unseen or odd category codes."""
    X = features(rng, N_ROWS, nfeat, cats, missing=0.15)
    odd = [0.0, -0.0, 0.5, 1.75, 40.0, 63.0, 64.0, 1000.0, 16777215.0]
    for c, k in cats.items():
        idx = rng.choice(N_ROWS, size=N_ROWS // 3, replace=False)
        X[idx, c] = rng.choice(odd + [float(k), float(k + 1)], size=len(idx))
    return X


def dmatrix(X, y=None, cats=None, names=None):
    ft = None
    if cats:
        ft = ["c" if c in cats else "q" for c in range(X.shape[1])]
    return xgb.DMatrix(X, label=y, missing=np.nan, feature_types=ft, feature_names=names,
                       enable_categorical=bool(cats))


class Case:
    """One model: its file, rows, and XGBoost's reference outputs per (output, limit)."""

    def __init__(self, name, kind, path, rows):
        self.name, self.kind, self.path, self.rows = name, kind, path, rows
        self.refs = {}  # (output, "all" | "best") -> float32 array


def booster_refs(case, bst, rows, cats, names, best):
    d = dmatrix(rows, cats=cats, names=names)
    case.refs[("predict", "all")] = bst.predict(d)  # Booster.predict: all trees
    case.refs[("margin", "all")] = bst.predict(d, output_margin=True)
    if best is not None:
        rng_ = (0, best + 1)
        case.refs[("predict", "best")] = bst.predict(d, iteration_range=rng_)
        case.refs[("margin", "best")] = bst.predict(d, output_margin=True, iteration_range=rng_)


def train_plain(workdir, k, spec, rng):
    """A Booster from xgb.train, saved as JSON or UBJSON and reloaded for the references."""
    obj, booster, nfeat = spec["objective"], spec["booster"], spec["features"]
    cats = spec.get("cats", {})
    nclass = spec.get("num_class", 3 if obj.startswith("multi:") else 0)
    X = features(rng, 200, nfeat, cats)
    y = labels(rng, obj, X, nclass)
    names = [f"f_{i}" for i in range(nfeat)] if spec.get("names") else None
    d = dmatrix(X, y, cats, names)
    params = {"objective": obj, "booster": booster, "max_depth": spec.get("depth", 3),
              "eta": 0.3, "seed": k, "nthread": 1}
    if nclass:
        params["num_class"] = nclass
    if obj.startswith("rank:"):
        d.set_group([20] * 10)
    if obj == "survival:aft":
        d.set_float_info("label_lower_bound", y)
        d.set_float_info("label_upper_bound", np.where(rng.random(len(y)) < 0.3, np.inf, y))
        params["aft_loss_distribution"] = ["normal", "logistic", "extreme"][k % 3]
    if booster == "dart":
        params.update(rate_drop=0.3, skip_drop=0.0, one_drop=1)
    if cats:
        params.update(tree_method="hist", max_cat_to_onehot=spec.get("onehot", 1))
    params.update(spec.get("extra", {}))
    evals, kw = [], {}
    if spec.get("early"):
        Xv = features(rng, 100, nfeat, cats)
        dv = dmatrix(Xv, labels(rng, obj, Xv, nclass), cats, names)
        if obj.startswith("rank:"):
            dv.set_group([10] * 10)
        evals, kw = [(dv, "valid")], {"early_stopping_rounds": 3}
    bst = xgb.train(params, d, num_boost_round=spec.get("trees", 10), evals=evals,
                    verbose_eval=False, **kw)
    ext = spec.get("ext", "json")
    path = os.path.join(workdir, f"{spec['name']}.{ext}")
    bst.save_model(path)
    ref = xgb.Booster(model_file=path)
    rows = test_rows(rng, nfeat, cats)
    case = Case(spec["name"], spec["kind"], path, rows)
    best = int(ref.attr("best_iteration")) if ref.attr("best_iteration") is not None else None
    case.best = best
    booster_refs(case, ref, rows, cats, names, best)
    return case


def train_sklearn(workdir, k, spec, rng):
    """An sklearn wrapper (early stopping when asked), saved by its own save_model()."""
    cls = {"clf": xgb.XGBClassifier, "reg": xgb.XGBRegressor, "rfc": xgb.XGBRFClassifier}
    nfeat, cats = spec["features"], spec.get("cats", {})
    nclass = spec.get("num_class", 2)
    obj = spec["objective"]
    X = features(rng, 240, nfeat, cats)
    y = labels(rng, obj, X, nclass)
    if spec["wrapper"] in ("clf", "rfc") and obj.startswith("binary:"):
        y = y.astype(np.int64)
    kw = dict(n_estimators=spec.get("trees", 30), max_depth=spec.get("depth", 3),
              learning_rate=0.3, random_state=k, n_jobs=1, objective=obj,
              booster=spec.get("booster", "gbtree"))
    if cats:
        # No pandas needed: the wrapper takes the feature types as a parameter.
        kw.update(tree_method="hist", enable_categorical=True,
                  max_cat_to_onehot=spec.get("onehot", 1),
                  feature_types=["c" if c in cats else "q" for c in range(nfeat)])
    if spec.get("early"):
        kw["early_stopping_rounds"] = 3
    kw.update(spec.get("extra", {}))
    est = cls[spec["wrapper"]](**kw)
    Xv = features(rng, 120, nfeat, cats)
    yv = labels(rng, obj, Xv, nclass).astype(y.dtype)
    est.fit(X, y, eval_set=[(Xv, yv)] if spec.get("early") else None, verbose=False)
    ext = spec.get("ext", "json")
    path = os.path.join(workdir, f"{spec['name']}.{ext}")
    est.save_model(path)
    rows = test_rows(rng, nfeat, cats)
    case = Case(spec["name"], spec["kind"], path, rows)
    # The references come from the saved file, loaded back as the wrapper loads it.
    est = cls[spec["wrapper"]](n_jobs=1)
    est.load_model(path)
    ref = xgb.Booster(model_file=path)
    best = int(ref.attr("best_iteration")) if ref.attr("best_iteration") is not None else None
    case.best = best
    booster_refs(case, ref, rows, cats, None, best)
    prow = rows
    if spec["wrapper"] in ("clf", "rfc"):
        # The sklearn defaults: "best" trees when early stopping set best_iteration.
        lim = "best" if best is not None and spec.get("booster", "gbtree") != "gblinear" else "all"
        case.refs[("proba", lim)] = est.predict_proba(prow)
        case.refs[("label", lim)] = est.predict(prow)
    return case


def model_specs():
    specs = []
    boosters = ["gbtree", "dart", "gblinear"]
    r = np.random.default_rng(SEED)
    for i, obj in enumerate(OBJECTIVES):
        for j, booster in enumerate(boosters):
            specs.append(dict(kind="plain", objective=obj, booster=booster,
                              trees=int(r.integers(2, 25)), depth=1 + (i + j) % 6,
                              features=int(r.integers(1, 20)),
                              ext="ubj" if (i + j) % 2 else "json",
                              names=(i + j) % 3 == 0))
    # Categorical: partition (max_cat_to_onehot 1) and one-hot (large), several objectives.
    cat_objs = ["reg:squarederror", "binary:logistic", "multi:softprob", "count:poisson",
                "multi:softmax", "reg:logistic", "rank:pairwise", "survival:cox"]
    for i, obj in enumerate(cat_objs):
        for onehot in (1, 64):
            nfeat = 4 + i % 3
            cats = {0: 5 + 3 * i, 2: 3 + i}
            specs.append(dict(kind=f"cat-{'onehot' if onehot > 1 else 'part'}",
                              objective=obj, booster="dart" if i % 4 == 3 else "gbtree",
                              trees=8 + i, depth=3 + i % 3, features=nfeat, cats=cats,
                              onehot=onehot, ext="ubj" if i % 2 else "json",
                              names=i % 2 == 0))
    # Many categories: sets spanning several 32-bit words, mixed with one-hot features.
    for i in range(8):
        specs.append(dict(kind="cat-wide", objective=["reg:squarederror", "binary:logistic",
                                                      "multi:softprob", "reg:gamma"][i % 4],
                          booster="dart" if i % 3 == 2 else "gbtree", trees=6 + i,
                          depth=4, features=3 + i % 3, cats={0: 70 + 9 * i, 1: 3},
                          onehot=[1, 4, 8, 100][i % 4], ext="ubj" if i % 2 else "json",
                          extra={"max_cat_threshold": 8 + 4 * i} if i % 2 else {}))
    # Early stopping (best_iteration) on plain boosters, incl. a forest and dart.
    for i, obj in enumerate(["reg:squarederror", "binary:logistic", "multi:softprob",
                             "rank:ndcg", "count:poisson", "multi:softmax"]):
        specs.append(dict(kind="early", objective=obj, booster="dart" if i == 4 else "gbtree",
                          trees=60, depth=3, features=6, early=True,
                          ext="ubj" if i % 2 else "json",
                          extra={"num_parallel_tree": 2} if i == 1 else {}))
    specs.append(dict(kind="early-cat", objective="binary:logistic", booster="gbtree",
                      trees=60, depth=4, features=5, cats={1: 12}, onehot=4, early=True,
                      ext="ubj"))
    # Extremes: a deep, wide forest; a 2-feature model with hundreds of trees.
    specs.append(dict(kind="plain", objective="reg:squarederror", booster="gbtree", trees=40,
                      depth=10, features=120, ext="json"))
    specs.append(dict(kind="plain", objective="binary:logistic", booster="gbtree", trees=300,
                      depth=2, features=2, ext="ubj"))
    if HAVE_SKLEARN:
        sk = [
            ("clf", "binary:logistic", 2, True, "gbtree"),
            ("clf", "binary:logistic", 2, False, "dart"),
            ("clf", "multi:softprob", 4, True, "gbtree"),
            ("clf", "multi:softprob", 3, False, "gblinear"),
            ("clf", "multi:softmax", 3, True, "gbtree"),
            ("clf", "multi:softmax", 11, False, "dart"),
            ("clf", "multi:softprob", 4, True, "dart"),
            ("clf", "multi:softmax", 9, True, "gblinear"),
            ("clf", "binary:logitraw", 2, True, "gbtree"),
            ("clf", "binary:hinge", 2, False, "gbtree"),
            ("clf", "binary:logistic", 2, True, "gblinear"),
            ("rfc", "binary:logistic", 2, False, "gbtree"),
            ("rfc", "multi:softprob", 5, False, "gbtree"),
            ("reg", "reg:squarederror", 0, True, "gbtree"),
            ("reg", "count:poisson", 0, True, "dart"),
            ("clf", "multi:softprob", 3, True, "gbtree", {1: 9}),
            ("clf", "binary:logistic", 2, False, "gbtree", {0: 20}),
        ]
        for i, (w, obj, nc, early, booster, *cats) in enumerate(sk):
            specs.append(dict(kind=f"sk-{w}" + ("-cat" if cats else ""), wrapper=w,
                              objective=obj, num_class=nc, cats=cats[0] if cats else {},
                              early=early, booster=booster, trees=40, depth=3,
                              features=5 + i % 4, ext="ubj" if i % 2 else "json",
                              extra={"n_estimators": 4} if w == "rfc" else {}))
    for k, s in enumerate(specs):
        s["name"] = f"e{k + 1:03d}"
    return specs


def numpy_exp_is_libm():
    """Whether numpy's float32 exp here is libm's expf (no AVX2/AVX512F dispatch, e.g. not
    x86-64). The engine follows numpy's x86-64 SIMD exp for scipy's softmax
    (XGBClassifier.predict_proba of multi:softmax), so only that output may then differ."""
    import ctypes
    libm = ctypes.CDLL("libm.so.6")
    libm.expf.restype, libm.expf.argtypes = ctypes.c_float, [ctypes.c_float]
    x = np.random.default_rng(7).normal(0, 3, 4096).astype(np.float32)
    return np.array_equal(np.exp(x), np.array([libm.expf(float(v)) for v in x], np.float32))


NUMPY_EXP_IS_LIBM = numpy_exp_is_libm()


def f32(a):
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32)).reshape(-1)


def run_tool(tool, case, limit, outputs, workdir):
    rows_path = os.path.join(workdir, f"{case.name}.rows")
    f32(case.rows).astype("<f4").tofile(rows_path)
    args = [tool, "predict", case.path, rows_path, limit]
    files = {}
    for o in outputs:
        files[o] = os.path.join(workdir, f"{case.name}.{limit}.{o}")
        args.append(f"{o}={files[o]}")
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"model_tool failed ({p.returncode}): {p.stderr.strip()}")
    return {o: np.fromfile(files[o], dtype="<f4") for o in outputs}


def compare(got, want):
    """(bit-identical?, max |difference|) of two float32 vectors; NaN equals NaN."""
    w = f32(want)
    if got.shape != w.shape:
        return False, float("inf")
    same = np.array_equal(got.view(np.uint32), w.view(np.uint32)) or np.array_equal(
        got, w, equal_nan=True)
    both_nan = np.isnan(got) & np.isnan(w)
    d = np.where(both_nan, 0.0, np.abs(got.astype(np.float64) - w.astype(np.float64)))
    return same, float(np.nanmax(d)) if d.size else 0.0


def main():
    builddir = os.environ.get("top_builddir", ".")
    tool = os.environ.get("MODEL_TOOL", os.path.join(builddir, "tests", "model_tool"))
    if not os.access(tool, os.X_OK):
        print(f"{tool} is not built")
        return 1
    t0 = time.time()
    specs = model_specs()
    results, failures, untrainable, known, cat_models = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="inferd-exact-engine-") as workdir:
        for k, spec in enumerate(specs):
            rng = np.random.default_rng(SEED + k)
            try:
                case = (train_sklearn if "wrapper" in spec else train_plain)(workdir, k, spec, rng)
            except xgb.core.XGBoostError as e:
                untrainable.append((spec["name"], spec["objective"], spec.get("booster"),
                                    str(e).splitlines()[0][:100]))
                continue
            info = subprocess.run([tool, "info", case.path], capture_output=True, text=True,
                                  timeout=60).stdout
            if "categorical 1" in info.splitlines():
                cat_models.append(case.name)
            if spec.get("cats") and "feature_type c" not in info:
                failures.append(f"{case.name}: the info lists no categorical feature type")
            by_limit = {}
            for (out, lim) in case.refs:
                by_limit.setdefault(lim, []).append(out)
            for lim, outs in sorted(by_limit.items()):
                try:
                    got = run_tool(tool, case, "0" if lim == "all" else "best", outs, workdir)
                except RuntimeError as e:
                    failures.append(f"{case.name} {spec['objective']}: {e}")
                    continue
                for out in outs:
                    same, diff = compare(got[out], case.refs[(out, lim)])
                    results.append((case.name, case.kind, spec["objective"],
                                    spec.get("booster", "gbtree"), spec.get("ext", "json"),
                                    f"{out}/{lim}", same, diff))
                    if not same and out == "proba" and spec["objective"] == "multi:softmax" \
                            and NUMPY_EXP_IS_LIBM:
                        known.append(f"{case.name} multi:softmax proba/{lim}: max diff {diff:g}")
                    elif not same:
                        failures.append(f"{case.name} {spec['objective']} "
                                        f"{spec.get('booster')} {out}/{lim}: max diff {diff:g}")
    models = sorted({r[0] for r in results})
    print(f"{'model':6} {'kind':12} {'objective':22} {'booster':8} {'file':4} "
          f"{'output':14} {'exact':5} max_diff")
    for r in results:
        print(f"{r[0]:6} {r[1]:12} {r[2]:22} {r[3]:8} {r[4]:4} {r[5]:14} "
              f"{'yes' if r[6] else 'NO':5} {r[7]:g}")
    print()
    kinds = {}
    for r in results:
        kinds.setdefault(r[5], []).append(r)
    print(f"{'output':14} {'models':>6} {'exact':>6} {'max_diff':>10}")
    for out, rs in sorted(kinds.items()):
        print(f"{out:14} {len(rs):6} {sum(r[6] for r in rs):6} {max(r[7] for r in rs):10g}")
    objs = sorted({r[2] for r in results})
    print(f"\n{len(models)} models, {len(objs)} objectives, {len(results)} outputs compared, "
          f"{sum(not r[6] for r in results)} differ; {time.time() - t0:.1f} s")
    n_cat_specs = sum(1 for s in specs if s.get("cats"))
    print(f"{len(cat_models)} of the {n_cat_specs} models trained on categorical features "
          f"have categorical splits")
    if len(cat_models) < n_cat_specs // 2:
        failures.append("too few models with categorical splits")
    for u in untrainable:
        print(f"not trainable in XGBoost 1.7 (skipped): {u}")
    missing = sorted(set(OBJECTIVES) - set(objs))
    if missing:
        failures.append(f"objectives never compared: {missing}")
    if len(models) < 100:
        failures.append(f"only {len(models)} models compared (100 expected)")
    for k in known:
        print("KNOWN (this numpy's float32 exp is libm's expf, not the x86-64 SIMD kernel "
              "the engine follows; see model.c numpy_expf):", k)
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
