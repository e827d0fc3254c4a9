#!/bin/sh
# check-completion.sh: the bash completion for inferctl offers its commands and options.
# bash-completion's own helpers are replaced by minimal stand-ins, so the package need not
# be installed; the commands expected come from inferctl --help.

# shellcheck source=lib.sh
. "${top_srcdir:?run through make check}/tests/lib.sh"

command -v bash >/dev/null 2>&1 || t_skip "bash is not installed"
[ -x "$T_INFERCTL" ] || { echo "FAIL $T_INFERCTL is not built"; exit 1; }
COMP=$top_srcdir/contrib/bash-completion/inferctl
t_setup

# complete WORDS...: the completions bash offers for the command line WORDS (the last is
# the word being completed), one per line.
complete_words() {
	bash -c '
		_init_completion() {
			words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
			cur=${words[cword]}; prev=${words[cword-1]}
		}
		_filedir() { COMPREPLY=(FILES); }
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_inferctl
		[ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"' sh "$COMP" "$@"
}

bash -n "$COMP"
t_check "the completion file is valid bash" [ $? -eq 0 ]

# Every command in --help's list is offered first.
"$T_INFERCTL" --help | sed -n '/^Commands:/,/^$/p' | awk '/^  [a-z]/ { print $1 }' | sort -u >"$T_DIR/help.cmds"
complete_words inferctl "" | sort -u >"$T_DIR/offered"
missing=$(comm -23 "$T_DIR/help.cmds" "$T_DIR/offered" | tr '\n' ' ')
t_check "every command of --help is completed (missing: ${missing:-none})" [ -z "$missing" ]
t_check "at least the ten commands are listed in --help" [ "$(wc -l <"$T_DIR/help.cmds")" -ge 10 ]

# offers WANT WORDS...: the completions of WORDS, space-separated, are exactly WANT.
offers() {
	_want=$1
	shift
	[ "$(complete_words "$@" | tr '\n' ' ')" = "$_want" ]
}
# includes OPTION WORDS...: OPTION is among the completions of WORDS.
includes() {
	_opt=$1
	shift
	complete_words "$@" | grep -qx -- "$_opt"
}

t_check "after --socket PATH the commands are completed" offers "ready reload " inferctl --socket /x re
t_check "smoke --on-failure offers the four policies" \
	offers "rollback fail warn config " inferctl smoke --on-failure ""
t_check "infer -o offers predict and margin" offers "predict margin " inferctl infer m -o ""
for o in --csv --no-header --header --delimiter --model-version; do
	t_check "infer offers $o" includes "$o" inferctl infer m --
done
t_check "infer --csv completes a file name" offers "FILES " inferctl infer m --csv ""
t_check "smoke --json completes no file" offers "" inferctl smoke --json x
t_check "ready offers --json" offers "--json " inferctl ready --j
t_check "options after the command: models --socket completes a path" \
	offers "FILES " inferctl models --socket ""
t_summary
