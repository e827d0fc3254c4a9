#!/bin/bash
# make-base.sh: builds the local base images (and piuparts' base tarball) from Debian's mirror, cached.
#
# Usage: containers/make-base.sh [--force] [TARGET...]
#   base          localhost/inferd-base:SUITE          mmdebstrap --variant=apt
#   systemd       localhost/inferd-base-systemd:SUITE  --variant=apt + systemd, systemd-sysv,
#                                                      dbus; CMD /sbin/init
#   piuparts-tgz  CACHE/piuparts-SUITE-systemd.tgz     --variant=minbase + systemd (piuparts
#                                                      needs systemd in its base: otherwise
#                                                      systemd's own files count as leftovers)
#   (default: base systemd)
#
# No registry is needed: the root filesystems come from the Debian mirror named in the
# host's apt sources (or INFERD_MIRROR) and are `podman import`ed. An artifact is rebuilt
# only when its recorded inputs (suite, variant, package list, apt lines, SOURCE_DATE_EPOCH,
# this script's sha256) changed, or with --force. The inputs' hash is kept in the image
# label org.inferd.inputs (images) or in FILE.inputs (tarball).
#
# Environment: INFERD_SUITE, INFERD_MIRROR, INFERD_SECURITY_MIRROR (see podman-env.sh),
#   INFERD_CACHE_DIR (default /var/cache/inferd-ci as root, else ~/.cache/inferd-ci),
#   SOURCE_DATE_EPOCH (default 1735689600, fixed so that file times do not depend on when
#   the image was built).
# Exit status: 0 built or cached, 1 failure, 77 podman/mmdebstrap unusable (reason printed).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/podman-env.sh
. "$here/podman-env.sh"

force=
targets=()
for a in "$@"; do
	case $a in
	--force) force=1 ;;
	-h | --help)
		sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	base | systemd | piuparts-tgz) targets+=("$a") ;;
	*)
		echo "make-base.sh: unknown target: $a" >&2
		exit 1
		;;
	esac
done
[ ${#targets[@]} -gt 0 ] || targets=(base systemd)

if ! podman_env_setup; then
	echo "make-base.sh: SKIP: $PODMAN_ENV_REASON" >&2
	exit 77
fi

if [ "$(id -u)" = 0 ]; then
	cache=${INFERD_CACHE_DIR:-/var/cache/inferd-ci}
else
	cache=${INFERD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/inferd-ci}
fi
mkdir -p "$cache"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1735689600}

mapfile -t apt_lines < <(debian_apt_lines)
if [ ${#apt_lines[@]} -eq 0 ]; then
	echo "make-base.sh: no Debian $INFERD_SUITE entry in /etc/apt/sources.list*;" \
		"set INFERD_MIRROR" >&2
	exit 1
fi
script_sha=$(sha256sum "$0" | cut -d' ' -f1)

# Serializes concurrent runs (two CI jobs must not build the same image twice at once).
exec 9>"$cache/make-base.lock"
if ! flock -w 900 9; then
	echo "make-base.sh: another build holds $cache/make-base.lock for 15 minutes" >&2
	exit 1
fi

build_tmp=
cleanup() {
	[ -n "$build_tmp" ] && rm -rf "$build_tmp"
	rm -f "$cache"/*.tmp.tar.gz
}
trap cleanup EXIT

# inputs_of VARIANT PACKAGES: the canonical description of what goes into an artifact.
inputs_of() {
	printf 'suite=%s\nvariant=%s\ninclude=%s\nsource_date_epoch=%s\nscript=%s\n' \
		"$INFERD_SUITE" "$1" "$2" "$SOURCE_DATE_EPOCH" "$script_sha"
	printf 'apt=%s\n' "${apt_lines[@]}"
}

# run_mmdebstrap VARIANT PACKAGES OUTPUT [MMDEBSTRAP-ARGS...]: bounded, with the mirror
# lines as sources.
run_mmdebstrap() {
	local variant=$1 include=$2 out=$3 args=()
	shift 3
	args=(--variant="$variant" --mode=root "$@")
	[ -n "$include" ] && args+=(--include="$include")
	# Recommends off (Debian's default for debootstrap-style bases); no apt lists kept.
	timeout 900 mmdebstrap "${args[@]}" --quiet "$INFERD_SUITE" "$out" "${apt_lines[@]}"
}

# build_image NAME VARIANT PACKAGES [CMD-JSON]
build_image() {
	local name=$1 variant=$2 include=$3 cmd=${4:-} hash have t0 tmp
	hash=$(inputs_of "$variant" "$include" | sha256sum | cut -d' ' -f1)
	have=$(podman image inspect --format '{{index .Labels "org.inferd.inputs"}}' "$name" \
		2>/dev/null || true)
	if [ -z "$force" ] && [ "$have" = "$hash" ]; then
		echo "make-base.sh: $name is up to date (inputs $hash)"
		return 0
	fi
	echo "make-base.sh: building $name (${have:+inputs changed, }variant=$variant${include:+, include=$include})"
	t0=$SECONDS
	tmp=$(mktemp -d "$cache/build.XXXXXX")
	build_tmp=$tmp
	# The build host's resolver and name must not end up in an image (a leak, and a
	# difference between build hosts); podman supplies both when a container runs.
	run_mmdebstrap "$variant" "$include" "$tmp/rootfs.tar" \
		--customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname"'
	local changes=(--change "LABEL org.inferd.inputs=$hash"
		--change "LABEL org.inferd.suite=$INFERD_SUITE")
	[ -n "$cmd" ] && changes+=(--change "CMD $cmd")
	local old_id
	old_id=$(podman image inspect --format '{{.Id}}' "$name" 2>/dev/null || true)
	podman import --quiet "${changes[@]}" "$tmp/rootfs.tar" "$name" >/dev/null
	# The replaced image is now untagged: drop it unless a container still uses it.
	if [ -n "$old_id" ]; then
		podman rmi "$old_id" >/dev/null 2>&1 || true
	fi
	inputs_of "$variant" "$include" >"$cache/$(echo "$name" | tr '/:' '__').inputs"
	rm -rf "$tmp"
	build_tmp=
	echo "make-base.sh: $name built in $((SECONDS - t0)) s"
}

# build_tgz FILE VARIANT PACKAGES
build_tgz() {
	local file=$1 variant=$2 include=$3 hash t0
	hash=$(inputs_of "$variant" "$include" | sha256sum | cut -d' ' -f1)
	if [ -z "$force" ] && [ -s "$file" ] && [ "$(cat "$file.inputs" 2>/dev/null)" = "$hash" ]; then
		echo "make-base.sh: $file is up to date (inputs $hash)"
		return 0
	fi
	echo "make-base.sh: building $file (variant=$variant, include=$include)"
	t0=$SECONDS
	rm -f "$file.inputs"
	run_mmdebstrap "$variant" "$include" "$file.tmp.tar.gz"
	mv -f "$file.tmp.tar.gz" "$file"
	echo "$hash" >"$file.inputs"
	echo "make-base.sh: $file built in $((SECONDS - t0)) s"
}

for t in "${targets[@]}"; do
	case $t in
	base) build_image "localhost/inferd-base:$INFERD_SUITE" apt "" ;;
	systemd)
		build_image "localhost/inferd-base-systemd:$INFERD_SUITE" apt \
			"systemd,systemd-sysv,dbus" '["/sbin/init"]'
		;;
	piuparts-tgz)
		build_tgz "$cache/piuparts-$INFERD_SUITE-systemd.tgz" minbase \
			"systemd,systemd-sysv,dbus"
		;;
	esac
done
