#!/usr/bin/python3
"""protocol_check.py: live responses of a running inferd against docs/openapi.yaml and the specs.

Usage: protocol_check.py SOCKET TCP_PORT OPENAPI HTTP_C MODEL CONFIG_DIR
Drives the daemon over its Unix socket and TCP listener, validates every JSON body against
the OpenAPI schema of its path and status (a small validator below: the keywords the
document uses, and an error on any other), and checks the Triton configuration and
statistics extensions, Content-Encoding, and the Prometheus exposition (parsed with
prometheus_client's parser). Prints ok/FAIL lines; exits 1 on any failure, 77 when a
capability is missing.
"""
import gzip
import http.client
import json
import os
import re
import socket
import sys
import time
import zlib

try:
    import yaml
except ImportError:
    print("SKIP: python3-yaml is not installed (needed to read docs/openapi.yaml)")
    sys.exit(77)
try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("SKIP: python3-prometheus-client is not installed (the exposition parser)")
    sys.exit(77)

SOCK, PORT, OPENAPI, HTTP_C, MODEL, CONF_DIR = sys.argv[1:7]
failed = 0
passed = 0
seen = set()  # (path template, method, status) exercised


def ok(cond, msg):
    global failed, passed
    if cond:
        passed += 1
        print("ok   " + msg)
    else:
        failed += 1
        print("FAIL " + msg)
    return cond


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.unix_path)


def request(method, path, body=None, headers=None, tcp=False):
    c = http.client.HTTPConnection("127.0.0.1", int(PORT), timeout=30) if tcp else UnixConn(SOCK)
    h = {"Content-Type": "application/json"} if body is not None else {}
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdrs, data


# --- a small OpenAPI 3.0 schema validator -----------------------------------------------
spec = yaml.safe_load(open(OPENAPI))
KNOWN = {"type", "required", "properties", "items", "enum", "$ref", "nullable", "minItems",
         "maxItems", "pattern", "minimum", "maximum", "additionalProperties", "description",
         "example", "format", "oneOf"}


def resolve(ref):
    node = spec
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def validate(inst, schema, where="$"):
    """Returns a list of error strings: inst against an OpenAPI schema object."""
    errs = []
    unknown = set(schema) - KNOWN
    if unknown:
        return ["%s: schema uses unsupported keywords %s" % (where, sorted(unknown))]
    if "$ref" in schema:
        return validate(inst, resolve(schema["$ref"]), where)
    if inst is None:
        return [] if schema.get("nullable") else ["%s: null not allowed" % where]
    if "oneOf" in schema:
        n = sum(1 for s in schema["oneOf"] if not validate(inst, s, where))
        return [] if n == 1 else ["%s: matches %d of oneOf" % (where, n)]
    t = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t in types and not isinstance(inst, types[t]):
        return ["%s: %r is not %s" % (where, inst, t)]
    if t == "integer" and (isinstance(inst, bool) or not isinstance(inst, int)):
        return ["%s: %r is not an integer" % (where, inst)]
    if t == "number" and (isinstance(inst, bool) or not isinstance(inst, (int, float))):
        return ["%s: %r is not a number" % (where, inst)]
    if "enum" in schema and inst not in schema["enum"]:
        errs.append("%s: %r not in %s" % (where, inst, schema["enum"]))
    if "pattern" in schema and isinstance(inst, str) and not re.search(schema["pattern"], inst):
        errs.append("%s: %r does not match %s" % (where, inst, schema["pattern"]))
    if "minimum" in schema and isinstance(inst, (int, float)) and inst < schema["minimum"]:
        errs.append("%s: %r < %r" % (where, inst, schema["minimum"]))
    if "maximum" in schema and isinstance(inst, (int, float)) and inst > schema["maximum"]:
        errs.append("%s: %r > %r" % (where, inst, schema["maximum"]))
    if isinstance(inst, dict):
        for k in schema.get("required", []):
            if k not in inst:
                errs.append("%s: missing required %r" % (where, k))
        props = schema.get("properties", {})
        for k, v in inst.items():
            if k in props:
                errs += validate(v, props[k], "%s.%s" % (where, k))
            elif schema.get("additionalProperties") is False:
                errs.append("%s: unexpected property %r" % (where, k))
            elif isinstance(schema.get("additionalProperties"), dict):
                errs += validate(v, schema["additionalProperties"], "%s.%s" % (where, k))
    if isinstance(inst, list):
        if "minItems" in schema and len(inst) < schema["minItems"]:
            errs.append("%s: fewer than %d items" % (where, schema["minItems"]))
        if "maxItems" in schema and len(inst) > schema["maxItems"]:
            errs.append("%s: more than %d items" % (where, schema["maxItems"]))
        if "items" in schema:
            for i, v in enumerate(inst):
                errs += validate(v, schema["items"], "%s[%d]" % (where, i))
    return errs


def template_of(path):
    """The openapi path template a concrete path falls under (literal segments first)."""
    segs = path.split("?")[0].rstrip("/").split("/") if path != "/v2/" else ["", "v2"]
    best = None
    for tmpl in spec["paths"]:
        ts = tmpl.split("/")
        if len(ts) != len(segs):
            continue
        if all(t == s or (t.startswith("{") and t.endswith("}")) for t, s in zip(ts, segs)):
            lits = sum(1 for t in ts if not t.startswith("{"))
            if best is None or lits > best[0]:
                best = (lits, tmpl)
    return best[1] if best else None


def check_spec(method, path, status, hdrs, data, json_part=None):
    """Validates a response against the document: path, method, status, media type, schema."""
    tmpl = template_of(path)
    m = method.lower() if method != "HEAD" else "get"
    if not ok(tmpl is not None and (m in spec["paths"][tmpl] or status == 405),
              "openapi documents %s %s (%s)" % (method, path, tmpl)):
        return
    if status == 405:
        # A method the path does not document: the Error answer (with Allow).
        ok("allow" in hdrs, "%s %s 405 carries Allow" % (method, tmpl))
        errs = validate(json.loads(data), spec["components"]["schemas"]["Error"])
        ok(not errs, "%s %s 405: body matches Error" % (method, tmpl))
        seen.add((tmpl, m, status))
        return
    op = spec["paths"][tmpl][m]
    resp = op["responses"].get(str(status))
    if not ok(resp is not None, "openapi lists status %d for %s %s" % (status, method, tmpl)):
        return
    seen.add((tmpl, m, status))
    if "$ref" in resp:
        resp = resolve(resp["$ref"])
    ctype = hdrs.get("content-type", "").split(";")[0]
    content = resp.get("content", {})
    if not ok(ctype in content or (ctype == "text/plain" and "text/plain" in content),
              "%s %s %d: content type %s documented" % (method, tmpl, status, ctype)):
        return
    if ctype == "application/json" or json_part is not None:
        body = json.loads(json_part if json_part is not None else data)
        schema = content.get("application/json", {}).get("schema", {})
        errs = validate(body, schema)
        ok(not errs, "%s %s %d: body matches the schema%s" % (method, tmpl, status,
                                                            (": " + "; ".join(errs[:3])) if errs else ""))


def call(method, path, body=None, headers=None, tcp=False, want=None):
    st, hdrs, data = request(method, path, body, headers, tcp)
    if "content-encoding" in hdrs and hdrs["content-encoding"] == "gzip":
        data = gzip.decompress(data)
    jp = None
    if "inference-header-content-length" in hdrs:
        jp = data[: int(hdrs["inference-header-content-length"])]
    check_spec(method, path, st, hdrs, data, jp)
    if want is not None:
        ok(st == want, "%s %s%s -> %d (want %d)" % (method, path, " over TCP" if tcp else "", st, want))
    return st, hdrs, data


NAME = "breast-cancer"
model = json.load(open(MODEL))
NF = int(model["learner"]["learner_model_param"]["num_feature"])

# --- /v2 and /v2/, extensions per listener ----------------------------------------------
_, _, a = call("GET", "/v2", want=200)
_, _, b = call("GET", "/v2/", want=200)
ok(a == b, "/v2/ answers as /v2")
ext_unix = json.loads(a)["extensions"]
_, _, t = call("GET", "/v2", tcp=True, want=200)
ext_tcp = json.loads(t)["extensions"]
for e in ("model_configuration", "statistics", "binary_tensor_data"):
    ok(e in ext_unix and e in ext_tcp, "extension %s listed on both listeners" % e)
for e, path in (("model_repository", "/v2/repository/index"), ("inferd_admin", "/v2/admin/state")):
    st_tcp = request("POST" if "index" in path else "GET", path, tcp=True)[0]
    st_unix = request("POST" if "index" in path else "GET", path)[0]
    ok(e in ext_unix and st_unix == 200, "%s listed on the Unix socket, where it answers 200" % e)
    ok(e not in ext_tcp and st_tcp == 403, "%s not listed over TCP, where it answers 403" % e)

# --- model list, config ----------------------------------------------------------------
_, _, d = call("GET", "/v2/models", want=200)
ok(json.loads(d) == {"models": [NAME]}, "GET /v2/models lists the served model")
for p in ("/v2/models/%s/config" % NAME, "/v2/models/%s/versions/1/config" % NAME):
    _, _, d = call("GET", p, want=200)
    cfg = json.loads(d)
    ok(cfg["name"] == NAME and cfg["platform"] == "xgboost_json" and cfg["backend"] == "inferd",
       "%s: name, platform, backend" % p)
    ok(cfg["max_batch_size"] == 4096, "%s: max_batch_size is limits.max_rows (4096)" % p)
    ok(cfg["input"] == [{"name": "input", "data_type": "TYPE_FP32", "format": "FORMAT_NONE",
                         "dims": [NF]}], "%s: input dims [%d] from the model file" % (p, NF))
    ok([o["name"] for o in cfg["output"]] == ["predict", "margin"] and
       all(o["data_type"] == "TYPE_FP32" and o["dims"] == [1] for o in cfg["output"]),
       "%s: outputs predict and margin, one FP32 value per row (binary:logistic)" % p)
    ok(cfg["version_policy"] == {"specific": {"versions": [1]}}, "%s: version policy" % p)
call("GET", "/v2/models/nope/config", want=404)
call("GET", "/v2/models/%s/versions/9/config" % NAME, want=404)
call("POST", "/v2/models/%s/config" % NAME, body=b"{}", want=405)

# --- infer (JSON, binary, gzip, deflate), then statistics ---------------------------------
rows = [[0.1 * (i + j) for j in range(NF)] for i in range(3)]
req = json.dumps({"inputs": [{"name": "input", "shape": [3, NF], "datatype": "FP32",
                              "data": rows}]}).encode()
t0 = time.time()
_, _, plain = call("POST", "/v2/models/%s/infer" % NAME, body=req, want=200)
_, _, gz = call("POST", "/v2/models/%s/infer" % NAME, body=gzip.compress(req),
                headers={"Content-Encoding": "gzip"}, want=200)
_, _, df = call("POST", "/v2/models/%s/infer" % NAME, body=zlib.compress(req),
                headers={"Content-Encoding": "deflate"}, want=200)
ok(json.loads(plain)["outputs"] == json.loads(gz)["outputs"] == json.loads(df)["outputs"],
   "gzip and deflate bodies predict as the plain one")
call("POST", "/v2/models/%s/infer" % NAME, body=req, headers={"Content-Encoding": "br"}, want=415)
call("POST", "/v2/models/%s/infer" % NAME, body=gzip.compress(req),
     headers={"Content-Encoding": "gzip, gzip"}, want=415)
call("GET", "/v2/health/live", headers={"Content-Encoding": "gzip"}, want=200)
call("GET", "/v2/health/live", headers={"Content-Encoding": "br"}, want=415)
call("POST", "/v2/models/%s/infer" % NAME, body=b"\x1f\x8bnot gzip at all",
     headers={"Content-Encoding": "gzip"}, want=400)
call("POST", "/v2/models/%s/infer" % NAME, body=gzip.compress(req)[:-12],
     headers={"Content-Encoding": "gzip"}, want=400)
# A bomb: 64 MiB of spaces in ~64 KiB of gzip, max_body_bytes 1 MiB: 413, memory bounded.
def rss():
    _, _, m = request("GET", "/metrics")
    for fam in text_string_to_metric_families(m.decode()):
        if fam.name == "process_resident_memory_bytes":
            return fam.samples[0].value
    return None
r0 = rss()
bomb = gzip.compress(b"[" + b" " * (64 << 20) + b"]", 9)
ok(len(bomb) < (1 << 20), "the bomb is %d bytes, under max_body_bytes" % len(bomb))
st, _, d = call("POST", "/v2/models/%s/infer" % NAME, body=bomb,
                headers={"Content-Encoding": "gzip"}, want=413)
ok(b"max_body_bytes" in d, "the 413 names max_body_bytes")
r1 = rss()
ok(r0 is not None and r1 is not None and r1 - r0 < 16 << 20,
   "the bomb grew the daemon by %.1f MiB (< 16 MiB)" % (((r1 or 0) - (r0 or 0)) / 1048576))
# Binary request and answer (the binary tensor data extension).
import struct
flat = [v for r in rows for v in r]
jh = json.dumps({"inputs": [{"name": "input", "shape": [3, NF], "datatype": "FP32",
                             "parameters": {"binary_data_size": 4 * len(flat)}}],
                 "outputs": [{"name": "predict", "parameters": {"binary_data": True}}]}).encode()
st, hdrs, d = call("POST", "/v2/models/%s/versions/1/infer" % NAME,
                   body=jh + struct.pack("<%df" % len(flat), *flat),
                   headers={"Inference-Header-Content-Length": str(len(jh)),
                            "Content-Type": "application/octet-stream"}, want=200)
n = int(hdrs.get("inference-header-content-length", "0"))
got = list(struct.unpack("<3f", d[n:n + 12])) if len(d) >= n + 12 else []
ok(got == [float(x) for x in struct.unpack("<3f", struct.pack("<3f", *json.loads(plain)["outputs"][0]["data"]))],
   "binary answer carries the same predictions")
bad = json.dumps({"inputs": [{"name": "input", "shape": [1, NF + 1], "datatype": "FP32",
                              "data": [0] * (NF + 1)}]}).encode()
call("POST", "/v2/models/%s/infer" % NAME, body=bad, want=400)
t1 = time.time()

for p in ("/v2/models/stats", "/v2/models/%s/stats" % NAME, "/v2/models/%s/versions/1/stats" % NAME):
    _, _, d = call("GET", p, want=200)
    ms = json.loads(d)["model_stats"]
    ok(len(ms) == 1 and ms[0]["name"] == NAME and ms[0]["version"] == "1", "%s: one model_stat" % p)
    s = ms[0]
    st_ = s["inference_stats"]
    # Successes: plain, gzip, deflate, binary = 4 requests of 3 rows; failures: 5 decode
    # errors, the bomb (413) and the wrong width (400) reached the model's route.
    ok(st_["success"]["count"] == 4, "%s: 4 successes (got %d)" % (p, st_["success"]["count"]))
    ok(s["inference_count"] == 12 and s["execution_count"] == 4,
       "%s: inference_count 12 rows, execution_count 4" % p)
    ok(st_["fail"]["count"] == 6, "%s: 6 failures (got %d)" % (p, st_["fail"]["count"]))
    ok(all(st_[k]["count"] == 4 and st_[k]["ns"] > 0 for k in ("compute_input", "compute_infer", "compute_output")),
       "%s: compute_input/infer/output counted with durations" % p)
    ok(st_["success"]["ns"] >= st_["compute_input"]["ns"] + st_["compute_infer"]["ns"] + st_["compute_output"]["ns"],
       "%s: success time covers the compute phases" % p)
    ok(t0 * 1000 - 1000 <= s["last_inference"] <= t1 * 1000 + 1000, "%s: last_inference is ms since the epoch" % p)
call("GET", "/v2/models/nope/stats", want=404)
call("GET", "/v2/models/%s/versions/9/stats" % NAME, want=404)

# --- the other endpoints, for the schema -----------------------------------------------
for p in ("/v2/health/live", "/v2/health/ready", "/v2/models/%s" % NAME,
          "/v2/models/%s/versions/1" % NAME, "/v2/models/%s/ready" % NAME,
          "/v2/models/%s/versions/1/ready" % NAME, "/v2/admin/state", "/v2/admin/fingerprint"):
    call("GET", p, want=200)
call("GET", "/v2/models/nope", want=404)
call("POST", "/v2/repository/index", body=b"{}", want=200)
call("POST", "/v2/repository/index", body=b"[", want=400)
call("POST", "/v2/repository/models/%s/load" % NAME, body=b"", want=200)
call("POST", "/v2/repository/models/nope/load", body=b"", want=404)
call("POST", "/v2/admin/mark-good", body=b"{\"models\": 1}", want=400)
st, _, d = call("GET", "/v2/admin/state", want=200)
serving = json.loads(d)["serving"]
call("POST", "/v2/admin/mark-good", body=json.dumps({"models": serving}).encode(), want=200)
call("POST", "/v2/admin/rollback", body=b"", want=200)
call("DELETE", "/v2/admin/rollback", want=200)
call("GET", "/v2/models/%s/infer" % NAME, want=405)

# --- Accept-Encoding ---------------------------------------------------------------------
st, h, d = request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
ok(h.get("content-encoding") == "gzip" and gzip.decompress(d).startswith(b"# HELP"),
   "a large answer is gzip-encoded for Accept-Encoding: gzip")
st, h, d = request("GET", "/metrics", headers={"Accept-Encoding": "gzip;q=0, identity"})
ok("content-encoding" not in h and d.startswith(b"# HELP"), "gzip;q=0 gets identity")
st, h, d = request("GET", "/v2/health/live", headers={"Accept-Encoding": "gzip"})
ok("content-encoding" not in h and json.loads(d) == {"live": True}, "a small answer is not encoded")

# --- reloads and refusals, then the exposition -------------------------------------------
st, _, d = call("POST", "/v2/admin/reload", body=b"", want=200)
conf = os.path.join(CONF_DIR, "inferd.conf")
text = open(conf).read()
bad_model = os.path.join(CONF_DIR, "bad.json")
open(bad_model, "w").write("{\"not\": \"a model\"}")
open(conf, "w").write(text.replace("models = (", "models = ( { name = \"%s\"; path = \"%s\"; version = 2; },"
                                   % (NAME, bad_model)))
st, _, d = call("POST", "/v2/admin/reload", body=b"")
ok(st >= 400, "a reload with a broken model is refused (%d)" % st)
open(conf, "w").write(text)

_, h, m = call("GET", "/metrics", want=200)
fams = {}
try:
    for fam in text_string_to_metric_families(m.decode()):
        fams[fam.name] = fam
    ok(True, "the exposition parses (prometheus_client)")
except Exception as e:  # noqa
    ok(False, "the exposition parses: %s" % e)


def value(name, **labels):
    for fam in fams.values():
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


for n in ("process_cpu_seconds_total", "process_start_time_seconds", "process_resident_memory_bytes",
          "process_open_fds", "process_max_fds"):
    ok(value(n) is not None and value(n) >= 0, "%s present" % n)
ok(abs(value("process_start_time_seconds") - time.time()) < 3600, "process_start_time_seconds is recent")
ok(value("process_open_fds") < value("process_max_fds"), "open fds under max fds")
ok(value("inferd_requests_total", endpoint="infer", code="415") == 2, "415 counted as itself")
ok(value("inferd_model_requests_total", model=NAME, version="1", result="success") == 4,
   "inferd_model_requests_total by model and version")
ok(value("inferd_model_rows_total", model=NAME, version="1") == 12, "inferd_model_rows_total 12")
ok(value("inferd_model_request_duration_seconds_count", model=NAME, version="1") == 10,
   "per-model latency histogram counts every infer request")
les = [float(s.labels["le"]) for s in fams["inferd_request_duration_seconds"].samples
       if s.name.endswith("_bucket") and s.labels.get("endpoint") == "infer"]
ok(10.0 in les and max(x for x in les if x != float("inf")) >= 3600,
   "latency buckets reach request_timeout (10 s here, 3600 s at most)")
# POST /v2/admin/reload, and DELETE /v2/admin/rollback (which reloads), then the broken one.
ok(value("inferd_reloads_total", result="success") == 2 and value("inferd_reloads_total", result="failure") == 1,
   "inferd_reloads_total by result (2 success, 1 failure)")
ok(value("inferd_config_last_reload_successful") == 0, "last reload failed: gauge 0")
ok(value("inferd_rollbacks_total") == 1, "inferd_rollbacks_total 1")
ok(value("inferd_model_refused", model=NAME, version="2") == 1, "inferd_model_refused names the refused version")
labels = set()
for fam in fams.values():
    for s in fam.samples:
        if "model" in s.labels:
            labels.add(s.labels["model"])
ok(labels <= {NAME}, "model labels only for configured models (%s)" % sorted(labels))

call("POST", "/v2/repository/models/%s/unload" % NAME, body=b"", want=200)
call("GET", "/v2/models/%s" % NAME, want=404)
call("POST", "/v2/repository/models/%s/unload" % NAME, body=b"", want=404)
call("POST", "/v2/repository/models/%s/load" % NAME, body=b"", want=200)
call("GET", "/v2/models/%s/ready" % NAME, want=200)

# --- coverage: every route of http.c is in the document, and was exercised ---------------
routes = re.findall(r'\.pattern = "([^"]+)"', open(HTTP_C).read())
for r in routes:
    if r.endswith("/**"):
        continue
    ok(r in spec["paths"], "route %s is documented in openapi.yaml" % r)
    ok(any(s[0] == r for s in seen), "route %s was exercised against the document" % r)

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
