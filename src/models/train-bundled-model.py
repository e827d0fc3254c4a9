#!/usr/bin/python3
"""train-bundled-model.py: trains inferd's bundled model and its golden set, reproducibly.

Uses only Debian packages: python3-xgboost (1.7) and python3-sklearn, whose
load_breast_cancer() ships the Wisconsin Diagnostic Breast Cancer data set.
Run from this directory:  /usr/bin/python3 train-bundled-model.py [OUTDIR]
It writes OUTDIR/model.json, OUTDIR/golden.json and prints the metrics recorded in
docs/model-card.md. Same packages, same output: training is single-threaded and seeded.
"""
import json
import math
import os
import sys

import numpy as np
import xgboost as xgb
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split

SEED = 20261128
PARAMS = {
    "objective": "binary:logistic",
    "max_depth": 4,
    "eta": 0.1,
    "subsample": 1.0,
    "min_child_weight": 1,
    "eval_metric": "logloss",
    "tree_method": "exact",
    "nthread": 1,
    "seed": SEED,
}
ROUNDS = 100
GOLDEN_ROWS = 24
TOLERANCE = 1e-6


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__) or ".", "breast-cancer", "1")
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.2, random_state=SEED % (2**32), stratify=data.target)
    dtrain = xgb.DMatrix(x_train, label=y_train, feature_names=None)
    booster = xgb.train(PARAMS, dtrain, num_boost_round=ROUNDS)
    os.makedirs(outdir, exist_ok=True)
    booster.save_model(os.path.join(outdir, "model.json"))

    p_test = booster.predict(xgb.DMatrix(x_test))
    metrics = {
        "rows_train": int(x_train.shape[0]),
        "rows_test": int(x_test.shape[0]),
        "features": int(x_train.shape[1]),
        "test_auc": round(float(roc_auc_score(y_test, p_test)), 4),
        "test_accuracy": round(float(accuracy_score(y_test, p_test > 0.5)), 4),
        "test_logloss": round(float(log_loss(y_test, p_test)), 4),
    }

    # Golden rows: held-out rows as float32 (what inferd receives), with some values
    # missing so the default-direction branches are exercised too.
    rows = x_test[:GOLDEN_ROWS].astype(np.float32).copy()
    rng = np.random.default_rng(SEED)
    for r in range(0, GOLDEN_ROWS, 3):
        rows[r, rng.choice(rows.shape[1], size=3, replace=False)] = np.nan
    dm = xgb.DMatrix(rows, missing=np.nan)
    predict = booster.predict(dm)
    margin = booster.predict(dm, output_margin=True)

    def num(v):
        return None if math.isnan(v) else float(v)

    golden = {
        "model": "breast-cancer",
        "xgboost_version": xgb.__version__,
        "tolerance": TOLERANCE,
        "inputs": [[num(v) for v in row] for row in rows.tolist()],
        "predict": [float(v) for v in predict.tolist()],
        "margin": [float(v) for v in margin.tolist()],
    }
    with open(os.path.join(outdir, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    print(json.dumps({"params": PARAMS, "rounds": ROUNDS, "metrics": metrics}, indent=1))


if __name__ == "__main__":
    main()
