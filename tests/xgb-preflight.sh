# xgb-preflight.sh: sourced by the exactness wrappers: python3 with numpy and xgboost, the tree, a built program.
# xgb_preflight PROGRAM: exits 77 (with the reason) when python3-xgboost is missing, 1 when
# not run through make check or PROGRAM is not built; returns when all is there. Sets PY.
PY=/usr/bin/python3
xgb_preflight() {
	if ! [ -x "$PY" ]; then
		echo "SKIP: $PY is not installed"
		exit 77
	fi
	if ! "$PY" -c 'import numpy, xgboost' >/dev/null 2>&1; then
		echo "SKIP: python3-xgboost (and numpy) are not importable by $PY"
		exit 77
	fi
	if [ -z "$top_builddir" ] || [ -z "$top_srcdir" ]; then
		echo "top_builddir and top_srcdir must be set (run through make check)"
		exit 1
	fi
	if ! [ -x "$1" ]; then
		echo "$1 is not built"
		exit 1
	fi
}
