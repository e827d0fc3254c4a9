#!/bin/bash
# a-deploy.sh: alternative A's manual procedure, inside its container: copy, restart in the background.
#
# Usage: a-deploy.sh RELEASE
#   /fm/releases/RELEASE/{inferd,inferctl,inferd.conf,model.json,golden.json} are copied
#   where the package would put them (install(1) replaces a running binary), the running
#   daemon is stopped, and a new one is started in the background as user inferd. There is
#   no readiness gate, no smoke test and no rollback: the script returns as soon as the
#   new process is started, as `inferd ... &` typed by hand would.
set -u
rel=/fm/releases/$1
[ -d "$rel" ] || { echo "a-deploy: no release $1" >&2; exit 2; }
m=/usr/share/inferd/models/breast-cancer/1
install -d -m 0755 /etc/inferd "$m"
install -d -o inferd -g inferd -m 0755 /run/inferd
install -m 0755 "$rel/inferd" /usr/sbin/inferd
install -m 0755 "$rel/inferctl" /usr/bin/inferctl
install -m 0644 "$rel/inferd.conf" /etc/inferd/inferd.conf
install -m 0644 "$rel/model.json" "$m/model.json"
install -m 0644 "$rel/golden.json" "$m/golden.json"
if [ -s /run/inferd.pid ]; then
	pid=$(cat /run/inferd.pid)
	kill "$pid" 2>/dev/null
	# Wait for it to exit (bounded), so the new one can take the socket path.
	# (A zombie counts as gone: nothing in this container reaps it.)
	for _ in $(seq 1 150); do
		state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)
		[ -n "$state" ] && [ "$state" != Z ] || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
fi
setpriv --reuid=inferd --regid=inferd --init-groups -- \
	/usr/sbin/inferd --config /etc/inferd/inferd.conf >>/var/log/inferd.log 2>&1 &
echo $! >/run/inferd.pid
echo "a-deploy: $1 started (PID $!)"
