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
