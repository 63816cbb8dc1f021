#!/usr/bin/env bash
# layers.sh: the include check, run by `make check`. Every file of a
# component (a directory of the tree: lib, pkg, hv/machine, ...) may include
# its own headers and those of the components the Makefile's DEPS_<dir>
# names (`make print-layers`), nothing else; every host source is in
# exactly one component's list (`make print-sources`). Prints TAP: one test
# per component, one for the lists, and a self-test that plants a
# forbidden include and expects it caught.
#
# Usage: tests/lint/layers.sh
#        tests/lint/layers.sh --check ROOT RULES   (one pass over ROOT;
#          RULES has lines "dir: dep dep ..."; exit 1 on a violation)
set -u
cd "$(dirname "$0")/../.." || exit 2

# component PATH: the component a path belongs to (its directory; the
# files directly in hv/ are the monitor's assembly layer).
component() {
    local d=${1%/*}
    case $d in
    hv/machine | hv/dev | hv/svc) echo "$d" ;;
    */*) echo "${d%%/*}" ;;
    *) echo "$d" ;;
    esac
}

# check ROOT RULES: one line "FILE:LINE: includes "X" (...)" per forbidden
# include in the components RULES names.
check() {
    local root=$1 rules=$2 dir deps f comp line inc target
    declare -A allow
    while IFS=: read -r dir deps; do
        allow[$dir]=" $dir$deps "
    done <"$rules"
    for dir in "${!allow[@]}"; do
        [ -d "$root/$dir" ] || continue
        while IFS= read -r f; do
            comp=$(component "${f#"$root"/}")
            [ "$comp" = "$dir" ] || continue
            while IFS=: read -r line inc; do
                target=${inc#\"}
                target=${target%\"}
                case $target in */*) ;; *) continue ;; esac
                [[ ${allow[$comp]} == *" $(component "$target") "* ]] && continue
                echo "${f#"$root"/}:$line: includes \"$target\" ($comp may use only itself and:${allow[$comp]#" $comp"})"
            done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
                sed -E 's/^([0-9]+):[^"]*("[^"]*").*/\1:\2/')
        done < <(find "$root/$dir" -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' -o -name '*.S' \))
    done
}

if [ "${1:-}" = "--check" ]; then
    out=$(check "$2" "$3")
    [ -z "$out" ] || { echo "$out"; exit 1; }
    exit 0
fi

rules=$(mktemp)
self=$(mktemp -d)
trap 'rm -rf "$rules" "$self"' EXIT
make -s --no-print-directory print-layers >"$rules" || exit 2
echo "1..$(($(wc -l <"$rules") + 2))"
i=0
while IFS=: read -r dir deps; do
    i=$((i + 1))
    out=$(check . <(grep -E "^$dir:" "$rules"))
    if [ -z "$out" ]; then
        echo "ok $i - $dir includes only itself and:${deps:- nothing}"
    else
        echo "not ok $i - $dir includes across a boundary it may not cross"
        echo "$out" | sed 's/^/# /'
    fi
done <"$rules"

# Every host C source is in exactly one component's list.
i=$((i + 1))
listed=$(make -s --no-print-directory print-sources | sort)
on_disk=$(git ls-files -- lib firmware pkg tpm audit keys lab verifier hv cli |
    grep -E '\.c$' | sort)
dups=$(uniq -d <<<"$listed")
diff=$(diff <(echo "$on_disk") <(uniq <<<"$listed") | grep '^[<>]')
if [ -z "$dups$diff" ]; then
    echo "ok $i - every host source is in exactly one component's list"
else
    echo "not ok $i - the component lists and the tree disagree"
    echo "$diff" | sed 's/^</# not listed:/; s/^>/# listed, not in git:/'
    [ -z "$dups" ] || echo "$dups" | sed 's/^/# listed twice: /'
fi

# Self-test: an include of verifier/ planted in hv/dev/ must be caught.
i=$((i + 1))
mkdir -p "$self/hv/dev"
printf '#include "lib/hv_log.h"\n#include "verifier/vrf_proc.h"\n' >"$self/hv/dev/x.c"
if out=$("$0" --check "$self" "$rules") ||
    [[ $out != *'hv/dev/x.c:2: includes "verifier/vrf_proc.h"'* ]]; then
    echo "not ok $i - the check catches a planted forbidden include"
    echo "# got: $out"
else
    echo "ok $i - the check catches a planted forbidden include"
fi
