# arch.sh: sourced by tests/arch/*: the names one Debian architecture goes by.
# arch_names ARCH: sets GNU_TYPE (configure --host), QEMU (qemu-user program, with -L),
# UNAME_M (what uname -m says under that emulator). Returns 1 for an unknown ARCH.
# -L /: the dynamic loader and libraries are the multiarch ones dpkg installed for ARCH
# (libc6:ARCH puts /lib/ld-linux-aarch64.so.1 or /lib/ld-linux.so.2 in place, and that
# loader searches /usr/lib/TRIPLET). -L /usr/aarch64-linux-gnu would load the cross
# toolchain's own libc, which need not match the multiarch libraries' version.
arch_names() {
	case $1 in
	amd64) GNU_TYPE=x86_64-linux-gnu QEMU= UNAME_M=x86_64 ;;
	arm64) GNU_TYPE=aarch64-linux-gnu QEMU="qemu-aarch64 -L /" UNAME_M=aarch64 ;;
	i386) GNU_TYPE=i686-linux-gnu QEMU="qemu-i386 -L /" UNAME_M=i686 ;;
	*) return 1 ;;
	esac
}

# arch_wrap ARCH BUILDDIR: the foreign daemon and client moved to BUILDDIR/src/.ARCH/ and
# replaced by scripts that exec them under qemu-user, so that whatever starts them by path
# (the suites, the scripts, compare.py) runs them. The scripts are newer than the objects,
# so make leaves them; a relink after a source change replaces them, and the next call
# wraps again.
arch_wrap() {
	arch_names "$1" || return 1
	set -- "$1" "$(cd "$2" && pwd)" || return 1
	mkdir -p "$2/src/.$1" || return 1
	for _p in inferd inferctl; do
		head -c 4 "$2/src/$_p" | grep -q ELF || continue
		mv -f "$2/src/$_p" "$2/src/.$1/$_p" &&
			printf '#!/bin/sh\n# %s under qemu-user (tests/arch/arch.sh)\nexec %s %s "$@"\n' \
				"$_p" "$QEMU" "$2/src/.$1/$_p" >"$2/src/$_p.tmp" &&
			chmod 755 "$2/src/$_p.tmp" && mv -f "$2/src/$_p.tmp" "$2/src/$_p" || return 1
	done
}
