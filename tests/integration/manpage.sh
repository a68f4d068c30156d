#!/usr/bin/env bash
# The man page reads cleanly: mandoc's lint finds nothing at warning level, groff renders
# it without a warning, and every flag of `salvo --help` is in it.
. "$(dirname "$0")/../lib.sh"
PAGE="$SALVO_ROOT/docs/salvo.1"
check_eq "mandoc -T lint -W warning prints nothing" "" "$(mandoc -T lint -W warning "$PAGE" 2>&1)"
check_eq "groff renders it without a warning" "" "$(groff -man -Tutf8 -ww "$PAGE" 2>&1 >/dev/null)"
missing=""
for flag in $("$SALVO" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
    # The page writes a flag's hyphens as \- (roff's minus sign).
    grep -qF -- "$(sed 's/-/\\-/g' <<<"$flag")" "$PAGE" || missing="$missing $flag"
done
check_eq "every flag of --help is in the page" "" "$missing"
finish
