#!/bin/sh
# exactness_engine.sh: runs exactness_engine.py (model_tool against XGBoost, bit for bit) under make check.
. "$(dirname "$0")/xgb-preflight.sh"
xgb_preflight "$top_builddir/tests/model_tool"
OMP_NUM_THREADS=1 exec "$PY" "$top_srcdir/tests/exactness_engine.py"
