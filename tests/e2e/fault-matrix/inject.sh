#!/bin/bash
# inject.sh: runs one fault injection inside the container and stamps its start and end.
#
# Usage: inject.sh OUTDIR CMD...  writes OUTDIR/t_inject and OUTDIR/t_inject_end
# (CLOCK_REALTIME ns, the clock the client logs with), OUTDIR/inject.log and inject.rc.
out=$1
shift
date +%s%N >"$out/t_inject"
"$@" >"$out/inject.log" 2>&1
echo $? >"$out/inject.rc"
date +%s%N >"$out/t_inject_end"
