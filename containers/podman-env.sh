# podman-env.sh: sourced helper: podman config, usability check and Debian mirror lines.
# shellcheck shell=bash disable=SC2034
#
# Usage (bash):
#   . containers/podman-env.sh
#   podman_env_setup || { echo "SKIP: $PODMAN_ENV_REASON"; exit 77; }
#   apt_lines=$(debian_apt_lines)      # one "deb URI SUITE main" line per matching entry
#
# podman_env_setup exports CONTAINERS_CONF (this directory's containers.conf, needed on
# hosts with hybrid cgroups and low hard rlimits), installs podman, buildah, runc and
# mmdebstrap with apt-get when they are missing and we are root, and checks that podman
# answers. On failure it returns 1 with the reason in PODMAN_ENV_REASON.
#
# Environment:
#   INFERD_CONTAINERS_CONF  another containers.conf (default: the one beside this file)
#   INFERD_SUITE            Debian suite of the images (default: bookworm)
#   INFERD_MIRROR           Debian mirror URI; default: read from /etc/apt/sources.list*
#   INFERD_SECURITY_MIRROR  security mirror URI; default: read from /etc/apt/sources.list*
#   INFERD_NO_APT_INSTALL=1 never install packages, only report what is missing

PODMAN_ENV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CONTAINERS_CONF="${INFERD_CONTAINERS_CONF:-$PODMAN_ENV_DIR/containers.conf}"
INFERD_SUITE="${INFERD_SUITE:-bookworm}"
PODMAN_ENV_REASON=

# The tools the container scripts use, as "command:package".
PODMAN_ENV_TOOLS="podman:podman buildah:buildah runc:runc mmdebstrap:mmdebstrap"

podman_env_setup() {
	local missing='' t cmd pkg
	if [ ! -r "$CONTAINERS_CONF" ]; then
		PODMAN_ENV_REASON="containers.conf not readable: $CONTAINERS_CONF"
		return 1
	fi
	for t in $PODMAN_ENV_TOOLS; do
		cmd=${t%%:*} pkg=${t#*:}
		command -v "$cmd" >/dev/null 2>&1 || missing="$missing $pkg"
	done
	if [ -n "$missing" ]; then
		if [ "$(id -u)" != 0 ] || [ -n "${INFERD_NO_APT_INSTALL:-}" ] ||
			! command -v apt-get >/dev/null 2>&1; then
			PODMAN_ENV_REASON="missing:$missing (install them as root: apt-get install$missing)"
			return 1
		fi
		echo "podman-env: installing$missing" >&2
		# Another apt-get may hold the lock on a shared host: wait for it, bounded.
		# shellcheck disable=SC2086 # one word per package
		if ! DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q \
			-o DPkg::Lock::Timeout=300 $missing >&2; then
			PODMAN_ENV_REASON="apt-get install$missing failed"
			return 1
		fi
	fi
	local out
	if ! out=$(timeout 60 podman info --format '{{.Host.OCIRuntime.Name}}' 2>&1); then
		PODMAN_ENV_REASON="podman is installed but unusable: $(printf '%s' "$out" | tail -n 3)"
		return 1
	fi
	return 0
}

# Prints the apt lines for INFERD_SUITE, its -updates and its -security, component main,
# in one-line format, from INFERD_MIRROR/INFERD_SECURITY_MIRROR or else from the host's
# apt sources (deb822 .sources and one-line .list files). Nothing is hard-coded: a host
# without a Debian entry for the suite yields nothing (the caller reports it).
debian_apt_lines() {
	local s=$INFERD_SUITE
	if [ -n "${INFERD_MIRROR:-}" ]; then
		echo "deb $INFERD_MIRROR $s main"
		echo "deb $INFERD_MIRROR $s-updates main"
		[ -n "${INFERD_SECURITY_MIRROR:-}" ] &&
			echo "deb $INFERD_SECURITY_MIRROR $s-security main"
		return 0
	fi
	local f files=
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] && files="$files $f"
	done
	[ -n "$files" ] || return 0
	# shellcheck disable=SC2086
	awk -v suite="$s" '
		function want(su) { return su == suite || su == suite "-updates" || su == suite "-security" }
		function hasmain(comps,  n, a, i) {
			n = split(comps, a, /[ \t]+/)
			for (i = 1; i <= n; i++) if (a[i] == "main") return 1
			return 0
		}
		function flush(  nu, ns, u, x, i, j) {
			if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no" && hasmain(comps)) {
				nu = split(uris, u, /[ \t]+/); ns = split(suites, x, /[ \t]+/)
				for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
					if (u[i] != "" && want(x[j]) && !seen[u[i] " " x[j]]++)
						print "deb " u[i] " " x[j] " main"
			}
			types = uris = suites = comps = enabled = ""
		}
		FNR == 1 { flush(); deb822 = FILENAME ~ /\.sources$/ }
		/^[ \t]*#/ { next }
		deb822 {
			if ($0 ~ /^[ \t]*$/) { flush(); next }
			key = tolower($1); sub(/:$/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
			if (key == "types") types = val
			else if (key == "uris") uris = val
			else if (key == "suites") suites = val
			else if (key == "components") comps = val
			else if (key == "enabled") enabled = tolower(val)
			next
		}
		$1 == "deb" {
			i = 2
			if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
			uri = $i; su = $(i + 1); c = ""
			for (j = i + 2; j <= NF; j++) c = c " " $j
			if (want(su) && hasmain(c) && !seen[uri " " su]++) print "deb " uri " " su " main"
		}
		END { flush() }
	' $files
}

# The first apt line's URI for the suite itself (what piuparts -m wants).
debian_mirror() {
	debian_apt_lines | awk -v s="$INFERD_SUITE" '$3 == s { print $2; exit }'
}
