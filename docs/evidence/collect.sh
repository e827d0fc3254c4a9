#!/bin/bash
# collect.sh: `make evidence`: runs the real programs for the evidence data, then executes and exports the notebook.
#
# Environment (set by make evidence): top_srcdir, top_builddir, MAKE.
# Steps, each logged to $top_builddir/evidence/STEP.log (a failing step is reported and the
# others still run, since a failure is evidence too):
#   deps        jupyter-nbconvert, python3-pandas, python3-matplotlib, python3-nbformat,
#               python3-ipykernel from Debian (installed when missing and we are root)
#   check       make check in the build tree             (EVIDENCE_SKIP_CHECK=1 skips it)
#   bench       make bench, when the build tree has no results yet or EVIDENCE_BENCH=1
#   deb         make deb with DEB_BUILD_OPTIONS=nocheck
#   e2e         tests/e2e/systemd-e2e.sh on that .deb (autopkgtest and piuparts skipped)
#   matrix      tests/e2e/fault-matrix.sh on that .deb  (EVIDENCE_SKIP_MATRIX=1 skips it)
#   collect     collect.py requests validation bench tests
#   notebook    jupyter nbconvert --execute --inplace evidence.ipynb; --to markdown evidence.md
#   memo        update-memo-table.py (the memo's table from the same data), when present
# A step that cannot run here (podman unusable: exit 77) leaves its data file as it was;
# the notebook prints every data file's generation time. Failing tests (check, e2e, a
# matrix case) are results, reported and recorded, not a failure of make evidence; the
# collectors, the notebook and its export must succeed.
set -u

: "${top_srcdir:?run me through make evidence}"
: "${top_builddir:?run me through make evidence}"
MAKE=${MAKE:-make}
PY=/usr/bin/python3
ev=$top_srcdir/docs/evidence
logs=$top_builddir/evidence
mkdir -p "$logs" "$ev/data"
T0=$SECONDS
reported=

step() { # step NAME CMD...: runs CMD with its output in $logs/NAME.log, reports the outcome
	local name=$1 t=$SECONDS rc
	shift
	echo "evidence: $name ..."
	"$@" >"$logs/$name.log" 2>&1
	rc=$?
	case $rc in
	0) echo "evidence: $name done in $((SECONDS - t)) s" ;;
	77) echo "evidence: $name SKIPPED ($(grep -m1 SKIP "$logs/$name.log"))" ;;
	*)
		echo "evidence: $name exited $rc after $((SECONDS - t)) s (log: $logs/$name.log)"
		tail -n 5 "$logs/$name.log" | sed 's/^/    /'
		reported="$reported $name"
		;;
	esac
	return $rc
}

need=
for p in jupyter-nbconvert python3-pandas python3-matplotlib python3-nbformat python3-ipykernel; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need="$need $p"
done
if [ -n "$need" ]; then
	if [ "$(id -u)" = 0 ]; then
		# shellcheck disable=SC2086 # one word per package
		step deps env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			-o DPkg::Lock::Timeout=300 $need || exit 1
	else
		echo "evidence: missing:$need (as root: apt-get install$need)" >&2
		exit 1
	fi
fi

[ -n "${EVIDENCE_SKIP_CHECK:-}" ] || step check "$MAKE" -C "$top_builddir" check
if [ -n "${EVIDENCE_BENCH:-}" ] || ! ls "$top_builddir"/bench/results/*.json >/dev/null 2>&1; then
	step bench "$MAKE" -C "$top_builddir" bench
fi
step deb env DEB_BUILD_OPTIONS=nocheck "$MAKE" -C "$top_builddir" deb
debdir=$top_builddir/deb-build
if ls "$debdir"/inferd_*.deb >/dev/null 2>&1; then
	step e2e env E2E_SKIP_AUTOPKGTEST=1 E2E_SKIP_PIUPARTS=1 \
		bash "$top_srcdir/tests/e2e/systemd-e2e.sh" "$debdir"
	cp "$logs/e2e.log" "$logs/systemd-e2e.log"
	[ -n "${EVIDENCE_SKIP_MATRIX:-}" ] ||
		step matrix bash "$top_srcdir/tests/e2e/fault-matrix.sh" --out "$ev/data/fault-matrix.json" "$debdir"
fi
step collect env top_srcdir="$top_srcdir" top_builddir="$top_builddir" \
	E2E_LOG="$logs/systemd-e2e.log" "$PY" "$ev/collect.py" requests validation bench tests ||
	exit 1

# The notebook reads only data/*.json. Debian's kernel runs /usr/bin/python3.
cd "$ev" || exit 1
export PYDEVD_DISABLE_FILE_VALIDATION=1
step notebook jupyter nbconvert --to notebook --execute --inplace \
	--ExecutePreprocessor.timeout=600 evidence.ipynb || exit 1
rm -rf evidence_files
step export jupyter nbconvert --to markdown evidence.ipynb || exit 1
# The decision memo's table is derived from the same data (update-memo-table.py).
if [ -f "$ev/update-memo-table.py" ]; then
	step memo "$PY" "$ev/update-memo-table.py"
fi
echo "evidence: docs/evidence/evidence.ipynb and evidence.md regenerated in $((SECONDS - T0)) s"
[ -z "$reported" ] || echo "evidence: steps that reported failures (recorded in the data):$reported"
exit 0
