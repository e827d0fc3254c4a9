#!/bin/sh
# check-units.sh: the systemd units, sysusers.d file and packaged config, as generated from
# systemd/*.in: systemd-analyze verify, sandbox exposure <= 2.0, and consistency.
# Copies point at the build tree (verify needs ExecStart= to exist).

# shellcheck source=lib.sh
. "${top_srcdir:?run through make check}/tests/lib.sh"

command -v systemd-analyze >/dev/null 2>&1 || t_skip "systemd-analyze is not installed (apt-get install systemd)"
[ -x "$T_INFERD" ] || { echo "FAIL $T_INFERD is not built"; exit 1; }

t_setup
D=$T_DIR
U=$D/units
mkdir -p "$U" "$D/etc/inferd" "$D/root/etc"

# The same placeholders as the Makefile's subst_paths, with build-tree values.
gen() { # gen TEMPLATE OUT
	sed -e "s|@sbindir@|$top_builddir/src|g" \
		-e "s|@bindir@|$top_builddir/src|g" \
		-e "s|@sysconfdir@|$D/etc|g" \
		-e "s|@runstatedir@|/run|g" \
		-e "s|@localstatedir@|/var|g" \
		-e "s|@pkgdatadir@|$top_srcdir/src|g" \
		-e "s|@docdir@|/usr/share/doc/inferd|g" \
		-e "s|@PACKAGE_VERSION@|0|g" "$top_srcdir/systemd/$1" >"$2"
}
gen inferd.service.in "$U/inferd.service"
gen inferd.socket.in "$U/inferd.socket"
gen inferd.sysusers.in "$D/inferd.sysusers"
gen inferd.conf.in "$D/etc/inferd/inferd.conf"

t_check "no placeholder left in the generated files" \
	sh -c '! grep -n "@[A-Za-z_]*@" "$@"' - "$U/inferd.service" "$U/inferd.socket" \
	"$D/inferd.sysusers" "$D/etc/inferd/inferd.conf"

if systemd-analyze verify --man=no "$U/inferd.socket" "$U/inferd.service" >"$D/verify" 2>&1 &&
	! grep -q . "$D/verify"; then
	t_pass "systemd-analyze verify: both units clean"
else
	cat "$D/verify"
	t_fail "systemd-analyze verify: both units clean"
fi

# Exposure is printed with one decimal, 0.0 (best) .. 10.0; --threshold is in tenths.
systemd-analyze security --offline=yes --threshold=20 "$U/inferd.service" >"$D/security" 2>&1
sec_rc=$?
exposure=$(sed -n 's/.*Overall exposure level for inferd\.service: *\([0-9][0-9.]*\).*/\1/p' "$D/security")
echo "exposure: ${exposure:-?} (systemd-analyze security --offline=yes)"
if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' && [ $sec_rc -eq 0 ]; then
	t_pass "sandbox exposure $exposure <= 2.0"
else
	grep '✗' "$D/security"
	t_fail "sandbox exposure ${exposure:-unparsed} <= 2.0 (systemd-analyze exit $sec_rc)"
fi

# Settings the daemon depends on, which a score cannot show.
setting() { # setting FILE KEY: the last value of KEY=
	sed -n "s/^$2=//p" "$1" | tail -n 1
}
t_check "Type=notify with NotifyAccess=main" \
	test "$(setting "$U/inferd.service" Type)/$(setting "$U/inferd.service" NotifyAccess)" = notify/main
t_check "runs as user and group inferd" \
	test "$(setting "$U/inferd.service" User):$(setting "$U/inferd.service" Group)" = inferd:inferd
t_check "restarts within 1 s of a crash" \
	test "$(setting "$U/inferd.service" Restart)/$(setting "$U/inferd.service" RestartSec)" = on-failure/100ms
t_check "the runtime directory (the socket's) survives restarts and stops" \
	test "$(setting "$U/inferd.service" RuntimeDirectoryPreserve)" = yes
t_check "PrivateUsers= is not set (SO_PEERCRED must see real uids)" \
	sh -c '! grep -q "^PrivateUsers=" "$1"' - "$U/inferd.service"
t_check "ExecReload= waits for the daemon's verdict (inferctl reload)" \
	test "$(setting "$U/inferd.service" ExecReload)" = "$top_builddir/src/inferctl --config $D/etc/inferd/inferd.conf reload"
t_check "the service requires its socket" \
	test "$(setting "$U/inferd.service" Requires)" = inferd.socket
t_check "the socket is 0660, group inferd" \
	test "$(setting "$U/inferd.socket" SocketMode):$(setting "$U/inferd.socket" SocketGroup)" = 0660:inferd

# The config the service reads must name the socket the socket unit makes, and the state
# directory that StateDirectory= makes.
listen=$(setting "$U/inferd.socket" ListenStream)
conf_sock=$(sed -n 's/^[[:space:]]*path[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$D/etc/inferd/inferd.conf" | head -n 1)
t_check "config socket.path ($conf_sock) = ListenStream= ($listen)" test "$conf_sock" = "$listen"
t_check "ListenStream= is inside RuntimeDirectory=" \
	test "$listen" = "/run/$(setting "$U/inferd.service" RuntimeDirectory)/inferd.sock"
conf_state=$(sed -n 's/^[[:space:]]*state_dir[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$D/etc/inferd/inferd.conf")
t_check "config state_dir ($conf_state) = /var/lib/StateDirectory=" \
	test "$conf_state" = "/var/lib/$(setting "$U/inferd.service" StateDirectory)"

# The packaged config, with the repository root pointing at the source tree's models.
if "$T_INFERD" --check-config --config "$D/etc/inferd/inferd.conf" >"$D/check" 2>&1; then
	t_pass "inferd --check-config accepts the packaged config (bundled model found)"
else
	cat "$D/check"
	t_fail "inferd --check-config accepts the packaged config (bundled model found)"
fi

# sysusers.d: applied to an empty root, it makes the user and its group.
if command -v systemd-sysusers >/dev/null 2>&1; then
	if systemd-sysusers --root="$D/root" "$D/inferd.sysusers" >"$D/sysusers" 2>&1; then
		t_check "sysusers makes user inferd (home /var/lib/inferd, no login shell)" \
			grep -q '^inferd:x:[0-9]*:[0-9]*:[^:]*:/var/lib/inferd:/usr/sbin/nologin$' "$D/root/etc/passwd"
		t_check "sysusers makes group inferd" grep -q '^inferd:x:' "$D/root/etc/group"
	else
		cat "$D/sysusers"
		t_fail "systemd-sysusers accepts inferd.sysusers"
	fi
else
	echo "systemd-sysusers missing: sysusers file not applied"
fi

t_summary
