#!/bin/sh
# check-docs.sh: the decision memo, its recommendation record and the deployment guide agree with the evidence and the code.
#
# Checks (each prints one "ok" or "FAIL" line; the rules are stated where they are applied):
#   memo       docs/memo.md: 900..1200 words, the six "## " headings in order, the
#              quantitative table is what docs/evidence/update-memo-table.py makes from
#              docs/evidence/data/*.json, every number is in the evidence (a value of the
#              data, or a figure update-memo-table.py --numbers derives from it) or a
#              threshold constant of the whitelist below
#   record     docs/recommendation.json: parses, every field, its recommended option is the
#              one the memo's Recommendation section names, its monitoring metric, rollback
#              trigger and alternative names appear in the memo
#   deployment docs/deployment.md names every smoke trigger of src/smoke.c and every
#              inferctl command of src/ctl.c's usage text
# Needs /usr/bin/python3 (standard library only); exits 77 with the reason without it.

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
	echo "SKIP: $PY is not installed (apt-get install python3): the document checks are written in Python"
	exit 77
fi

exec "$PY" - "$top_srcdir" <<'EOF'
import decimal
import glob
import json
import os
import re
import subprocess
import sys

top = sys.argv[1]
MEMO = os.path.join(top, "docs", "memo.md")
RECORD = os.path.join(top, "docs", "recommendation.json")
DEPLOY = os.path.join(top, "docs", "deployment.md")
DATA = os.path.join(top, "docs", "evidence", "data")
TABLE_TOOL = os.path.join(top, "docs", "evidence", "update-memo-table.py")
BEGIN, END = "<!-- evidence-table:begin -->", "<!-- evidence-table:end -->"
HEADINGS = ["Context", "Method", "Evidence", "Risks", "Recommendation", "Open questions"]
WORDS_MIN, WORDS_MAX = 900, 1200

# Numbers the memo may quote without their being in docs/evidence/data: thresholds the issue
# defines (so the memo cites them as limits, never as results). Each with its reason.
THRESHOLDS = {
    "1e-6": "golden-set tolerance: largest absolute difference from XGBoost's own outputs",
    "2.0": "sandbox gate: systemd-analyze security exposure must be at most 2.0",
    "50": "smoke.p99_ms default: the post-install smoke test's p99 latency trigger, in ms",
    "10": "smoke.timeout default: seconds the smoke test waits for readiness",
}

passed = failed = 0


def ok(msg):
    global passed
    passed += 1
    print("ok   " + msg)


def fail(msg, details=()):
    global failed
    failed += 1
    print("FAIL " + msg)
    for d in details:
        print("       " + d)


def read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        fail("%s: %s" % (os.path.relpath(path, top), e.strerror))
        return None


def normalize(s):
    """Lower case, no backticks or emphasis, runs of whitespace as one space."""
    return re.sub(r"\s+", " ", re.sub(r"[`*]", "", s)).strip().lower()


memo = read(MEMO)
record_text = read(RECORD)
deploy = read(DEPLOY)

# ---- memo: structure ---------------------------------------------------------------------
if memo is not None:
    # Fenced code blocks are not prose: neither their lines nor their "#" count.
    lines, in_fence = [], False
    for line in memo.splitlines():
        if re.match(r"^\s*(```|~~~)", line):
            in_fence = not in_fence
            continue
        if not in_fence:
            lines.append(line)
    prose_all = "\n".join(lines)

    heads = [(len(m.group(1)), m.group(2).strip())
             for m in re.finditer(r"^(#{1,6})\s+(.*?)\s*#*\s*$", prose_all, re.M)]
    h2 = [t for lvl, t in heads if lvl == 2]
    others = ["#" * lvl + " " + t for i, (lvl, t) in enumerate(heads)
              if lvl != 2 and not (i == 0 and lvl == 1)]
    # Rule: the "## " headings are exactly the six, in order; besides them only one "# "
    # title, first, is allowed.
    if h2 == HEADINGS and not others:
        ok("memo: headings are exactly " + ", ".join(HEADINGS) + " (## level, in order)")
    else:
        fail("memo: headings", ["## headings found: %s" % h2, "expected: %s" % HEADINGS]
             + (["other headings: %s" % others] if others else []))

    nb, ne = prose_all.count(BEGIN), prose_all.count(END)
    table_ok = nb == 1 and ne == 1 and prose_all.index(BEGIN) < prose_all.index(END)
    if table_ok:
        sec = prose_all[:prose_all.index(BEGIN)]
        last_h2 = [t for t in re.findall(r"^##\s+(.*?)\s*$", sec, re.M)]
        table = prose_all[prose_all.index(BEGIN) + len(BEGIN):prose_all.index(END)]
        if last_h2 and last_h2[-1] == "Evidence" and re.search(r"^\s*\|.*\|\s*$", table, re.M):
            ok("memo: one generated table between the evidence-table markers, in Evidence")
        else:
            table_ok = False
            fail("memo: the markers must enclose a markdown table inside the Evidence section")
    else:
        fail("memo: expected %s and %s once each, in that order (found %d and %d)"
             % (BEGIN, END, nb, ne))

    # Rule (word count): every word of the file except fenced code blocks, HTML comments
    # and the generated table (the markers and everything between them). A word is a run
    # of non-blank characters holding at least one letter or digit, so markdown markup
    # ("#", "-", "|", "**") is not a word; headings and list items are.
    prose = prose_all
    if table_ok:
        prose = prose[:prose.index(BEGIN)] + "\n" + prose[prose.index(END) + len(END):]
    prose = re.sub(r"<!--.*?-->", " ", prose, flags=re.S)
    words = [w for w in prose.split() if re.search(r"[A-Za-z0-9]", w)]
    if WORDS_MIN <= len(words) <= WORDS_MAX:
        ok("memo: %d words (rule: %d..%d, outside code fences, comments and the generated table)"
           % (len(words), WORDS_MIN, WORDS_MAX))
    else:
        fail("memo: %d words, expected %d..%d (outside code fences, comments and the generated table)"
             % (len(words), WORDS_MIN, WORDS_MAX))

# ---- memo: the table is up to date -----------------------------------------------------------
data_files = sorted(glob.glob(os.path.join(DATA, "*.json")))
if memo is not None:
    if not os.path.exists(TABLE_TOOL):
        fail("memo: %s is missing" % os.path.relpath(TABLE_TOOL, top))
    else:
        r = subprocess.run([sys.executable, TABLE_TOOL, "--check", "--memo", MEMO, "--data", DATA],
                           capture_output=True, text=True)
        if r.returncode == 0:
            ok("memo: the table is what update-memo-table.py makes from docs/evidence/data/*.json")
        else:
            fail("memo: the table is not what update-memo-table.py makes from the data "
                 "(run: docs/evidence/update-memo-table.py)",
                 (r.stdout + r.stderr).strip().splitlines()[:20])

# ---- memo: every number comes from the evidence ----------------------------------------------
evidence = []  # every number the data holds: numeric values, numeric strings, numeric keys


def collect(v):
    if isinstance(v, bool) or v is None:
        return
    if isinstance(v, (int, float)):
        evidence.append(decimal.Decimal(repr(v)) if isinstance(v, float) else decimal.Decimal(v))
    elif isinstance(v, str):
        if re.fullmatch(r"[-+]?\d+(\.\d+)?([eE][-+]?\d+)?", v.strip()):
            evidence.append(decimal.Decimal(v.strip()))
    elif isinstance(v, list):
        for x in v:
            collect(x)
    elif isinstance(v, dict):
        for k, x in v.items():
            collect(k)
            collect(x)


bad_data = []
for path in data_files:
    try:
        with open(path, encoding="utf-8") as f:
            collect(json.load(f))
    except (OSError, ValueError) as e:
        bad_data.append("%s: %s" % (os.path.basename(path), e))
# The derived figures (counts, sums, percentiles) that update-memo-table.py computes from
# the same data, listed by its --numbers, are evidence too: committed code applied to the
# committed data, as the notebook does.
derived = {}
if data_files and not bad_data and os.path.exists(TABLE_TOOL):
    r = subprocess.run([sys.executable, TABLE_TOOL, "--numbers", "--data", DATA],
                       capture_output=True, text=True)
    try:
        derived = json.loads(r.stdout) if r.returncode == 0 else None
    except ValueError:
        derived = None
    if derived is None:
        bad_data.append("update-memo-table.py --numbers failed: " + (r.stdout + r.stderr)[-300:])
    else:
        collect(derived)
if not data_files:
    fail("evidence: no docs/evidence/data/*.json: the memo's numbers cannot be checked")
elif bad_data:
    fail("evidence: unreadable data files", bad_data)
else:
    ok("evidence: %d data files, %d numbers (%d of them derived by update-memo-table.py --numbers)"
       % (len(data_files), len(evidence), len(derived)))

# Rule (numbers): a number is a run of digits (with "," thousands separators, a decimal
# part, an exponent, and an optional "%" or "x" suffix) that is not part of a name: not
# next to a letter, "_", "/", "-" or "." (so sha256, p99, v2, HTTP/1.1, x86-64 are names,
# not quantities). Inline code spans and link targets are names and commands, not claims,
# and are skipped. A number is in the evidence when some value of the data, rounded to as
# many decimals as the memo writes, equals it (a percentage may also be a fraction of 1
# times 100); exponent forms must match exactly. Otherwise it must be a whitelisted
# threshold.
NUM = re.compile(r"(?<![A-Za-z0-9_./\-])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?([eE][-+]?\d+)?(%|x|×)?(?![A-Za-z0-9_/]|\.\d)")


def in_evidence(intpart, frac, exp, suffix):
    text = intpart.replace(",", "") + (frac or "") + (exp or "")
    x = decimal.Decimal(text)
    if exp:
        return any(abs(v - x) <= abs(x) * decimal.Decimal("1e-12") for v in evidence)
    places = len(frac) - 1 if frac else 0
    q = decimal.Decimal(1).scaleb(-places)
    cands = [abs(v) for v in evidence]
    if suffix == "%":
        cands += [abs(v) * 100 for v in evidence if abs(v) <= 1]
    for v in cands:
        for mode in (decimal.ROUND_HALF_UP, decimal.ROUND_HALF_EVEN):
            if v.quantize(q, rounding=mode) == x:
                return True
    return False


if memo is not None and data_files and not bad_data:
    text = memo
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    missing, seen = [], 0
    for m in NUM.finditer(text):
        seen += 1
        token = m.group(0)
        plain = token.rstrip("%x×")
        if plain in THRESHOLDS or in_evidence(*m.groups()):
            continue
        line = text.count("\n", 0, m.start()) + 1
        missing.append("%s (line %d of the memo, comments and code removed)" % (token, line))
    if seen and not missing:
        ok("memo: all %d numbers are in docs/evidence/data or are whitelisted thresholds" % seen)
    elif not seen:
        fail("memo: no number at all: the memo must quote the evidence")
    else:
        fail("memo: numbers not found in docs/evidence/data/*.json (nor whitelisted thresholds)",
             missing[:30])

# ---- recommendation.json -------------------------------------------------------------------
record = None
if record_text is not None:
    try:
        record = json.loads(record_text)
        ok("recommendation.json parses")
    except ValueError as e:
        fail("recommendation.json does not parse: %s" % e)


def nonempty_str(v):
    return isinstance(v, str) and v.strip() != ""


if isinstance(record, dict):
    problems = []
    if record.get("module") != 7:
        problems.append("module must be 7")
    for k in ("decision", "artifact"):
        if not nonempty_str(record.get(k)):
            problems.append("%s must be a non-empty string" % k)
    alts = record.get("alternatives")
    names = []
    if not isinstance(alts, list) or not 2 <= len(alts) <= 3:
        problems.append("alternatives must be a list of 2 or 3 (A, B, optionally C)")
        alts = []
    for i, a in enumerate(alts):
        if not isinstance(a, dict):
            problems.append("alternatives[%d] is not an object" % i)
            continue
        for k in ("name", "strength", "risk", "evidence"):
            if not nonempty_str(a.get(k)):
                problems.append("alternatives[%d].%s must be a non-empty string" % (i, k))
        names.append(a.get("name") if nonempty_str(a.get("name")) else "")
    letters = [re.match(r"\s*([A-Z])\b", n).group(1) if re.match(r"\s*([A-Z])\b", n) else "?"
               for n in names]
    if letters[:2] != ["A", "B"] or (len(letters) == 3 and letters[2] != "C"):
        problems.append("alternative names must start with A, B (and C), in order: %s" % names)
    rec = record.get("recommendation")
    if not isinstance(rec, dict):
        problems.append("recommendation must be an object")
        rec = {}
    for k in ("recommended_option", "monitoring_metric", "rollback_trigger"):
        if not nonempty_str(rec.get(k)):
            problems.append("recommendation.%s must be a non-empty string" % k)
    mev = rec.get("minimum_evidence_before_pilot")
    if not isinstance(mev, list) or not mev or not all(nonempty_str(x) for x in mev):
        problems.append("recommendation.minimum_evidence_before_pilot must be a non-empty list of strings")
    if problems:
        fail("recommendation.json: fields", problems)
    else:
        ok("recommendation.json: every required field (module 7, %d alternatives)" % len(alts))

    if memo is not None and not problems:
        nmemo = normalize(memo)
        # Rule: the memo's Recommendation section names its choice once, as
        # "Recommended option: X" (X the option's letter); the record's recommended_option
        # must be that alternative (its letter, or its full name).
        m = re.search(r"^##\s+Recommendation\s*$(.*?)(?=^##\s|\Z)", memo, re.M | re.S)
        picks = re.findall(r"Recommended option:\s*\**\s*([A-C])\b", m.group(1)) if m else []
        everywhere = re.findall(r"Recommended option:", memo)
        opt = rec["recommended_option"].strip()
        opt_letter = re.match(r"([A-Z])\b", opt)
        if len(picks) == 1 and len(everywhere) == 1 and opt_letter and opt_letter.group(1) == picks[0] \
                and (opt == picks[0] or opt in names):
            ok("recommended option %s is the one the memo's Recommendation section names" % picks[0])
        else:
            fail("recommended_option %r vs the memo's Recommendation section (%s)"
                 % (opt, "names %s" % picks if picks else "no 'Recommended option: X' line"))
        for k in ("monitoring_metric", "rollback_trigger"):
            if normalize(rec[k]) in nmemo:
                ok("recommendation.%s is in the memo" % k)
            else:
                fail("recommendation.%s %r does not appear in the memo" % (k, rec[k]))
        absent = [n for n in names if normalize(n) not in nmemo]
        if not absent:
            ok("every alternative name appears in the memo")
        else:
            fail("alternative names not in the memo", absent)

# ---- deployment.md against the code --------------------------------------------------------
smoke_c = read(os.path.join(top, "src", "smoke.c"))
ctl_c = read(os.path.join(top, "src", "ctl.c"))
if deploy is not None and smoke_c is not None:
    m = re.search(r"trigger_names\s*\[[^\]]*\]\s*=\s*\{(.*?)\}", smoke_c, re.S)
    triggers = re.findall(r'"([a-z0-9_]+)"', m.group(1)) if m else []
    if not triggers:
        fail("src/smoke.c: no trigger_names table found (the check needs updating)")
    else:
        absent = [t for t in triggers if t not in deploy]
        if absent:
            fail("deployment.md does not mention smoke triggers", absent)
        else:
            ok("deployment.md mentions every smoke trigger: " + ", ".join(triggers))

if deploy is not None and ctl_c is not None:
    m = re.search(r'usage_text\[\]\s*=\s*((?:\s*"(?:[^"\\]|\\.)*")+)\s*;', ctl_c)
    usage = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1))) if m else ""
    usage = usage.replace("\\n", "\n").replace('\\"', '"')
    cm = re.search(r"Commands:\n(.*?)\n\n", usage, re.S)
    wanted = []
    # Rule: each command word (a line "  word ..." of the Commands block) must appear as
    # "inferctl word". A command's form also needs "word option" (brackets allowed), with
    # the form's first option, when the line has exactly one option ("rollback [--clear]")
    # or when the command has several lines, one per form ("fingerprint [--json]",
    # "fingerprint --diff A B").
    forms = []
    for line in (cm.group(1).splitlines() if cm else []):
        lm = re.match(r"^  ([a-z][a-z-]*)(.*)$", line)
        if lm:
            head = re.sub(r"\s{2,}.*$", "", lm.group(2))
            forms.append((lm.group(1), re.findall(r"--[a-z][a-z-]*", head)))
    for word in sorted(set(w for w, _ in forms)):
        wanted.append(("inferctl " + word,
                       re.compile(r"inferctl\s+(--?\S+\s+\S+\s+)*" + re.escape(word) + r"\b")))
    for word, opts in forms:
        several = sum(1 for w, _ in forms if w == word) > 1
        if opts and (len(opts) == 1 or several):
            wanted.append((word + " " + opts[0],
                           re.compile(re.escape(word) + r"\s+\[?" + re.escape(opts[0]) + r"\b")))
    if not wanted:
        fail("src/ctl.c: no Commands block in usage_text (the check needs updating)")
    else:
        absent = [w for w, rx in wanted if not rx.search(deploy)]
        if absent:
            fail("deployment.md does not mention inferctl commands", absent)
        else:
            ok("deployment.md mentions every inferctl command: "
               + ", ".join(sorted(set(w for w, _ in wanted))))

print("%d passed, %d failed" % (passed, failed))
sys.exit(0 if failed == 0 and passed > 0 else 1)
EOF
