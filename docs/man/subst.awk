# subst.awk: fills the @name@ placeholders of a man page source with the configured paths
# (from subst_NAME environment variables), escaping scdoc's markup characters in them: a
# prefix such as distcheck's .../_inst would otherwise start underlining.
function esc(s,    out, i, c) {
	out = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "_" || c == "*" || c == "\\")
			out = out "\\"
		out = out c
	}
	return out
}
BEGIN {
	n = split("sbindir bindir sysconfdir runstatedir localstatedir pkgdatadir docdir PACKAGE_VERSION", names, " ")
	for (k = 1; k <= n; k++)
		val[names[k]] = esc(ENVIRON["subst_" names[k]])
	bad = 0
}
{
	line = $0
	out = ""
	while (match(line, /@[A-Za-z_]+@/)) {
		name = substr(line, RSTART + 1, RLENGTH - 2)
		if (name in val) {
			rep = val[name]
		} else {
			printf "%s:%d: unknown placeholder @%s@\n", FILENAME, FNR, name > "/dev/stderr"
			bad = 1
			rep = ""
		}
		out = out substr(line, 1, RSTART - 1) rep
		line = substr(line, RSTART + RLENGTH)
	}
	print out line
}
END {
	exit bad
}
