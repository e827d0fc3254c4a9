#!/bin/sh
# check-layers.sh: src/ includes only go down the layer list below, and no module-level call cycle exists.
#
# Data flows one way: socket -> http -> infer/admin -> serve -> repo -> model. Each line of
# LAYERS is one layer, the top first; a module may include the headers of modules in
# layers strictly below its own (never beside or above). A new module must be placed here
# (and in docs/internals.md's module map). The call graph is read from the built objects
# (nm: each object's undefined symbols, mapped to the object defining them); any cycle
# between modules fails, whatever the includes say.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"

LAYERS='
main ctl
server smoke kserve
http client
admin triton
serve
state metrics
repo
golden outputs
infer model fingerprint shap
ubjson jscan num
conf jsonx strbuf tree
log
sysd sock mstats zbody procstat
util
'

fail=0

# A module may span several files with its prefix: inferctl's ctl.c and its command files
# ctl_*.c are one module (ctl), which calls its commands through one table and is called back.
modname() {
	case $1 in
	ctl_*) echo ctl ;;
	*) echo "$1" ;;
	esac
}

# --- includes ---
edges=$(
	for f in "$top_srcdir"/src/*.c "$top_srcdir"/src/*.h; do
		[ -f "$f" ] || continue
		m=$(modname "$(basename "$f" | sed 's/\.[ch]$//')")
		sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([A-Za-z0-9_]*\)\.h".*/\1/p' "$f" |
			while read -r h; do
				h=$(modname "$h")
				[ "$h" = "$m" ] || echo "$m $h $(basename "$f")"
			done
	done
)
printf '%s\n' "$edges" | awk -v layers="$LAYERS" '
BEGIN {
	n = split(layers, lines, "\n"); lv = 0
	for (i = 1; i <= n; i++) {
		if (lines[i] ~ /^[[:space:]]*$/) continue
		lv++; k = split(lines[i], mods, " ")
		for (j = 1; j <= k; j++) level[mods[j]] = lv
	}
	bad = 0
}
NF == 3 {
	if (!($1 in level)) { printf "unknown module %s (%s): place it in LAYERS in tests/check-layers.sh\n", $1, $3; bad++; next }
	if (!($2 in level)) { printf "unknown module %s (included by %s): place it in LAYERS in tests/check-layers.sh\n", $2, $3; bad++; next }
	if (level[$2] <= level[$1]) { printf "include goes %s: %s includes %s.h (%s is layer %d, %s is layer %d)\n", level[$2] == level[$1] ? "sideways" : "upward", $3, $2, $1, level[$1], $2, level[$2]; bad++ }
	else n_ok++
}
END { printf "includes: %d edges go down the layers, %d do not\n", n_ok, bad; exit bad > 0 }
' || fail=1

# --- calls ---
if ! command -v nm >/dev/null 2>&1; then
	echo "SKIP (calls): nm is not installed"
	[ "$fail" -eq 0 ] && exit 77
	exit 1
fi
set -- "$top_builddir"/src/*.o
if [ ! -f "$1" ]; then
	echo "SKIP (calls): no objects in $top_builddir/src (build first)"
	[ "$fail" -eq 0 ] && exit 77
	exit 1
fi
for o in "$@"; do
	m=$(modname "$(basename "$o" .o | sed 's/^[A-Za-z0-9_]*-//')")
	nm -g -P "$o" 2>/dev/null | awk -v m="$m" '{ print m, $1, $2 }'
done | awk '
# Each line: module symbol type. Defined symbols name their module; U lines are calls.
$3 == "U" { use[++nu] = $1 " " $2; next }
$3 ~ /^[TDBRCVWG]$/ { def[$2] = $1 }
function visit(v,    i, w) {
	color[v] = 1; path[++depth] = v
	for (i = 1; i <= nadj[v]; i++) {
		w = adj[v, i]
		if (color[w] == 1) {
			s = ""
			for (k = 1; k <= depth; k++) if (path[k] == w) break
			for (; k <= depth; k++) s = s path[k] " -> "
			printf "call cycle: %s%s\n", s, w
			cycles++
		} else if (color[w] == 0) visit(w)
	}
	depth--; color[v] = 2
}
END {
	for (i = 1; i <= nu; i++) {
		split(use[i], u, " ")
		if (!(u[2] in def) || def[u[2]] == u[1]) continue
		e = u[1] " " def[u[2]]
		if (e in seen) continue
		seen[e] = 1; nadj[u[1]]++; adj[u[1], nadj[u[1]]] = def[u[2]]; mods[u[1]] = 1; ne++
	}
	for (v in mods) if (!color[v]) visit(v)
	printf "calls: %d module edges, %d cycle%s\n", ne, cycles, cycles == 1 ? "" : "s"
	exit cycles > 0
}
' || fail=1
exit "$fail"
