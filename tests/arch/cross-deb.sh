#!/bin/sh
# cross-deb.sh: cross-builds the .deb for a foreign architecture twice, lints it, compares.
#
# Usage: cross-deb.sh ARCH DISTDIR OUTDIR
#   ARCH     Debian architecture (arm64, i386)
#   DISTDIR  an unpacked `make distdir` tree (inferd-VERSION/)
#   OUTDIR   where the two builds go (OUTDIR/1, OUTDIR/2; removed first)
# As make check-repro does for amd64: build 1 in one directory, build 2 seconds later from
# a fresh copy in a directory of another name and length, under another time zone and
# locale; the .deb files must be bit-identical. Both are `dpkg-buildpackage -a ARCH` with
# the nocheck profile (the suites run under qemu-user separately: tests/arch/run-suites.sh).
# lintian (errors and warnings fail) runs on build 1. Prints one line per result:
#   deb ARCH: built NAME (N s) | reproducible: yes/no | lintian: clean/FAIL
# Exit 0 when all three hold.
set -u
arch=$1 src=$2 out=$3
opts=${DEB_BUILD_OPTIONS-nocheck}
rm -rf "$out" && mkdir -p "$out/1/b" "$out/2/second-build-directory" || exit 1
pv=$(basename "$src")
cp -R "$src" "$out/1/b/$pv" && cp -R "$src" "$out/2/second-build-directory/$pv" || exit 1
status=0
t0=$(date +%s)
(cd "$out/1/b/$pv" && DEB_BUILD_OPTIONS=$opts dpkg-buildpackage -a "$arch" -Pnocheck -us -uc -b) \
	>"$out/1/log" 2>&1 || { tail -n 40 "$out/1/log"; echo "deb $arch: build 1 FAILED (log: $out/1/log)"; exit 1; }
t1=$(date +%s)
deb=$(ls "$out/1/b/"inferd_*_"$arch".deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { echo "deb $arch: no *_$arch.deb in $out/1/b"; exit 1; }
echo "deb $arch: built $(basename "$deb") ($((t1 - t0)) s)"
sleep 2
(cd "$out/2/second-build-directory/$pv" && TZ=Pacific/Kiritimati LC_ALL=C.UTF-8 \
	DEB_BUILD_OPTIONS=$opts dpkg-buildpackage -a "$arch" -Pnocheck -us -uc -b) \
	>"$out/2/log" 2>&1 || { tail -n 40 "$out/2/log"; echo "deb $arch: build 2 FAILED (log: $out/2/log)"; exit 1; }
for d in "$out"/1/b/*.deb; do
	other="$out/2/second-build-directory/$(basename "$d")"
	sa=$(sha256sum <"$d" | cut -d' ' -f1)
	sb=$( [ -f "$other" ] && sha256sum <"$other" | cut -d' ' -f1 || echo missing)
	echo "$sa  build 1: $(basename "$d")"
	echo "$sb  build 2: $(basename "$d")"
	if [ "$sa" != "$sb" ]; then
		status=1
		echo "deb $arch: reproducible: no ($(basename "$d") differs)"
		command -v diffoscope >/dev/null && diffoscope --text - "$d" "$other" | head -n 100
	fi
done
[ $status -eq 0 ] && echo "deb $arch: reproducible: yes"
if lintian --fail-on error,warning --info "$out"/1/b/*.changes >"$out/lintian.out" 2>&1; then
	echo "deb $arch: lintian: clean"
else
	cat "$out/lintian.out"; echo "deb $arch: lintian: FAIL"; status=1
fi
exit $status
