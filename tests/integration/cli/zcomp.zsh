# zsh -f zcomp.zsh SCRIPT LINE... - what zsh's completion offers at the end
# of each LINE with the completion SCRIPT loaded: for each LINE, a line
# "== LINE" then the matches, one a line (sorted, each once).  It types
# LINE and a TAB into an interactive zsh on a pseudo-terminal (zsh/zpty),
# where compadd also writes every match it adds to a file.  Exits 77 when
# zsh/zpty is missing.
zmodload zsh/zpty 2>/dev/null || exit 77
script=${1:a}
shift
out=$(mktemp "${TMPDIR:-/tmp}/zcomp.XXXXXX") || exit 2
zpty z zsh -f -i
zpty -w z 'PS1= RPS1=; setopt interactive_comments; unset zle_bracketed_paste'
zpty -w z "autoload -U compinit; compinit -u -D; source ${(q)script}"
zpty -w z "__out=${(q)out}"
zpty -w z 'compadd() {
  # calls that only ask which words match add nothing
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi
  local -a __hits
  builtin compadd -O __hits "$@"
  (( $#__hits )) && print -rl -- "<<M>>"$^__hits >>$__out
  builtin compadd "$@"
}'
zpty -w z 'zstyle ":completion:*" list-prompt ""; zstyle ":completion:*" menu no; LISTMAX=1000000'
# ^T completes, then says so on the terminal
zpty -w z 'zle -C __complete complete-word _main_complete
__complete_said() { zle __complete; print -n -- "<<COMP""LETED>>" >/dev/tty }
zle -N __complete_said; bindkey "^T" __complete_said'
# the quotes keep the echo of a command from matching what it prints
zpty -w z "print -r -- RE''ADY"
zpty -r z x '*READY*' || exit 2
for line in "$@"; do
  zpty -w z "print -r -- ${(q):-<<L>>$line} >>\$__out"
  zpty -n -w z "$line"$'\C-t'
  zpty -r z x '*<<COMPLETED>>*' || exit 2
  zpty -n -w z $'\C-u'
done
zpty -w z "print -r -- DO''NE"
zpty -r z x '*DONE*' || exit 2
zpty -d z
awk '/^<<L>>/ { if (n) { close(sort) } print "== " substr($0, 6); sort = "sort -u"; n = 1; fflush(); next }
     /^<<M>>/ { print substr($0, 6) | sort }' "$out"
rm -f "$out"
