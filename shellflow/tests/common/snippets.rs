//! Valid and broken snippets shared by the parse-acceptance test (against `bash -n`) and
//! the fast-parse test (against brush-parser).

/// Snippets of entrypoint scripts, the valid ones first, then broken ones.
pub const SNIPPETS: &[&str] = &[
    "exec \"$@\"",
    "if [ \"${1:0:1}\" = '-' ]; then set -- postgres \"$@\"; fi",
    "case \"$1\" in -*) set -- x \"$@\";; *.conf) :;; esac",
    "[[ $1 == --* && $# -gt 0 ]] && echo yes",
    "arr=(a 'b c'); arr+=(d); echo \"${arr[@]}\" \"${#arr[@]}\" \"${!arr[@]}\"",
    "echo ${!POSTGRES_@} ${v:2:3} ${v/a/b} ${v//a/b} ${v#x} ${v##x} ${v%x} ${v%%x} ${#v} ${!v}",
    "f() { local x=${1:-d}; return 0; }\nf a",
    "cat <<EOF\nhello $USER\nEOF\n",
    "cat <<-'EOF'\n\tliteral\n\tEOF\n",
    "x=$(( 1 + 2 * 3 )); (( x > 3 )) && echo big",
    "while read -r line; do echo \"$line\"; done < /etc/passwd",
    "for f in /docker-entrypoint-initdb.d/*; do case \"$f\" in *.sh) . \"$f\";; esac; done",
    "{ echo a; echo b; } > /tmp/x 2>&1",
    "( cd /tmp && exec ls )",
    "echo `id -u` $(whoami)",
    "[[ $x =~ ^[0-9]+$ ]] && echo num",
    "set -Eeuo pipefail; trap 'echo err' ERR",
    "if ! _is_sourced; then _main \"$@\"; fi",
    "exec gosu postgres \"$BASH_SOURCE\" \"$@\"",
    "until false; do break; done",
    // Broken ones.
    "if true; then echo",
    "case x in",
    "echo $(",
    "fi",
    "done",
    "while true; do",
    "f() {",
    "echo \"unterminated",
    "echo 'unterminated",
    "{ echo a",
    "then echo",
    "esac",
];
