#!/bin/sh
# fingerprint-diff.sh: inferctl fingerprint --diff of an amd64 and a foreign build serving the same config.
#
# Usage: fingerprint-diff.sh ARCH AMD64_BUILDDIR ARCH_BUILDDIR   (the latter wrapped: arch.sh)
# Each build's daemon serves the bundled model from the same config, on the same socket, in
# turn; each build's inferctl takes the fingerprint. The diff must name the architecture
# (package.architecture: "amd64" -> "ARCH") and nothing under models or config.
set -u
: "${top_srcdir:?}"
arch=$1 a=$2 b=$3
D=$(mktemp -d "${TMPDIR:-/tmp}/inferd-fpx.XXXXXX") || exit 1
trap 'rm -rf "$D"' EXIT
mkdir -p "$D/state"
cat >"$D/inferd.conf" <<EOC
socket = { path = "$D/s.sock"; mode = "0600"; };
server = { state_dir = "$D/state"; threads = 2; };
log_level = "warning";
models = ( { name = "breast-cancer"; path = "$top_srcdir/src/models/breast-cancer/1/model.json"; version = 1; } );
EOC
for x in amd64 "$arch"; do
	bd=$a; [ "$x" = amd64 ] || bd=$b
	"$bd/src/inferd" --foreground --config "$D/inferd.conf" & pid=$!
	i=0; while [ $i -lt 300 ] && ! [ -S "$D/s.sock" ]; do sleep 0.2; i=$((i + 1)); done
	"$bd/src/inferctl" --config "$D/inferd.conf" ready >/dev/null 2>&1 ||
		{ sleep 2; "$bd/src/inferctl" --config "$D/inferd.conf" ready >/dev/null 2>&1; }
	"$bd/src/inferctl" --config "$D/inferd.conf" fingerprint >"$D/$x.json"; rc=$?
	kill "$pid"; wait "$pid"; rm -f "$D/s.sock"
	[ $rc = 0 ] || { echo "FAIL fingerprint of the $x build: exit $rc"; exit 1; }
done
"$a/src/inferctl" fingerprint --diff "$D/amd64.json" "$D/$arch.json" >"$D/diff"
sed 's/^/  | /' "$D/diff"
if grep -qx "package.architecture: \"amd64\" -> \"$arch\"" "$D/diff" &&
	! grep -Eq '^(models|config)' "$D/diff"; then
	echo "ok   fingerprint --diff amd64 $arch: the architecture differs, the models and config are the same"
else
	echo "FAIL fingerprint --diff amd64 $arch: expected the architecture and no models or config line"
	exit 1
fi
