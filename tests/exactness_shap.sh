#!/bin/sh
# exactness_shap.sh: runs exactness_shap.py (SHAP values and leaf indices against XGBoost) under make check.
. "$(dirname "$0")/xgb-preflight.sh"
xgb_preflight "$top_builddir/tests/shap_tool"
OMP_NUM_THREADS=1 exec "$PY" "$top_srcdir/tests/exactness_shap.py" "$top_builddir/tests/shap_tool"
