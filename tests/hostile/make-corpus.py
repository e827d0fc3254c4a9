#!/usr/bin/python3
# make-corpus.py: writes the hostile request corpus (one file of exact bytes per request) and
# expect.tsv. The files are committed; run this only to change the corpus, then review.
#
# The test's daemon has limits.max_body_bytes = 65536 and connection_timeout = 2.
#
# expect.tsv columns: file, expectation, substring.
#   NNN            exactly that status, with a JSON body {"error": "..."} holding substring
#   4xx            any 4xx status, with a JSON error body holding substring
#   200            success; the body holds substring
#   close          the server closes the connection at once (well before its idle timeout)
#                  after at most one response, a 4xx (or 505 for an unsupported HTTP
#                  version, 501 for an unimplemented transfer coding): nothing after the
#                  bad framing is read as another request
#   close-any      as close, but the one response may have any status below 500
#   timeout        the server closes the connection by its timeout (a request that never
#                  completes), after no response or one 4xx
#   close:NNN      as close, with exactly one response: status NNN and a JSON error body
#                  holding substring (strict framing: answered, then closed)
#   A|B            either A or B
#   pipe:S1,S2     pipelined: responses in this order, the i-th body holding the i-th
#                  '|'-separated part of substring
import os

HERE = os.path.dirname(os.path.abspath(__file__))
M = "/v2/models/breast-cancer"
ROW = ("17.99, 10.38, 122.8, 1001, 0.1184, 0.2776, 0.3001, 0.1471, 0.2419, 0.07871, 1.095, "
       "0.9053, 8.589, 153.4, 0.006399, 0.04904, 0.05373, 0.01587, 0.03003, 0.006193, 25.38, "
       "17.33, 184.6, 2019, 0.1622, 0.6656, 0.7119, 0.2654, 0.4601, 0.1189")
assert len(ROW.split(",")) == 30
GOOD = '{"id": "h", "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 30], ' \
       '"data": [' + ROW + ']}]}'

entries = []


def add(name, raw, expect, sub="-", known=None):
    """known: why the daemon is known not to meet expect yet (a 4th column; the test
    prints it, and fails if the request starts passing, so the marker is removed)."""
    if isinstance(raw, str):
        raw = raw.encode("latin-1")
    entries.append((name, raw, expect, sub, known))


def post(path, body, extra=b"", ctype=b"application/json", close=True):
    if isinstance(body, str):
        body = body.encode("latin-1")
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\n" +
            (b"Connection: close\r\n" if close else b"") + b"Content-Type: " + ctype +
            b"\r\n" + extra + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" +
            body)


def get(path, extra=b"", method=b"GET"):
    if isinstance(path, str):
        path = path.encode("latin-1")
    return (method + b" " + path + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" +
            extra + b"\r\n")


def infer(body, **kw):
    return post(M + "/infer", body, **kw)


def tensor(shape, data, datatype="FP32", extra=""):
    return ('{"inputs": [{"name": "input", "datatype": "%s", "shape": %s, "data": %s}]%s}' %
            (datatype, shape, data, extra))


def chunked(chunks, path=M + "/infer"):
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)


def chunks_of(body, size):
    body = body.encode()
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


G = GOOD.encode()
NOID = GOOD.replace('"id": "h", ', "")
assert NOID != GOOD
SMUGGLED = b"GET /v2/models/smuggled/ready HTTP/1.1\r\nHost: localhost\r\n\r\n"
HDR = "POST " + M + "/infer HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"

# --- truncated bodies, wrong or absent Content-Length ---
add("001-body-truncated.http", (HDR + "Content-Length: %d\r\n\r\n" % len(G)).encode() + G[:100],
    "timeout")
add("002-body-longer-than-length.http",
    (HDR + "Content-Length: 10\r\n\r\n").encode() + G, "400", "line 1")
add("003-body-without-length.http", (HDR + "Connection: close\r\n\r\n").encode() + G,
    "400", "end of file")
add("004-length-negative.http", (HDR + "Content-Length: -5\r\n\r\n{}").encode(), "close")
add("005-length-not-a-number.http", (HDR + "Content-Length: abc\r\n\r\n{}").encode(), "close")
add("006-length-conflicting-twice.http",
    (HDR + "Content-Length: 0\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED)).encode() +
    SMUGGLED, "close")
add("007-length-overflows-64-bits.http",
    (HDR + "Content-Length: 99999999999999999999999\r\n\r\n{}").encode(), "413|close")
add("008-length-over-max-body.http",
    (HDR + "Content-Length: 99999999999\r\n\r\n{}").encode(), "413", "max_body_bytes")
add("009-length-zero.http", infer(""), "400", "end of file")
add("010-length-with-plus-sign.http",
    (HDR + "Content-Length: +%d\r\n\r\n" % len(G)).encode() + G, "close")
add("011-length-and-chunked.http",
    (HDR + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    .encode() + chunks_of(GOOD, 64), "200|400|close", "predict")
add("012-length-and-chunked-smuggle.http",
    (HDR + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n").encode() +
    b"0\r\n\r\n" + SMUGGLED, "close-any")
add("013-length-twice-same.http",
    (HDR + "Content-Length: %d\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" %
     (len(G), len(G))).encode() + G, "200|400|close", '"predict"')

# --- chunked bodies ---
add("020-chunked-valid-infer.http", chunked(chunks_of(GOOD, 37)), "200", '"predict"')
add("021-chunked-one-byte-chunks.http", chunked(chunks_of(GOOD, 1)), "200", '"predict"')
add("022-chunked-with-extension.http",
    chunked(b"%x;name=value\r\n" % len(G) + G + b"\r\n0\r\n\r\n"), "200", '"predict"')
add("023-chunked-size-not-hex.http", chunked(b"zz\r\n" + G + b"\r\n0\r\n\r\n"), "close")
add("024-chunked-size-negative.http", chunked(b"-1\r\n" + G + b"\r\n0\r\n\r\n"), "close")
add("025-chunked-size-overflows.http",
    chunked(b"ffffffffffffffffffffffff\r\n" + G + b"\r\n0\r\n\r\n"), "413|close")
add("026-chunked-size-too-small.http",
    chunked(b"5\r\n" + G + b"\r\n0\r\n\r\n"), "close")
add("027-chunked-no-last-chunk.http",
    chunked(b"%x\r\n" % len(G) + G + b"\r\n"), "timeout")
add("028-chunked-over-max-body.http",
    chunked(b"".join(b"ffff\r\n" + b" " * 0xffff + b"\r\n" for _ in range(3)) +
            b"0\r\n\r\n"), "413|close")
add("029-chunked-size-empty.http", chunked(b"\r\n" + G + b"\r\n0\r\n\r\n"), "close")

# --- pipelining: two requests in one write, answered in order ---
add("040-pipeline-two-gets.http",
    b"GET /v2/health/live HTTP/1.1\r\nHost: localhost\r\n\r\n" + get(M),
    "pipe:200,200", '"live"|"platform"')
add("041-pipeline-infer-then-server.http", infer(GOOD, close=False) + get("/v2"),
    "pipe:200,200", '"predict"|"inferd"')
add("042-pipeline-error-then-ok.http",
    b"GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n" + get("/v2/health/ready"),
    "pipe:404,200", 'no such route|"ready"')
add("043-pipeline-bad-json-then-infer.http", infer("{", close=False) + infer(GOOD),
    "pipe:400,200", 'line 1|"predict"')

# --- numbers: huge, non-finite where not allowed ---
add("050-number-1e400.http", infer(tensor("[1, 30]", "[1e400" + ", 1" * 29 + "]")),
    "400", "overflow")
add("051-integer-400-digits.http", infer(tensor("[1, 30]", "[" + "9" * 400 + ", 1" * 29 + "]")),
    "400", "integer")
add("052-number-over-fp32.http", infer(tensor("[1, 30]", "[1e39" + ", 1" * 29 + "]")),
    "400", "inputs[0].data[0]")
add("053-shape-400-digits.http", infer(tensor("[" + "9" * 400 + ", 30]", "[]")), "400",
    "integer")
add("054-shape-nan.http", infer(tensor("[NaN, 30]", "[" + ROW + "]")), "400",
    "inputs[0].shape[0]")
add("055-shape-infinity.http", infer(tensor("[1, Infinity]", "[" + ROW + "]")), "400",
    "inputs[0].shape[1]")
# A bare non-finite token is JSON only as an array element: a syntax error elsewhere.
add("056-id-nan.http", infer('{"id": NaN, ' + NOID[1:]), "400", "invalid token near 'NaN'")
add("057-outputs-infinity.http", infer(GOOD[:-1] + ', "outputs": -Infinity}'), "400",
    "invalid token")
add("058-int32-infinity.http",
    infer(tensor("[1, 30]", "[Infinity" + ", 1" * 29 + "]", "INT32")), "400", "INT32")
add("059-int32-fraction.http",
    infer(tensor("[1, 30]", "[2.5" + ", 1" * 29 + "]", "INT32")), "400", "INT32")
add("060-int64-over-range.http",
    infer(tensor("[1, 30]", "[9223372036854775808" + ", 1" * 29 + "]", "INT64")), "400", "-")
add("061-number-leading-zeros.http", infer(tensor("[1, 30]", "[007" + ", 1" * 29 + "]")),
    "400", "-")
add("062-number-hex.http", infer(tensor("[1, 30]", "[0x10" + ", 1" * 29 + "]")), "400", "-")
add("063-nan-word-run-on.http", infer(tensor("[1, 30]", "[NaNx" + ", 1" * 29 + "]")), "400",
    "-")

# --- strings: non-UTF-8, bad escapes ---
add("070-id-invalid-utf8.http", infer('{"id": "\xff\xfe", ' + NOID[1:]), "400", "decode byte 0xff")
add("071-name-overlong-utf8.http",
    infer(GOOD.replace('"name": "input"', '"name": "\xc0\xaf"')), "400", "decode byte 0xc0")
add("072-id-lone-surrogate.http", infer('{"id": "\\ud800", ' + NOID[1:]), "400", "-")
add("073-id-escaped-nul.http", infer('{"id": "a\\u0000b", ' + NOID[1:]), "400", "-")
add("074-body-bom.http", infer("\xef\xbb\xbf" + GOOD), "400", "-")
add("075-key-invalid-utf8.http", infer('{"\xff": 1, ' + GOOD[1:]), "400", "decode byte 0xff")
add("076-path-invalid-utf8.http", get(b"/v2/models/\xff\xfe/ready"), "400", "invalid path")
add("077-path-control-byte.http", get(b"/v2/models/a\x01b"), "400", "invalid path")

# --- duplicate keys ---
add("080-duplicate-inputs.http", infer('{"inputs": [], ' + GOOD[1:]), "400", "duplicate")
add("081-duplicate-shape.http", infer(GOOD.replace('"shape": [1, 30]',
                                                   '"shape": [2, 30], "shape": [1, 30]')),
    "400", "duplicate")
add("082-duplicate-data.http",
    infer(GOOD.replace('"data": [', '"data": [' + ROW + '], "data": [')), "400", "duplicate")
add("083-duplicate-escaped-key.http", infer('{"inp\\u0075ts": [], ' + GOOD[1:]), "400",
    "duplicate")

# --- deep nesting ---
add("090-nested-arrays-1000.http", infer("[" * 1000 + "]" * 1000), "400", "deep")
add("091-nested-objects-1000.http", infer('{"a":' * 1000 + "1" + "}" * 1000), "400", "deep")
add("092-nested-data-1000.http",
    infer(tensor("[1, 30]", "[" * 1000 + "]" * 1000)), "400", "deep")
add("093-nested-parameters-1000.http", infer(GOOD[:-1] + ', "parameters": ' + '{"a":' * 1000 +
                                              "1" + "}" * 1001), "400", "deep")

# --- header floods ---
add("100-headers-1000.http",
    get("/v2/health/live", b"".join(b"X-H%d: v\r\n" % i for i in range(1000))), "431|close")
add("101-header-100k.http", get("/v2/health/live", b"X-Big: " + b"a" * 102400 + b"\r\n"),
    "431|close")
add("102-header-20k.http", get("/v2/health/live", b"X-Big: " + b"a" * 20480 + b"\r\n"),
    "431|close")
add("103-header-name-100k.http", get("/v2/health/live", b"X" * 102400 + b": 1\r\n"),
    "431|close")
add("104-request-line-100k.http", get("/v2/" + "a" * 102400), "4xx|close")

# --- wrong datatypes and shapes ---
add("110-datatype-bytes.http", infer(tensor("[1, 30]", "[" + ROW + "]", "BYTES")), "400",
    "inputs[0].datatype")
add("111-datatype-number.http", infer(GOOD.replace('"FP32"', "32")), "400",
    "inputs[0].datatype")
add("112-shape-string.http", infer(tensor('"1,30"', "[" + ROW + "]")), "400",
    "inputs[0].shape")
add("113-shape-three-dims.http", infer(tensor("[1, 1, 30]", "[" + ROW + "]")), "400",
    "inputs[0].shape")
add("114-shape-wrong-width.http", infer(tensor("[1, 29]", "[" + ROW + "]")), "400",
    "30 features")
add("115-data-too-few.http", infer(tensor("[2, 30]", "[" + ROW + "]")), "400",
    "inputs[0].data")
add("116-data-strings.http", infer(tensor("[1, 30]", '["1"' + ", 1" * 29 + "]")), "400",
    "inputs[0].data[0]")
add("117-inputs-object.http", infer('{"inputs": {}}'), "400", "inputs")
add("118-body-array.http", infer("[]"), "400", "object")
add("119-body-not-json.http", infer("hello"), "400", "line 1")
T1 = '{"name": "input", "datatype": "FP32", "shape": [1, 30], "data": [' + ROW + ']}'
add("120-two-inputs.http", infer('{"inputs": [%s, %s]}' % (T1, T1)), "400", "exactly one")
add("121-unknown-output.http", infer(GOOD[:-1] + ', "outputs": [{"name": "proba"}]}'), "400",
    "outputs[0].name")
add("122-empty-object.http", infer("{}"), "400", "inputs")
add("123-trailing-garbage.http", infer(GOOD + "xyz"), "400", "-")
add("124-two-documents.http", infer(GOOD + GOOD), "400", "-")
add("125-rows-ragged.http",
    infer(tensor("[2, 30]", "[[" + ROW + "], [1, 2]]")), "400", "inputs[0].data[1]")
add("126-parameters-array.http", infer(GOOD[:-1] + ', "parameters": []}'), "400",
    "parameters")
add("127-shape-float.http", infer(tensor("[1.0, 30]", "[" + ROW + "]")), "400",
    "inputs[0].shape[0]")
add("128-data-object.http", infer(tensor("[1, 30]", "{}")), "400", "inputs[0].data")
add("129-id-number.http", infer('{"id": 5, ' + NOID[1:]), "400", "id")

# --- batches: empty and huge ---
add("130-batch-zero-rows.http", infer(tensor("[0, 30]", "[]")), "400", "inputs[0].shape[0]")
add("131-batch-1e7-short-body.http", infer(tensor("[10000000, 30]", "[" + ROW + "]")), "400",
    "inputs[0].shape")
add("132-batch-2p62-squared.http",
    infer(tensor("[4611686018427387904, 4611686018427387904]", "[]")), "400", "inputs[0].shape")
add("133-batch-negative.http", infer(tensor("[-1, 30]", "[" + ROW + "]")), "400",
    "inputs[0].shape[0]")
add("134-batch-2p64.http", infer(tensor("[18446744073709551616, 30]", "[]")), "400",
    "integer")
add("135-batch-limit-plus-one.http", infer(tensor("[100001, 30]", "[]")), "400",
    "inputs[0].shape[0]")

# --- unknown models and versions ---
add("140-unknown-model.http", infer(GOOD).replace(b"breast-cancer", b"iris"), "404",
    "unknown model")
add("141-unknown-version.http",
    post(M + "/versions/9/infer", GOOD), "404", "no version 9")
add("142-model-name-65-chars.http", get("/v2/models/" + "a" * 65), "400", "invalid model name")
add("143-version-dotdot.http", get(M + "/versions/../ready"), "400", "invalid path")
add("144-unknown-model-ready.http", get("/v2/models/iris/ready"), "404", "unknown model")

# --- paths ---
add("150-path-dotdot.http", get("/v2/models/../../../etc/passwd"), "400", "invalid path")
add("151-path-pct-2e2e.http", get("/v2/models/%2e%2e/%2e%2e/metrics"), "400", "invalid path")
add("152-path-pct-00.http", get(M + "%00/ready"), "400", "invalid path")
add("153-path-double-slash.http", get("//v2/health/live"), "400", "invalid path")
add("154-path-backslash.http", get("/v2\\models\\breast-cancer"), "400", "invalid path")
add("155-path-pct-2f.http", get("/v2/models/..%2f..%2fetc/ready"), "400", "invalid path")
add("156-path-overlong-utf8-dots.http", get("/v2/models/%c0%ae%c0%ae/ready"), "400",
    "invalid path")
add("157-path-bad-escape.http", get("/v2/models/%zz"), "400", "invalid path")
add("158-path-pct-25.http", get("/v2/models/%252e%252e"), "400", "invalid path")
add("159-path-trailing-slash.http", get("/v2/health/live/"), "400", "invalid path")
add("160-path-too-many-segments.http", get("/v2/a/b/c/d/e/f/g/h"), "404", "no such route")
add("161-path-no-leading-slash.http", get("v2/health/live"), "400|close", "invalid path")
add("162-path-dot.http", get("/v2/./health/live"), "400", "invalid path")

# --- methods ---
add("170-method-trace.http", get("/v2/health/live", method=b"TRACE"), "405", "TRACE")
add("171-method-connect.http",
    b"CONNECT localhost:80 HTTP/1.1\r\nHost: localhost:80\r\nConnection: close\r\n\r\n",
    "4xx|close")
add("172-method-lowercase-get.http", get("/v2/health/live", method=b"get"), "405|400|501|close",
    "not allowed")
add("173-method-options.http", get("/v2/health/live", method=b"OPTIONS"), "405", "not allowed")
add("174-method-put-infer.http", post(M + "/infer", GOOD).replace(b"POST", b"PUT", 1), "405",
    "POST")
add("175-method-get-infer.http", get(M + "/infer"), "405", "POST")
add("176-method-long.http", get("/v2/health/live", method=b"X" * 200), "405|400|close",
    "not allowed")
add("177-method-delete-live.http", get("/v2/health/live", method=b"DELETE"), "405",
    "not allowed")

# --- protocol versions, request line oddities ---
add("180-http-0.9.http", b"GET /v2/health/live\r\n", "close")
add("181-http2-preface.http", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "close")
add("182-http2-preface-and-frames.http",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00" + b"\x00" * 18,
    "close")
add("183-http-version-garbage.http", b"GET /v2/health/live HTTP/1.x\r\nHost: l\r\n\r\n", "close")
add("184-http-3.http", b"GET /v2/health/live HTTP/3.0\r\nHost: l\r\n\r\n", "close")
add("185-absolute-form.http",
    b"GET http://localhost/v2/health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close"
    b"\r\n\r\n", "200|400", '"live"|invalid path')
add("186-absolute-form-other-host.http",
    b"GET http://example.com/v2/health/live HTTP/1.1\r\nHost: example.com\r\n"
    b"Connection: close\r\n\r\n", "200|400", '"live"|invalid path')
add("187-http-1.1-no-host.http", b"GET /v2/health/live HTTP/1.1\r\nConnection: close\r\n\r\n",
    "400|close", "Host")
add("188-empty-lines-only.http", b"\r\n\r\n\r\n\r\n", "timeout")
add("189-tls-client-hello.http",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32)) + b"\x00" * 40, "close")
add("190-binary-garbage.http", bytes((i * 73 + 41) % 256 for i in range(1024)), "close")
add("191-space-before-colon.http",
    b"GET /v2/health/live HTTP/1.1\r\nHost : localhost\r\nConnection: close\r\n\r\n",
    "400|close")
add("192-header-without-colon.http",
    b"GET /v2/health/live HTTP/1.1\r\nHost: localhost\r\nNoColonHere\r\nConnection: close"
    b"\r\n\r\n", "400|close")
add("193-obs-fold.http",
    b"GET /v2/health/live HTTP/1.1\r\nHost: localhost\r\nX-A: a\r\n folded\r\n"
    b"Connection: close\r\n\r\n", "200|400|close", '"live"')
add("194-expect-100-over-limit.http",
    (HDR + "Expect: 100-continue\r\nContent-Length: 99999999999\r\n\r\n").encode(), "413",
    "max_body_bytes")
add("195-expect-unknown.http",
    get("/v2/health/live", b"Expect: 200-ok\r\n"), "417|200", '"live"')

# --- line endings and NUL bytes ---
add("200-bare-lf.http", b"GET /v2/health/live HTTP/1.1\nHost: localhost\nConnection: close\n\n",
    "200|400|close", '"live"')
add("201-bare-cr.http",
    b"GET /v2/health/live HTTP/1.1\rHost: localhost\r\nConnection: close\r\n\r\n", "400|close")
add("202-bare-lf-smuggle.http",
    (HDR + "Content-Length: 0\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(G))
    .encode() + G, "400|close")
add("203-nul-in-header-value.http",
    get("/v2/health/live", b"X-A: a\x00b\r\n"), "400|close",
    known="libmicrohttpd 0.9.75 cuts a header value at a NUL before inferd sees it "
          "(RFC 9110 5.5 asks to refuse or replace); see docs/security.md")
add("204-nul-in-header-name.http", get("/v2/health/live", b"X-\x00A: b\r\n"), "400|close")
add("205-nul-in-path.http",
    b"GET /v2/health/live\x00/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    "400|close", "invalid path",
    known="libmicrohttpd 0.9.75 ends the request target at a NUL before inferd sees it, "
          "so the path up to the NUL is served (RFC 9112 3 asks for a 400); "
          "see docs/security.md")
add("206-nul-in-method.http",
    b"GE\x00T /v2/health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    "400|405|close", "not allowed")
add("207-nul-in-body.http", infer(GOOD[:20] + "\x00" + GOOD[20:]), "400", "-")

# --- admin routes with hostile bodies (the test runs as an admin peer) ---
add("210-mark-good-garbage.http", post("/v2/admin/mark-good", "[[[["), "400", "-")
add("211-mark-good-deep.http", post("/v2/admin/mark-good", "[" * 1000 + "]" * 1000), "400",
    "-")
add("212-repo-load-dotdot.http", post("/v2/repository/models/../load", ""), "400",
    "invalid path")
add("213-repo-load-unknown.http", post("/v2/repository/models/etc/load", ""), "404", "etc")
add("214-repo-index-bad-json.http", post("/v2/repository/index", '{"ready": 1}'), "400",
    "ready")

# --- Transfer-Encoding framing (RFC 9112 6.1, 6.3): only exactly "chunked", once ---
ADMIN_SMUGGLED = (b"POST /v2/repository/index HTTP/1.1\r\nHost: localhost\r\n"
                  b"Content-Length: 0\r\n\r\n")


def te(value, body=b"0\r\n\r\n", extra=b""):
    return (b"POST " + M.encode() + b"/infer HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\n" + extra + b"Transfer-Encoding: " + value +
            b"\r\n\r\n" + body)


add("220-te-chunked-then-gzip-smuggle.http",
    te(b"chunked\r\nTransfer-Encoding: gzip", body=b"0\r\n\r\n" + ADMIN_SMUGGLED),
    "close:400", "Transfer-Encoding given 2 times")
add("221-te-gzip.http", te(b"gzip", body=b"x" * 300), "close:400", "not exactly chunked")
add("222-te-chunked-trailing-space.http", te(b"chunked ", body=chunks_of(GOOD, 64)),
    "close:400", "not exactly chunked")
add("223-te-chunked-chunked.http", te(b"chunked, chunked", body=chunks_of(GOOD, 64)),
    "close:400", "not exactly chunked")
add("224-te-gzip-chunked.http", te(b"gzip, chunked", body=chunks_of(GOOD, 64)), "close:501",
    "transfer coding \"gzip\" not implemented")
add("225-te-unknown-chunked.http", te(b"x-inferd, chunked", body=chunks_of(GOOD, 64)),
    "close:501", "unknown transfer coding \"x-inferd\"")
add("226-te-identity.http", te(b"identity", body=G), "close:400", "not exactly chunked")
add("227-te-chunked-twice-fields.http",
    te(b"chunked", extra=b"Transfer-Encoding: chunked\r\n", body=chunks_of(GOOD, 64)),
    "close:400", "Transfer-Encoding given 2 times")
add("228-te-chunked-uppercase.http",
    te(b"CHUNKED", body=chunks_of(GOOD, 64), extra=b"Connection: close\r\n"), "200",
    '"predict"')
add("229-te-empty.http", te(b"", body=G), "close:400", "not exactly chunked")
add("230-te-and-length.http",
    te(b"chunked", extra=b"Content-Length: 5\r\n", body=b"0\r\n\r\n" + ADMIN_SMUGGLED),
    "close:400", "ambiguous framing")
add("231-te-chunked-parameter.http", te(b"chunked;q=1", body=chunks_of(GOOD, 64)),
    "close:400", "not exactly chunked")
add("232-te-on-get-smuggle.http",
    b"GET /v2/health/live HTTP/1.1\r\nHost: l\r\nTransfer-Encoding: gzip\r\n\r\n" +
    ADMIN_SMUGGLED, "close:400", "not exactly chunked")

# --- HTTP versions: 1.0 and 1.1 only (505), Host required of 1.1 ---
add("240-http-1.2-no-host.http", b"GET /v2/health/live HTTP/1.2\r\n\r\n", "close:505",
    "HTTP version")
add("241-http-1.2-with-host.http", b"GET /v2/health/live HTTP/1.2\r\nHost: l\r\n\r\n",
    "close:505", "HTTP/1.2")
add("242-http-1.9-admin.http",
    b"POST /v2/repository/index HTTP/1.9\r\nHost: l\r\nContent-Length: 0\r\n\r\n",
    "close:505", "HTTP version")
add("243-http-1.0-no-host.http", b"GET /v2/health/live HTTP/1.0\r\n\r\n", "200", '"live"')
add("244-http-1.1-no-host-strict.http",
    b"GET /v2/health/live HTTP/1.1\r\n\r\n" + SMUGGLED, "close:400", "Host")
add("245-length-not-a-number-json.http",
    (HDR + "Content-Length: 12x\r\n\r\n{}").encode(), "close:400", "Content-Length",
    known="libmicrohttpd 0.9.75 answers a malformed Content-Length itself, with an HTML "
          "body and its header block sent twice, before inferd sees the request; "
          "see docs/security.md")

# --- parameters: members of one object bounded before jansson builds it ---
def params(n):
    return "{" + ",".join('"k%d":0' % i for i in range(n)) + "}"


add("250-parameters-4097-members.http",
    infer('{"parameters": ' + params(4097) + ', ' + GOOD[1:]), "400",
    "more than 4096 members")
add("251-parameters-4096-members.http",
    infer('{"parameters": ' + params(4096) + ', ' + GOOD[1:]), "200", '"predict"')
add("252-input-parameters-4097-members.http",
    infer(GOOD.replace('"name": "input", ', '"name": "input", "parameters": ' +
                       params(4097) + ', ')), "400", "more than 4096 members")
add("253-id-object-4097-members-nested.http",
    infer('{"x": {"y": ' + params(4097) + '}, ' + GOOD[1:]), "400", "more than 4096 members")

names = set()
with open(os.path.join(HERE, "expect.tsv"), "w") as idx:
    idx.write("# file\texpectation\tsubstring\t[known: why it is not met yet] "
              "(see make-corpus.py for the meaning)\n")
    for name, raw, expect, sub, known in entries:
        assert name not in names, name
        names.add(name)
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(raw)
        idx.write("%s\t%s\t%s%s\n" % (name, expect, sub, "\tknown: " + known if known else ""))
print("%d requests" % len(entries))
