#!/usr/bin/env bash
# Prints the Debian mirror this machine's apt already uses for the main archive (the URI serving
# the release suite, e.g. bookworm, not -security or -updates), read from /etc/apt/sources.list and
# /etc/apt/sources.list.d/ (one-line `deb URI SUITE ...` and deb822 `URIs:`/`Suites:` stanzas;
# files with other extensions, e.g. *.disabled, are not read by apt and not read here). The
# bootstraps (.ci/docker-setup.sh, .ci/arm64.sh) use it, so CI talks to the mirror the runner is
# configured for instead of a host name written into a script.
#   usage: bash .ci/debian-mirror.sh [SUITE]     (default bookworm); exit 1 when none is configured
set -euo pipefail
suite="${1:-bookworm}"
root="${APT_SOURCES_ROOT:-/etc/apt}"  # another root only for the script's own test
files=()
[ -f "$root/sources.list" ] && files+=("$root/sources.list")
for f in "$root"/sources.list.d/*.list "$root"/sources.list.d/*.sources; do
  [ -f "$f" ] && files+=("$f")
done
[ "${#files[@]}" -gt 0 ] || { echo "no apt sources under $root" >&2; exit 1; }
awk -v suite="$suite" '
  function emit(uri) { sub(/\/+$/, "", uri); print uri; found = 1; exit }
  function stanza_end() {  # a deb822 stanza ends at a blank line or the end of its file
    if (types ~ /[[:space:]]deb([[:space:]]|$)/ && index(suites, " " suite " ") && uris != "") emit(uris)
    uris = ""; suites = ""; types = ""
  }
  FNR == 1 { stanza_end() }
  /^[[:space:]]*#/ { next }
  # one-line format: deb [options] URI SUITE COMPONENTS...
  $1 == "deb" {
    i = 2
    if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
    if ($(i + 1) == suite) emit($i)
    next
  }
  # deb822 format
  /^Types:/  { types = $0 }
  /^URIs:/   { uris = $2 }
  /^Suites:/ { suites = " " substr($0, 8) " " }
  /^[[:space:]]*$/ { stanza_end() }
  END { if (!found) { stanza_end() } if (!found) exit 1 }
' "${files[@]}" || { echo "no apt source for suite $suite in ${files[*]}" >&2; exit 1; }
