#!/bin/sh
# check-yaml.sh: every YAML file under containers/ and docs/openapi.yaml parses, without duplicate keys.
#
# Kubernetes and KServe manifests (containers/**/*.yaml) must also be mappings with
# apiVersion, kind and metadata.name in every document; docs/openapi.yaml must name its
# OpenAPI version and have paths. Uses Debian's python3 with python3-yaml; exits 77 when
# that is missing.

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

result(len(sys.argv) > 3, "found manifests under containers/ (%d files)" % (len(sys.argv) - 3))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
