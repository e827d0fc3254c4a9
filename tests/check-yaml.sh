#!/bin/sh
# check-yaml.sh: every YAML file under containers/ and docs/openapi.yaml parses, without duplicate keys.
#
# Kubernetes and KServe manifests (containers/**/*.yaml) must also be mappings with
# apiVersion, kind and metadata.name in every document, and every field they use must be
# in tests/k8s-schema.yaml (written from the Kubernetes and KServe API references) with
# the type it has there; docs/openapi.yaml must name its OpenAPI version and have paths.
# The KServe ServingRuntime must also keep the contract docs/container.md describes.
# Uses Debian's python3 with python3-yaml; exits 77 when that is missing.

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
PY=/usr/bin/python3

if ! [ -x "$PY" ] || ! "$PY" -c 'import yaml' 2>/dev/null; then
	echo "SKIP: $PY with the yaml module is needed (apt-get install python3-yaml)"
	exit 77
fi

files=$(find "$top_srcdir/containers" -type f \( -name '*.yaml' -o -name '*.yml' \) 2>/dev/null | LC_ALL=C sort)
exec "$PY" - "$top_srcdir" "$top_srcdir/docs/openapi.yaml" $files <<'EOF'
import sys
import yaml


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, "duplicate key %r" % (key,), key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)

top = sys.argv[1].rstrip("/") + "/"
passed = failed = 0
with open(top + "tests/k8s-schema.yaml", encoding="utf-8") as f:
    schema = yaml.load(f, Loader=StrictLoader)
TYPES, KINDS = schema["types"], schema["kinds"]


def check_type(v, t, where, errs):
    """Appends to errs where v is not of schema type t (a name, a string form, or a mapping)."""
    if isinstance(t, dict):
        if not isinstance(v, dict):
            errs.append("%s: %r is not a mapping" % (where, v))
            return
        for k, sub in v.items():
            if k not in t:
                errs.append("%s.%s: not a field of this object in the API reference" % (where, k))
            else:
                check_type(sub, t[k], "%s.%s" % (where, k), errs)
        return
    if t.startswith("[") and t.endswith("]"):
        if not isinstance(v, list):
            errs.append("%s: %r is not a list" % (where, v))
            return
        for i, item in enumerate(v):
            check_type(item, t[1:-1], "%s[%d]" % (where, i), errs)
        return
    if t.startswith("enum:"):
        if v not in t[5:].split("|"):
            errs.append("%s: %r is not one of %s" % (where, v, t[5:]))
        return
    simple = {
        "string": lambda x: isinstance(x, str),
        "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
        "boolean": lambda x: isinstance(x, bool),
        "int-or-string": lambda x: isinstance(x, (int, str)) and not isinstance(x, bool),
        "quantity": lambda x: (isinstance(x, (int, float, str)) and not isinstance(x, bool)),
        "map": lambda x: isinstance(x, dict) and all(isinstance(k, str) and isinstance(w, str) for k, w in x.items()),
    }
    if t in simple:
        if not simple[t](v):
            errs.append("%s: %r is not %s" % (where, v, t))
        return
    check_type(v, TYPES[t], where, errs)


def check_manifest(name, d):
    key = "%s/%s" % (d.get("apiVersion"), d.get("kind"))
    if key not in KINDS:
        result(False, "%s: %s is not a kind tests/k8s-schema.yaml knows" % (name, key))
        return
    errs = []
    body = {k: v for k, v in d.items() if k not in ("apiVersion", "kind")}
    check_type(body, KINDS[key], d["kind"], errs)
    result(not errs, "%s: %s/%s: every field and type is in the API reference%s" % (
        name, d["kind"], d["metadata"]["name"], (": " + "; ".join(errs[:4])) if errs else ""))
    if d["kind"] == "ServingRuntime":
        spec = d["spec"]
        c = spec["containers"][0]
        fmts = sorted(m.get("version") for m in spec.get("supportedModelFormats", []) if m.get("name") == "xgboost")
        result(fmts == ["1", "2"], "%s: xgboost versions \"1\" and \"2\" declared (%s)" % (name, fmts))
        result("annotations" in spec and "annotations" not in d["metadata"],
               "%s: pod annotations in spec.annotations (ServingRuntimePodSpec)" % name)
        argv = c.get("command", []) + c.get("args", [])
        result(not any("sh" == a.split("/")[-1] for a in argv) and "--model-dir=/mnt/models" in argv
               and any(a.startswith("--model-name=") for a in argv),
               "%s: runs inferd with --model-name/--model-dir, no shell" % name)
        rp = c.get("readinessProbe", {}).get("httpGet", {})
        lp = c.get("livenessProbe", {}).get("httpGet", {})
        port = c["ports"][0]["containerPort"]
        result(rp.get("path") == "/v2/health/ready" and rp.get("port", port) == port
               and "periodSeconds" not in c.get("readinessProbe", {}) and "startupProbe" not in c,
               "%s: readiness probe as Knative runs it (container port, aggressive period)" % name)
        result(lp.get("path") == "/v2/health/live" and lp.get("port") == port,
               "%s: liveness probe on the container port" % name)


def result(ok, msg):
    global passed, failed
    if ok:
        passed += 1
        print("ok   " + msg)
    else:
        failed += 1
        print("FAIL " + msg)


for path in sys.argv[2:]:
    name = path[len(top):] if path.startswith(top) else path
    try:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.load_all(f, Loader=StrictLoader) if d is not None]
    except (OSError, yaml.YAMLError) as e:
        result(False, "%s: %s" % (name, str(e).replace("\n", " ")))
        continue
    result(len(docs) > 0, "%s parses (%d document%s)" % (name, len(docs), "" if len(docs) == 1 else "s"))
    if name == "docs/openapi.yaml":
        d = docs[0] if docs else {}
        result(isinstance(d, dict) and str(d.get("openapi", "")).startswith("3.")
               and isinstance(d.get("paths"), dict) and len(d["paths"]) > 0,
               "%s: an OpenAPI 3 document with paths" % name)
        continue
    for i, d in enumerate(docs):
        meta = d.get("metadata") if isinstance(d, dict) else None
        ok = (isinstance(d, dict) and isinstance(d.get("apiVersion"), str) and isinstance(d.get("kind"), str)
              and isinstance(meta, dict) and isinstance(meta.get("name"), str) and meta["name"] != "")
        what = "%s/%s" % (d.get("kind"), meta.get("name")) if ok else "document %d" % (i + 1)
        result(ok, "%s: %s has apiVersion, kind and metadata.name" % (name, what))
        if ok:
            check_manifest(name, d)

result(len(sys.argv) > 3, "found manifests under containers/ (%d files)" % (len(sys.argv) - 3))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
