#!/bin/sh
# golden-tool.sh: tools/inferd-golden end to end. XGBoost trains small models (binary with
# early stopping, multiclass, regression; JSON and UBJ saves), the tool writes their golden
# sets from a CSV, the files are checked against XGBoost directly, inferd --check-config
# accepts each model with its golden set, and refuses it once one golden value is moved by
# one float32 ulp under tolerance 0.

# shellcheck source=lib.sh
. "${top_srcdir:?run through make check}/tests/lib.sh"

PY=${PYTHON3:-/usr/bin/python3}
TOOL=$top_srcdir/tools/inferd-golden
command -v "$PY" >/dev/null 2>&1 || t_skip "python3 is not installed"
"$PY" -c 'import numpy, xgboost' 2>/dev/null ||
	t_skip "$PY cannot import xgboost and numpy (python3-xgboost, python3-numpy)"
[ -x "$T_INFERD" ] || { echo "FAIL $T_INFERD is not built"; exit 1; }
# XGBClassifier (the binary model, predict_proba, label) needs scikit-learn.
HAVE_SKLEARN=yes
"$PY" -c 'import sklearn' 2>/dev/null || HAVE_SKLEARN=no

t_setup
D=$T_DIR

# Trains the models and writes the CSV: 4 features, a header line, missing fields spelled
# three ways. XGBoost, not inferd, is the reference for everything below.
if ! "$PY" - "$D" "$HAVE_SKLEARN" <<'EOF'; then
import os, sys
import numpy as np
import xgboost as xgb

d, have_sklearn = sys.argv[1], sys.argv[2] == "yes"
rng = np.random.default_rng(7)
x = rng.normal(size=(300, 4)).astype(np.float32)
x[rng.random(x.shape) < 0.1] = np.nan
s = np.nan_to_num(x[:, 0]) + 0.5 * np.nan_to_num(x[:, 1])
y_bin = (s > 0).astype(int)
y_multi = np.digitize(s, [-0.5, 0.5])
y_reg = 2 * s + np.nan_to_num(x[:, 2])
p = {"max_depth": 3, "eta": 0.3, "tree_method": "hist"}

def save(name, booster_or_clf):
    os.makedirs(os.path.join(d, name), exist_ok=True)
    for ext in ("json", "ubj"):
        booster_or_clf.save_model(os.path.join(d, name, "model." + ext))

if have_sklearn:
    clf = xgb.XGBClassifier(n_estimators=60, max_depth=3, learning_rate=0.3,
                            early_stopping_rounds=3, tree_method="hist")
    clf.fit(x[:200], y_bin[:200], eval_set=[(x[200:], y_bin[200:])], verbose=False)
    assert clf.best_iteration + 1 < clf.get_booster().num_boosted_rounds()
    save("binary", clf)
dm = xgb.DMatrix(x, label=y_multi)
save("multi", xgb.train(dict(p, objective="multi:softprob", num_class=3), dm, 8))
dm = xgb.DMatrix(x, label=y_reg)
save("reg", xgb.train(dict(p, objective="reg:squarederror"), dm, 10))

with open(os.path.join(d, "rows.csv"), "w") as f:
    f.write("a,b,c,d\n")
    for i, row in enumerate(x[:40]):
        fields = []
        for v in row:
            if np.isnan(v):
                fields.append(("", "NA", "nan")[i % 3])
            else:
                fields.append(repr(float(v)))
        f.write(",".join(fields) + "\n")
EOF
	echo "FAIL XGBoost could not train the models"
	exit 1
fi

# check_goldens: for each line "GOLDEN MODEL TREES KEY..." of $D/cases, the file has
# exactly the shapes XGBoost gives for the CSV rows (loaded here independently, as
# float32), every value equal to XGBoost's, the keys named (plus predict and margin) and
# no other outputs. Prints "ok GOLDEN" or "FAIL GOLDEN: why" per line. One Python run for
# all (importing xgboost is the slow part).
check_goldens() {
	"$PY" - "$D/cases" "$D/rows.csv" <<'EOF'
import json, math, sys
import numpy as np
import xgboost as xgb

cases, csv = sys.argv[1], sys.argv[2]
lines = open(csv).read().split("\n")[1:]
rows = [[math.nan if v in ("", "NA", "nan") else float(v) for v in l.split(",")]
        for l in lines if l]
x = np.array(rows, dtype=np.float32)

def check(path, model, trees, keys):
    g = json.load(open(path))
    b = xgb.Booster()
    b.load_model(model)
    rng = (0, b.num_boosted_rounds()) if trees == "all" else (0, int(b.attr("best_iteration")) + 1)
    dm = xgb.DMatrix(x, missing=math.nan)
    want = {"predict": b.predict(dm, iteration_range=rng),
            "margin": b.predict(dm, output_margin=True, iteration_range=rng)}
    if "contribs" in keys:
        want["contribs"] = b.predict(dm, pred_contribs=True, iteration_range=rng)
    if "leaf" in keys:
        want["leaf"] = b.predict(dm, pred_leaf=True, iteration_range=rng)
    if "predict_proba" in keys or "label" in keys:
        c = xgb.XGBClassifier()
        c.load_model(model)
        want["predict_proba"] = c.predict_proba(x, iteration_range=rng)
        want["label"] = c.predict(x, iteration_range=rng)
        if want["predict_proba"].shape != (len(x), max(2, len(c.classes_))):
            return ["predict_proba is not [N][K]"]
    bad = []
    if g.get("trees") != trees or g.get("tolerance") != 0:
        bad.append(f"trees {g.get('trees')} tolerance {g.get('tolerance')}")
    got_in = np.array([[math.nan if v is None else v for v in r] for r in g["inputs"]])
    if got_in.shape != x.shape or not np.array_equal(got_in, x.astype(np.float64),
                                                     equal_nan=True):
        bad.append("inputs are not the CSV rows as float32")
    outs = {"predict", "margin", "predict_proba", "label", "contribs", "leaf"}
    present = {k for k in outs if k in g}
    expected = {"predict", "margin"} | set(keys)
    if present != expected:
        bad.append(f"outputs {sorted(present)}, expected {sorted(expected)}")
    for k in present & set(want):
        a = np.array(g[k], dtype=np.float64)
        w = np.asarray(want[k])
        if a.shape != w.shape:
            bad.append(f"{k}: shape {a.shape}, XGBoost gives {w.shape}")
        elif not np.array_equal(a, w.astype(np.float64), equal_nan=True):
            bad.append(f"{k}: values differ from XGBoost's")
        elif w.dtype == np.float32 and not np.array_equal(a.astype(np.float32), w,
                                                          equal_nan=True):
            bad.append(f"{k}: values do not read back as the same float32")
    return bad

for line in open(cases):
    path, model, trees, *keys = line.split()
    try:
        bad = check(path, model, trees, keys)
    except Exception as e:
        bad = [f"{type(e).__name__}: {e}"]
    print(f"ok {path}" if not bad else f"FAIL {path}: {'; '.join(bad)}")
EOF
}

# config NAME MODEL GOLDEN [TOLERANCE]: a config serving MODEL as NAME with GOLDEN.
config() {
	mkdir -p "$D/state"
	{
		echo "socket = { path = \"$D/inferd.sock\"; mode = \"0600\"; };"
		echo "server = { state_dir = \"$D/state\"; };"
		echo "models = ( {"
		echo "  name = \"$1\"; path = \"$2\"; version = 1; golden = \"$3\";"
		[ -n "$4" ] && echo "  tolerance = $4;"
		echo "} );"
	} >"$D/inferd.conf"
}

# inferd_check NAME MODEL GOLDEN [TOLERANCE]: inferd --check-config; status 0 = accepted.
# Its output is in $D/check.log.
inferd_check() {
	config "$@"
	# shellcheck disable=SC2086
	$INFERD_WRAPPER "$T_INFERD" --check-config --config "$D/inferd.conf" >"$D/check.log" 2>&1
}

# nudge IN OUT KEY: OUT is IN with KEY's first value moved away from zero by one float32
# ulp (the next float32 of larger magnitude), and "tolerance": 1e-3 (the config's must win).
nudge() {
	"$PY" - "$@" <<'EOF'
import json, struct, sys
src, dst, key = sys.argv[1:]

def up(v):
    bits = struct.unpack("<I", struct.pack("<f", v))[0]
    assert struct.unpack("<f", struct.pack("<I", bits))[0] == v, "not a float32"
    return struct.unpack("<f", struct.pack("<I", bits + 1))[0]

g = json.load(open(src))
a = g[key]
while isinstance(a[0], list):
    a = a[0]
a[0] = up(a[0])
g["tolerance"] = 1e-3
json.dump(g, open(dst, "w"))
EOF
}

# run_case NAME EXT TREES OUTPUTS: the tool, the file check, inferd accepting and refusing.
run_case() {
	_name=$1 _ext=$2 _trees=$3 _outputs=$4
	_model=$D/$_name/model.$_ext
	_golden=$D/$_name/golden-$_ext-$_trees.json
	_label="$_name ($_ext, trees $_trees${_outputs:+, $_outputs})"
	# shellcheck disable=SC2086
	if ! "$PY" "$TOOL" --trees "$_trees" ${_outputs:+--outputs "$_outputs"} \
		-o "$_golden" "$_model" "$D/rows.csv" 2>"$D/tool.err"; then
		t_fail "$_label: inferd-golden failed: $(cat "$D/tool.err")"
		return
	fi
	_keys=$(echo "$_outputs" | tr ',' ' ')
	[ "$_outputs" = all ] && _keys="predict_proba label contribs leaf"
	echo "$_golden $_model $_trees $_keys" >>"$D/cases"
	echo "$_golden $_label" >>"$D/labels"
	if [ "$_trees" = best ]; then
		# inferd uses every tree until the engine takes best_iteration (models-engine).
		return
	fi
	if ! inferd_check "$_name" "$_model" "$_golden" 0; then
		if [ "$_ext" = ubj ] && grep -qiE 'UBJSON|not supported' "$D/check.log"; then
			echo "skip $_label: this inferd refuses UBJSON models: $(head -n 3 "$D/check.log")"
			return
		fi
		t_fail "$_label: inferd --check-config refused it: $(cat "$D/check.log")"
		return
	fi
	t_pass "$_label: inferd accepts the model with its golden set at tolerance 0"
	if inferd_check "$_name" "$_model" "$_golden"; then
		t_pass "$_label: and with the tolerance unset (the file's 0)"
	else
		t_fail "$_label: refused with the file's tolerance: $(cat "$D/check.log")"
	fi
	for _key in predict margin; do
		nudge "$_golden" "$D/nudged.json" "$_key"
		if inferd_check "$_name" "$_model" "$D/nudged.json" 0; then
			t_fail "$_label: $_key moved by one float32 ulp passed at tolerance 0"
		elif grep -q "$_key\|output" "$D/check.log"; then
			t_pass "$_label: $_key moved by one ulp is refused at tolerance 0"
		else
			t_fail "$_label: refused, but not for the golden set: $(cat "$D/check.log")"
		fi
	done
	nudge "$_golden" "$D/nudged.json" predict
	if inferd_check "$_name" "$_model" "$D/nudged.json" 1e-6; then
		t_pass "$_label: one ulp passes at tolerance 1e-6"
	else
		t_fail "$_label: one ulp refused at 1e-6: $(cat "$D/check.log")"
	fi
}

for ext in json ubj; do
	run_case reg "$ext" all contribs,leaf
	run_case multi "$ext" all contribs,leaf
	[ "$HAVE_SKLEARN" = yes ] && run_case binary "$ext" all all
done
if [ "$HAVE_SKLEARN" = yes ]; then
	run_case binary json best predict_proba,label
else
	echo "skip binary (XGBClassifier, predict_proba, label): scikit-learn is not installed"
fi

# Every golden set the tool wrote, against XGBoost.
if [ -s "$D/cases" ]; then
	check_goldens >"$D/checked" 2>&1
	while read -r _golden _label; do
		if grep -qx "ok $_golden" "$D/checked"; then
			t_pass "$_label: golden set has XGBoost's shapes and values"
		else
			t_fail "$_label: $(grep -F "$_golden" "$D/checked" || cat "$D/checked")"
		fi
	done <"$D/labels"
fi

# The tool's refusals: each names what is wrong.
refused() { # refused WHAT ARGS...: the tool exits 1 and its message contains WHAT
	_what=$1
	shift
	if "$PY" "$TOOL" "$@" >/dev/null 2>"$D/tool.err"; then
		t_fail "inferd-golden $*: accepted"
	elif grep -q -- "$_what" "$D/tool.err"; then
		t_pass "inferd-golden refuses: $_what"
	else
		t_fail "inferd-golden $*: message $(cat "$D/tool.err") lacks $_what"
	fi
}
printf '1,2,3\n4,5,6\n' >"$D/narrow.csv"
printf '1,2,3,4\n4,x,6,7\n' >"$D/word.csv"
printf '1,2,3,4\n4,5,6\n' >"$D/ragged.csv"
refused "takes 4 features" "$D/reg/model.json" "$D/narrow.csv"
refused "neither a number" "$D/reg/model.json" "$D/word.csv"
refused "row 2 has 3 fields" "$D/reg/model.json" "$D/ragged.csv"
refused "--tolerance must be" --tolerance -1 "$D/reg/model.json" "$D/rows.csv"
refused "XGBClassifier" --outputs label "$D/reg/model.json" "$D/rows.csv"
refused "unknown output" --outputs shap "$D/reg/model.json" "$D/rows.csv"
# --missing adds a token; --header drops a first line even when it is numeric.
printf '9,9,9,9\n-999,1,2,3\n' >"$D/tok.csv"
if "$PY" "$TOOL" --header --missing -999 -o "$D/tok.json" "$D/reg/model.json" "$D/tok.csv" &&
	"$PY" -c 'import json,sys; g=json.load(open(sys.argv[1])); sys.exit(g["inputs"] != [[None, 1.0, 2.0, 3.0]])' "$D/tok.json"; then
	t_pass "--header and --missing"
else
	t_fail "--header and --missing"
fi

t_summary
