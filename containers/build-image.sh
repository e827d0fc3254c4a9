#!/bin/bash
# build-image.sh: builds the inferd container image (what `make image` runs) from exactly the source files.
#
# Usage: containers/build-image.sh [--no-cache] [--tag NAME] [--iidfile FILE] [-- PODMAN-BUILD-ARGS...]
#
# 1. containers/make-base.sh base      localhost/inferd-base:SUITE (cached)
# 2. a build context holding exactly the source files of the working tree: git's tracked
#    files plus untracked files that .gitignore does not exclude, never build products
#    (configure output, objects, .deb). When the tree is clean this is the commit.
# 3. podman build -f containers/Containerfile (its last stage copies the trimmed root
#    filesystem into one layer) with
#      --timestamp $SOURCE_DATE_EPOCH   (the last commit's time: the image's creation time
#                                       and every file time in its layer)
#      --format docker                  (keeps HEALTHCHECK, which OCI images cannot carry)
#      --omit-history                   (the history names the IDs of intermediate images,
#                                       which differ between builds without cache: without
#                                       it two identical layers still get two image IDs)
# 4. prints the image ID, its size and the build time.
#
# Environment:
#   INFERD_IMAGE       tag (default localhost/inferd:VERSION and localhost/inferd:latest)
#   SOURCE_DATE_EPOCH  default: the last commit's time (git log -1 --format=%ct)
#   DEB_BUILD_OPTIONS  passed to the package build (default empty: make check runs)
#   INFERD_SUITE, INFERD_MIRROR, INFERD_CACHE_DIR   see containers/make-base.sh
# Exit status: 0 built, 1 failure, 2 usage, 77 podman unusable (reason printed).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcdir=$(cd "$here/.." && pwd)
# shellcheck source=podman-env.sh
. "$here/podman-env.sh"

nocache=()
tags=()
iidfile=
extra=()
while [ $# -gt 0 ]; do
	case $1 in
	--no-cache) nocache=(--no-cache) ;;
	--tag)
		[ $# -ge 2 ] || { echo "build-image.sh: --tag needs a NAME" >&2; exit 2; }
		tags+=("$2")
		shift
		;;
	--iidfile)
		[ $# -ge 2 ] || { echo "build-image.sh: --iidfile needs a FILE" >&2; exit 2; }
		iidfile=$2
		shift
		;;
	--)
		shift
		extra=("$@")
		break
		;;
	-h | --help)
		sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "build-image.sh: unknown argument: $1" >&2
		exit 2
		;;
	esac
	shift
done

if ! podman_env_setup; then
	echo "build-image.sh: SKIP: $PODMAN_ENV_REASON" >&2
	exit 77
fi
command -v git >/dev/null && git -C "$srcdir" rev-parse --git-dir >/dev/null 2>&1 || {
	echo "build-image.sh: $srcdir is not a git work tree (the context is git's file list)" >&2
	exit 1
}

t_start=$(date +%s.%N)
elapsed() { printf '%.1f' "$(echo "$(date +%s.%N) - $1" | bc)"; }

# ---- 1. the base -------------------------------------------------------------------
t0=$(date +%s.%N)
rc=0
"$here/make-base.sh" base || rc=$?
[ $rc -eq 0 ] || exit $rc
base="localhost/inferd-base:$INFERD_SUITE"
t_base=$(elapsed "$t0")

# ---- 2. the context ----------------------------------------------------------------
revision=$(git -C "$srcdir" rev-parse HEAD)
if [ -n "$(git -C "$srcdir" status --porcelain --untracked-files=normal)" ]; then
	revision="$revision-dirty"
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$srcdir" log -1 --format=%ct)}
version=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$srcdir/debian/changelog")
[ -n "$version" ] || { echo "build-image.sh: no version in debian/changelog" >&2; exit 1; }
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
source_url=$(sed -n 's/^Homepage: *//p' "$srcdir/debian/control" | head -n 1)

ctx=$(mktemp -d "${TMPDIR:-/tmp}/inferd-image-ctx.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
# Files deleted in the work tree but still tracked are skipped (test -e).
(cd "$srcdir" && git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done |
	sort -z -u | tar --null --no-recursion -cf - -T -) | tar -xf - -C "$ctx"
# The context's file times are those of the commit, so nothing depends on checkout time.
find "$ctx" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
nfiles=$(find "$ctx" -type f | wc -l)
echo "build-image.sh: context: $nfiles files, revision $revision, version $version," \
	"SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH ($created)"

# ---- 3. the image ------------------------------------------------------------------
[ ${#tags[@]} -gt 0 ] || tags=("${INFERD_IMAGE:-localhost/inferd:$version}")
[ -n "${INFERD_IMAGE:-}" ] || tags+=(localhost/inferd:latest)
# The labels that vary are also given with --label: buildah 1.28 reuses a cached LABEL
# step whose build arguments changed (the step's text is the same), which would keep the
# previous build's revision.
tag_args=()
for t in "${tags[@]}"; do tag_args+=(--tag "$t"); done
iid_tmp="$ctx.iid"
t0=$(date +%s.%N)
podman build --format docker --timestamp "$SOURCE_DATE_EPOCH" --omit-history \
	--file "$ctx/containers/Containerfile" \
	--build-arg "BASE=$base" \
	--build-arg "VERSION=$version" \
	--build-arg "REVISION=$revision" \
	--build-arg "CREATED=$created" \
	--build-arg "SOURCE_URL=${source_url:-unknown}" \
	--build-arg "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH" \
	--build-arg "DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-}" \
	--label "org.opencontainers.image.version=$version" \
	--label "org.opencontainers.image.revision=$revision" \
	--label "org.opencontainers.image.created=$created" \
	--label "org.opencontainers.image.source=${source_url:-unknown}" \
	--iidfile "$iid_tmp" "${nocache[@]}" "${tag_args[@]}" "${extra[@]}" "$ctx"
t_build=$(elapsed "$t0")
id=$(cat "$iid_tmp")
rm -f "$iid_tmp"
[ -z "$iidfile" ] || echo "$id" >"$iidfile"

# ---- 4. report ---------------------------------------------------------------------
size=$(podman image inspect --format '{{.Size}}' "$id")
echo "build-image.sh: image:      ${tags[*]}"
echo "build-image.sh: image ID:   $id"
printf 'build-image.sh: size:       %s bytes (%.1f MB)\n' "$size" "$(echo "$size / 1000000" | bc -l)"
echo "build-image.sh: build time: ${t_build} s (base ${t_base} s, total $(elapsed "$t_start") s)"
