#!/usr/bin/python3
"""gen_models.py: makes the benchmark models, their input rows and request bodies, seeded.

Run with Debian's python3 (python3-xgboost 1.7):  /usr/bin/python3 gen_models.py OUTDIR BUNDLED
where BUNDLED is the bundled model's directory (model.json + golden.json). It writes, per model,
OUTDIR/NAME/model.json (the bundled one is referenced, not copied), OUTDIR/NAME/rows.f32
(ROWS x F float32, little-endian, row-major, NaN = missing) and OUTDIR/manifest.json.
For the bundled model it also writes OUTDIR/infer-1.json and OUTDIR/infer-1000.json (Open
Inference Protocol request bodies, values as the shortest text of each float32). Same packages,
same seed, same files; trained models whose manifest stamp matches are kept.
"""
import json
import math
import os
import sys

import numpy as np
import xgboost as xgb

SEED = 20261128
RECIPE = 1  # bump when synth() or the training parameters change
ROWS = 20000  # distinct input rows per model: two disjoint 10k batches
TRAIN_ROWS = 4000  # enough for full-depth trees; training time bounds the bench
FEATURES = 100
MISSING = 0.03  # fraction of missing values, so default directions are exercised
GENERATED = [
    # name, trees, depth, objective
    ("gen-500x8", 500, 8, "binary:logistic"),
    ("gen-1000x6", 1000, 6, "reg:squarederror"),
]


def synth(rng, n):
    """Features N(0,1) with a few missing; a nonlinear target so trees grow to full depth."""
    x = rng.standard_normal((n, FEATURES)).astype(np.float32)
    score = (np.sin(x[:, 0] * 2) + x[:, 1] * x[:, 2] + np.abs(x[:, 3]) - 0.8 + 0.5 * x[:, 4:40].sum(axis=1) / 6.0
             + 0.3 * np.cos(x[:, 40:80].sum(axis=1)))
    x[rng.random((n, FEATURES)) < MISSING] = np.nan
    return x, score


def train(outdir, name, trees, depth, objective, rng):
    x, score = synth(rng, TRAIN_ROWS)
    y = (score > 0).astype(np.float32) if objective.startswith("binary") else score.astype(np.float32)
    params = {
        "objective": objective,
        "max_depth": depth,
        "eta": 0.05,
        "min_child_weight": 0,
        "lambda": 1.0,
        "tree_method": "hist",
        "max_bin": 32,
        "nthread": 2,
        "seed": SEED,
    }
    booster = xgb.train(params, xgb.DMatrix(x, label=y, missing=np.nan), num_boost_round=trees)
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    booster.save_model(os.path.join(d, "model.json"))
    rows, _ = synth(rng, ROWS)
    rows.astype("<f4").tofile(os.path.join(d, "rows.f32"))
    return {"name": name, "model": os.path.join(d, "model.json"), "rows": os.path.join(d, "rows.f32"),
            "num_feature": FEATURES, "trees": trees, "depth": depth, "objective": objective}


def bundled(outdir, bdir, rng):
    """Rows near the golden inputs: each a golden row with every value scaled by 0.8..1.2."""
    with open(os.path.join(bdir, "golden.json")) as f:
        golden = json.load(f)
    base = np.array([[np.nan if v is None else float(v) for v in r] for r in golden["inputs"]], dtype=np.float64)
    pick = rng.integers(0, base.shape[0], ROWS)
    rows = (base[pick] * rng.uniform(0.8, 1.2, (ROWS, base.shape[1]))).astype(np.float32)
    d = os.path.join(outdir, "bundled")
    os.makedirs(d, exist_ok=True)
    rows.astype("<f4").tofile(os.path.join(d, "rows.f32"))
    for n in (1, 1000):
        # What a client holding float32 sends: the shortest text that reads back the same float32.
        data = ",".join("null" if math.isnan(v) else str(v) for v in rows[:n].reshape(-1))
        body = ('{"id":"bench","inputs":[{"name":"input","datatype":"FP32","shape":[%d,%d],"data":[%s]}]}'
                % (n, base.shape[1], data))
        with open(os.path.join(outdir, "infer-%d.json" % n), "w") as f:
            f.write(body)
    with open(os.path.join(bdir, "model.json")) as f:
        trees = int(json.load(f)["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"])
    return {"name": "bundled", "model": os.path.join(bdir, "model.json"), "rows": os.path.join(d, "rows.f32"),
            "num_feature": int(base.shape[1]), "trees": trees, "depth": 4, "objective": "binary:logistic"}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen_models.py OUTDIR BUNDLED_MODEL_DIR")
    outdir, bdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    manifest_path = os.path.join(outdir, "manifest.json")
    # The bundled rows and request bodies are cheap: always rewritten. Trained models are kept
    # while their stamp (everything that decides their bytes) is unchanged.
    models = [bundled(outdir, os.path.abspath(bdir), np.random.default_rng([SEED, 0]))]
    old = {}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            old = {m["name"]: m for m in json.load(f)["models"]}
    for i, (name, trees, depth, objective) in enumerate(GENERATED):
        stamp = {"recipe": RECIPE, "seed": SEED, "rows": ROWS, "train_rows": TRAIN_ROWS, "features": FEATURES,
                 "missing": MISSING, "xgboost": xgb.__version__, "trees": trees, "depth": depth,
                 "objective": objective}
        m = old.get(name)
        if m and m.get("stamp") == stamp and os.path.exists(m["model"]) and os.path.exists(m["rows"]):
            print("gen_models: %s is up to date" % name, flush=True)
        else:
            print("gen_models: training %s (%d trees, depth %d)" % (name, trees, depth), flush=True)
            m = train(outdir, name, trees, depth, objective, np.random.default_rng([SEED, i + 1]))
            m["stamp"] = stamp
        models.append(m)
        with open(manifest_path, "w") as f:
            json.dump({"models": models}, f, indent=1)


if __name__ == "__main__":
    main()
