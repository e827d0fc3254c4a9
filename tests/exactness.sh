#!/bin/sh
# exactness.sh: runs exactness.py (inferd against XGBoost on generated models) under make check.
. "$(dirname "$0")/xgb-preflight.sh"
xgb_preflight "$top_builddir/src/inferd"
exec "$PY" "$top_srcdir/tests/exactness.py"
