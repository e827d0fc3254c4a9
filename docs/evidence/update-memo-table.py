#!/usr/bin/python3
"""update-memo-table.py: regenerates the decision memo's quantitative table from the evidence data.

Usage: update-memo-table.py [--memo FILE] [--data DIR] [--check | --print]

Reads DIR/*.json (default: data/ beside this script) and writes the table between the
lines <!-- evidence-table:begin --> and <!-- evidence-table:end --> of FILE (default:
../memo.md). Every number in the table is either a value of the data, only rounded, or
one of the derived figures that --numbers lists (counts, sums and percentiles computed
here from the data, the same way the notebook computes them), so that tests/check-docs.sh
can trace each number of the memo back to the data.

  --check    change nothing; exit 1 and show the difference when the memo's table is not
             what the data gives
  --print    print the table only
  --numbers  print the derived figures as one JSON object {name: value}

Exit status: 0 done (or up to date), 1 stale (--check) or the data lacks what the table
needs, 2 usage or unreadable files. Standard library only (/usr/bin/python3).
"""
import argparse
import difflib
import json
import os
import sys

BEGIN, END = "<!-- evidence-table:begin -->", "<!-- evidence-table:end -->"
HERE = os.path.dirname(os.path.abspath(__file__))

# The faults of tests/e2e/fault-matrix.sh, in plain words (no numbers: the check wants
# every number from the data).
FAULT_LABELS = {
    "control": "redeploy of the good release",
    "wrong": "wrong model (fails its golden set)",
    "corrupt": "truncated model file",
    "typo": "config typo (unknown key)",
    "missinglib": "runtime library removed",
    "sockperm": "socket permission too strict",
    "slow": "slow model (same outputs)",
}


class DataError(Exception):
    pass


def load_data(d):
    data = {}
    for name in sorted(os.listdir(d)):
        if name.endswith(".json"):
            with open(os.path.join(d, name), encoding="utf-8") as f:
                data[name[:-5]] = json.load(f)
    return data


def need(obj, *path):
    """obj[path...], or DataError naming what is missing."""
    cur = obj
    for k in path:
        try:
            cur = cur[k]
        except (KeyError, IndexError, TypeError):
            raise DataError("missing %s" % "/".join(str(p) for p in path))
    return cur


def num(v, places=0):
    """A data value as written in the table: rounded, never changed otherwise."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise DataError("not a number: %r" % (v,))
    if isinstance(v, int) and places == 0:
        return str(v)
    return "%.*f" % (places, v)


def fault_cells(case):
    """failed/requests, who noticed the fault first, and when answers were good again."""
    failed, requests = need(case, "failed"), need(case, "requests")
    counts = "%s / %s" % (num(failed), num(requests))
    if need(case, "detected"):
        by = "%s, at %s ms" % (need(case, "detected_by"), num(need(case, "detect_ms")))
    elif failed:
        by = "clients only, first failure at %s ms" % num(need(case, "first_client_failure_ms"))
    else:
        by = "nothing to notice"
    smoke = case.get("postinst_smoke") or {}
    if smoke.get("outcome"):
        trig = ", ".join(smoke.get("triggers") or [])
        what = "%s%s" % (smoke["outcome"], " (%s)" % trig if trig else "")
        if case.get("detected") and case.get("detected_by") == "postinst smoke":
            by += ": " + what
        else:
            by += "; postinst smoke: " + what
    if not failed:
        good = "no failed request"
    elif case.get("recovered") and case.get("recover_ms") is not None:
        good = "at %s ms" % num(case["recover_ms"])
    else:
        good = "not within %s s" % num(need(case, "bound_s"))
    return counts, by, good


def fault_table(fm):
    cases = need(fm, "cases")
    by = {}
    order = []
    for c in cases:
        f, a = need(c, "fault"), need(c, "alt")
        if f not in by:
            by[f] = {}
            order.append(f)
        by[f][a] = c
    alts = sorted({a for f in by for a in by[f]})
    if "A" not in alts or "B" not in alts:
        raise DataError("fault-matrix.json needs cases of both alternatives A and B")
    head = ["fault"]
    for a in alts:
        head += ["%s: failed / requests" % a, "%s: noticed first by" % a, "%s: good answers again" % a]
    rows = [head, ["---"] * len(head)]
    for f in order:
        row = [FAULT_LABELS.get(f, f)]
        for a in alts:
            row += list(fault_cells(by[f][a])) if a in by[f] else ["not measured"] * 3
        rows.append(row)
    return rows


def quantile(values, q):
    """Linear interpolation between order statistics (numpy's and pandas' default)."""
    v = sorted(values)
    if not v:
        return None
    pos = (len(v) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def derived(data):
    """Figures computed from the data (never typed in): name -> number. A data file that is
    absent, or lacks what a figure needs, only leaves that figure out."""
    d = {}

    def put(name, fn):
        try:
            v = fn()
        except (DataError, KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
            return
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            d[name] = v

    fm = data.get("fault-matrix") or {}
    cases = [c for c in fm.get("cases", []) if isinstance(c, dict)]
    for alt in sorted({c.get("alt") for c in cases if c.get("alt")}):
        sub = [c for c in cases if c.get("alt") == alt and c.get("fault") != "control"]
        put("fault_matrix.%s.faults" % alt, lambda: len(sub))
        put("fault_matrix.%s.detected" % alt, lambda: sum(1 for c in sub if c["detected"]))
        put("fault_matrix.%s.recovered" % alt,
            lambda: sum(1 for c in sub if c["failed"] == 0 or c["recovered"]))
        put("fault_matrix.%s.unaffected" % alt, lambda: sum(1 for c in sub if c["failed"] == 0))
        put("fault_matrix.%s.failed" % alt, lambda: sum(c["failed"] for c in sub))
        put("fault_matrix.%s.requests" % alt, lambda: sum(c["requests"] for c in sub))
    put("fault_matrix.cases", lambda: len(cases))

    req = (data.get("requests") or {}).get("requests") or []
    if req:
        put("requests.total", lambda: len(req))
        put("requests.as_expected", lambda: sum(1 for r in req if r["status"] == r["expected"]))
        put("requests.valid", lambda: sum(1 for r in req if r["expected"] == 200))
        put("requests.invalid", lambda: sum(1 for r in req if r["expected"] != 200))
        put("requests.invalid_kinds",
            lambda: len({r["kind"] for r in req if r["expected"] != 200}))
        put("requests.rows", lambda: sum(r["rows"] for r in req))
        for kind in ("single", "batch"):
            lat = [r["latency_us"] for r in req if r["kind"] == kind and r["status"] == 200]
            put("requests.%s.count" % kind, lambda: len(lat))
            put("requests.%s.p50_us" % kind, lambda: quantile(lat, 0.5))
            put("requests.%s.p99_us" % kind, lambda: quantile(lat, 0.99))

    val = data.get("validation") or {}
    ex = [c for c in (val.get("exactness") or {}).get("cases", []) if isinstance(c, dict)]
    if ex:
        put("exactness.models", lambda: len(ex))
        put("exactness.passed", lambda: sum(1 for c in ex if c["ok"]))
        put("exactness.predict_identical", lambda: sum(1 for c in ex if c["predict_identical"]))
        put("exactness.objectives", lambda: len({c["objective"] for c in ex}))
        put("exactness.max_predict_diff", lambda: max(c["predict_diff"] for c in ex))

    tests = data.get("tests") or {}
    suites = [s for s in tests.get("suites", []) if isinstance(s, dict)]
    if suites:
        put("tests.suites", lambda: len(suites))
        for res in ("PASS", "SKIP", "FAIL", "ERROR"):
            put("tests.suites_%s" % res.lower(),
                lambda: sum(1 for s in suites if s.get("result") == res))
        put("tests.cases", lambda: sum(s.get("cases") or 0 for s in suites))
        put("tests.cases_failed", lambda: sum(s.get("failed") or 0 for s in suites))
    return d


def totals_row(fm, alts, figures):
    row = ["all faults, control excluded"]
    for a in alts:
        k = "fault_matrix.%s." % a
        if k + "failed" not in figures:
            raise DataError("fault-matrix.json: cannot total alternative %s" % a)
        row += ["%s / %s" % (num(figures[k + "failed"]), num(figures[k + "requests"])),
                "the deployment, %s of %s" % (num(figures[k + "detected"]),
                                              num(figures[k + "faults"])),
                "within the window, %s of %s" % (num(figures[k + "recovered"]),
                                                 num(figures[k + "faults"]))]
    return row


def render(rows):
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def make_table(data):
    if "fault-matrix" not in data:
        raise DataError("fault-matrix.json is missing")
    fm = data["fault-matrix"]
    rows = fault_table(fm)
    alts = [h.split(":")[0] for h in rows[0][1::3]]
    rows.append(totals_row(fm, alts, derived(data)))
    caption = ("Fault matrix (tests/e2e/fault-matrix.sh, data/fault-matrix.json): one "
               "single-row request per new connection, continuously; a request fails when "
               "its answer is an error, wrong, or slower than %s ms; window %s s after each "
               "injection." % (num(need(fm, "slo_ms")), num(need(fm, "bound_s"))))
    return render(rows) + "\n\n" + caption


def splice(memo, table):
    b, e = memo.find(BEGIN), memo.find(END)
    if b < 0 or e < 0 or e < b or memo.count(BEGIN) != 1 or memo.count(END) != 1:
        raise DataError("the memo needs %s and %s once each, in that order" % (BEGIN, END))
    return memo[:b + len(BEGIN)] + "\n" + table + "\n" + memo[e:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memo", default=os.path.join(HERE, "..", "memo.md"))
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--check", action="store_true")
    g.add_argument("--print", action="store_true")
    g.add_argument("--numbers", action="store_true")
    o = ap.parse_args()
    try:
        data = load_data(o.data)
    except (OSError, ValueError) as e:
        print("update-memo-table.py: %s: %s" % (o.data, e), file=sys.stderr)
        return 2
    if o.numbers:
        json.dump(derived(data), sys.stdout, indent=1, sort_keys=True)
        print()
        return 0
    try:
        table = make_table(data)
    except DataError as e:
        print("update-memo-table.py: %s" % e, file=sys.stderr)
        return 1
    if o.print:
        print(table)
        return 0
    try:
        with open(o.memo, encoding="utf-8") as f:
            memo = f.read()
    except OSError as e:
        print("update-memo-table.py: %s: %s" % (o.memo, e.strerror), file=sys.stderr)
        return 2
    try:
        new = splice(memo, table)
    except DataError as e:
        print("update-memo-table.py: %s: %s" % (o.memo, e), file=sys.stderr)
        return 1
    if new == memo:
        if not o.check:
            print("update-memo-table.py: %s is up to date" % o.memo)
        return 0
    if o.check:
        sys.stdout.writelines(difflib.unified_diff(memo.splitlines(True), new.splitlines(True),
                                                   "memo.md", "memo.md from the data"))
        return 1
    tmp = o.memo + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(new)
    os.replace(tmp, o.memo)
    print("update-memo-table.py: table updated in %s" % o.memo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
