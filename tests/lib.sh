# lib.sh: shared helpers for the shell tests: temp dir, a real inferd, assertions.
# Sourced by the tests (POSIX sh). Expects top_srcdir and top_builddir in the environment
# (make check sets them); INFERD_WRAPPER (e.g. valgrind) prefixes the daemon and inferctl.

: "${top_srcdir:?top_srcdir must be set (run through make check)}"
: "${top_builddir:?top_builddir must be set (run through make check)}"

T_PASSED=0
T_FAILED=0
T_DIR=
T_DAEMON_PID=
T_BUNDLED_MODEL=$top_srcdir/src/models/breast-cancer/1/model.json
T_BUNDLED_GOLDEN=$top_srcdir/src/models/breast-cancer/1/golden.json
T_INFERD=$top_builddir/src/inferd
T_INFERCTL=$top_builddir/src/inferctl

# Skips the whole test (automake's 77) with a reason.
t_skip() {
	echo "SKIP: $*"
	exit 77
}

t_pass() {
	T_PASSED=$((T_PASSED + 1))
	echo "ok   $*"
}

t_fail() {
	T_FAILED=$((T_FAILED + 1))
	echo "FAIL $*"
}

# t_check MSG CMD...: passes when CMD succeeds.
t_check() {
	_msg=$1
	shift
	if "$@"; then
		t_pass "$_msg"
	else
		t_fail "$_msg"
	fi
}

# Prints the summary line and exits 0 only when nothing failed.
t_summary() {
	echo "$T_PASSED passed, $T_FAILED failed"
	[ "$T_FAILED" -eq 0 ] && [ "$T_PASSED" -gt 0 ]
	exit $?
}

# Stops a daemon left running and removes the temp dir; installed by t_setup.
t_cleanup() {
	if [ -n "$T_DAEMON_PID" ]; then
		kill -KILL "$T_DAEMON_PID" 2>/dev/null
		wait "$T_DAEMON_PID" 2>/dev/null
		T_DAEMON_PID=
	fi
	if [ -n "$T_DIR" ]; then
		rm -rf "$T_DIR"
		T_DIR=
	fi
}

# Makes T_DIR, a fresh temp dir removed on exit. Short paths: a socket path must fit in
# sun_path (108 bytes).
t_setup() {
	T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/inferd-test.XXXXXX") || {
		echo "cannot make a temp dir" >&2
		exit 99
	}
	trap t_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# t_write_config FILE SOCKET [GOLDEN]: a config serving the bundled model on SOCKET, with
# the bundled golden set (or GOLDEN; "none" for no golden set). Generous smoke thresholds:
# the tests check behaviour, not this machine's speed.
t_write_config() {
	_golden=${3:-$T_BUNDLED_GOLDEN}
	mkdir -p "$T_DIR/state"
	{
		echo "socket = { path = \"$2\"; mode = \"0600\"; };"
		echo "server = { state_dir = \"$T_DIR/state\"; threads = 2; shutdown_grace = 5; };"
		echo "log_level = \"info\";"
		echo "models = ( {"
		echo "  name = \"breast-cancer\";"
		echo "  path = \"$T_BUNDLED_MODEL\";"
		echo "  version = 1;"
		if [ "$_golden" != none ]; then
			echo "  golden = \"$_golden\";"
		fi
		echo "  tolerance = 1e-6;"
		echo "} );"
		echo "smoke = { timeout = 30.0; requests = 100; p99_ms = 10000.0; };"
	} >"$1"
}

# t_start_daemon CONFIG LOG: starts inferd in the background; sets T_DAEMON_PID.
t_start_daemon() {
	# shellcheck disable=SC2086 # the wrapper is a command line of its own
	$INFERD_WRAPPER "$T_INFERD" --foreground --config "$1" >"$2" 2>&1 &
	T_DAEMON_PID=$!
}

# t_http_status SOCKET METHOD PATH [BODYFILE]: prints the status code curl got (000: none).
t_http_status() {
	if [ -n "$4" ]; then
		"$CURL" -s -o "$T_DIR/curl.body" -w '%{http_code}' --max-time 30 --unix-socket "$1" \
			-X "$2" -H 'Content-Type: application/json' --data-binary "@$4" \
			"http://localhost$3"
	else
		"$CURL" -s -o "$T_DIR/curl.body" -w '%{http_code}' --max-time 30 --unix-socket "$1" \
			-X "$2" "http://localhost$3"
	fi
}

# t_wait_ready SOCKET: waits until /v2/health/ready answers 200 while the daemon lives.
# Slow wrappers (valgrind) get longer.
t_wait_ready() {
	_limit=300
	[ -n "$INFERD_WRAPPER" ] && _limit=1200
	_n=0
	while [ $_n -lt $_limit ]; do
		if [ -n "$T_DAEMON_PID" ] && ! kill -0 "$T_DAEMON_PID" 2>/dev/null; then
			return 1
		fi
		[ "$(t_http_status "$1" GET /v2/health/ready)" = 200 ] && return 0
		sleep 0.1
		_n=$((_n + 1))
	done
	return 1
}

# t_stop_daemon: SIGTERM, then waits; returns the daemon's exit status.
t_stop_daemon() {
	kill -TERM "$T_DAEMON_PID"
	wait "$T_DAEMON_PID"
	_st=$?
	T_DAEMON_PID=
	return $_st
}

# t_ctl ARGS...: runs inferctl (under the wrapper too, so it is leak-checked as well).
t_ctl() {
	# shellcheck disable=SC2086
	$INFERD_WRAPPER "$T_INFERCTL" "$@"
}

# t_near A B TOL: true when A and B are numbers within TOL of each other.
t_near() {
	awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN {
		if (a !~ /^[-+]?[0-9.]+([eE][-+]?[0-9]+)?$/ || b !~ /^[-+]?[0-9.]+([eE][-+]?[0-9]+)?$/)
			exit 1
		d = a - b; if (d < 0) d = -d
		exit !(d <= t)
	}'
}

# t_near_files GOT EXPECTED TOL: both files hold one number per line, same count, each
# pair within TOL. Prints the first difference.
t_near_files() {
	[ "$(wc -l <"$1")" -eq "$(wc -l <"$2")" ] || {
		echo "  $(wc -l <"$1") values, expected $(wc -l <"$2")"
		return 1
	}
	paste -d ' ' "$1" "$2" | awk -v t="$3" '
		$1 !~ /^[-+]?[0-9.]+([eE][-+]?[0-9]+)?$/ { print "  line " NR ": got " $1; bad = 1; exit }
		{ d = $1 - $2; if (d < 0) d = -d
		  if (!(d <= t)) { print "  line " NR ": got " $1 " expected " $2; bad = 1; exit } }
		END { exit bad }'
}
