#!/bin/sh
# exactness_shap.sh: runs exactness_shap.py (SHAP values and leaf indices against XGBoost) under make check.
PY=/usr/bin/python3
if ! [ -x "$PY" ]; then
	echo "SKIP: $PY is not installed"
	exit 77
fi
if ! "$PY" -c 'import numpy, xgboost' >/dev/null 2>&1; then
	echo "SKIP: python3-xgboost (and numpy) is not importable by $PY"
	exit 77
fi
if [ -z "$top_builddir" ] || [ -z "$top_srcdir" ]; then
	echo "top_builddir and top_srcdir must be set (run through make check)"
	exit 1
fi
if ! [ -x "$top_builddir/tests/shap_tool" ]; then
	echo "$top_builddir/tests/shap_tool is not built"
	exit 1
fi
OMP_NUM_THREADS=1 exec "$PY" "$top_srcdir/tests/exactness_shap.py" "$top_builddir/tests/shap_tool"
