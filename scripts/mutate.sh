#!/usr/bin/env bash
# Mutation run: break one line of production code at a time, run the tests that should
# notice, and report CAUGHT or SURVIVED for each mutation. Exits 1 if any mutation
# survived (or no longer applies, or does not build), so a promise whose test went blind
# shows up.
#
#   scripts/mutate.sh                 every mutation of scripts/mutations.txt
#   scripts/mutate.sh fsync split     only those whose description contains a word given
#   MUTATIONS=file TIMEOUT=5m scripts/mutate.sh
#   DRY=1 scripts/mutate.sh           check that every mutation applies and builds; no tests
#   KEEP=1 scripts/mutate.sh …        keep the scratch copy and each mutation's test log
#
# The table (scripts/mutations.txt) has one mutation a line, fields separated by "|":
#
#   file | sed expression | description | test packages
#
# file is relative to the repository root; the sed expression (GNU sed, applied with
# `sed -e`; it must not contain "|": use s@…@…@ or s#…#…#) must change the file; the
# packages are given to `go test -count=1` (space-separated, e.g. "./outbox ./sidecar").
# Blank lines and lines starting with # are skipped.
#
# The work happens in a scratch copy of the commit checked out (HEAD: git-tracked files
# only, uncommitted changes left out; the commit is printed) made once under $TMPDIR, so
# the checkout is never touched and may change while the run goes on. The table is read
# once at the start (from the working tree, or $MUTATIONS). Tests run without -race
# (speed), each package run bounded by $TIMEOUT (default 5m). A test that times out counts as catching the mutation (reported as a timeout: the
# suite should fail fast instead). SIDECAR_TEST_REQUIRE_STRACE
# is set so that the fsync test fails instead of skipping where strace cannot trace.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
table=${MUTATIONS:-$root/scripts/mutations.txt}
timeout=${TIMEOUT:-5m}
export PATH="/usr/local/go/bin:$PATH"
export SIDECAR_TEST_REQUIRE_STRACE=1

[ -f "$table" ] || { echo "mutate: no table $table" >&2; exit 2; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/cad-sidecar-mutate.XXXXXX")
if [ -n "${KEEP:-}" ]; then
  echo "mutate: scratch copy and logs kept in $scratch (.mutate-logs/N.log)"
else
  trap 'rm -rf "$scratch"' EXIT
fi
# One copy of the commit checked out (git-tracked files at HEAD), taken once: a working
# tree that changes during a long run (a merge, a checkout) does not change the run.
commit=$(git -C "$root" rev-parse HEAD)
echo "mutate: running on commit $commit ($(git -C "$root" log -1 --format=%s HEAD | cut -c1-60))"
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no)" ]; then
  echo "mutate: note: uncommitted changes in $root are not part of the run"
fi
logdir=$scratch/.mutate-logs
mkdir -p "$scratch/tree" "$logdir"
git -C "$root" archive "$commit" | tar -C "$scratch/tree" -xf -
# The table, read once (a table edited during the run does not change it).
cp "$table" "$logdir/mutations.txt"
table_name=$table
table=$logdir/mutations.txt
cd "$scratch/tree"
pristine=$logdir/pristine

matches() { # description, filter words...
  local d=$1; shift
  [ $# -eq 0 ] && return 0
  local w
  for w in "$@"; do
    case "$d" in *"$w"*) return 0 ;; esac
  done
  return 1
}

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; s=${s%"${s##*[![:space:]]}"}; printf '%s' "$s"; }

total=0 caught=0
bad=()
n=0
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in ''|'#'*) continue ;; esac
  n=$((n + 1))
  IFS='|' read -r file expr desc pkgs extra <<<"$line"
  file=$(trim "$file") expr=$(trim "$expr") desc=$(trim "$desc") pkgs=$(trim "$pkgs")
  if [ -n "${extra:-}" ] || [ -z "$file" ] || [ -z "$expr" ] || [ -z "$pkgs" ]; then
    echo "mutate: $table_name: mutation $n is not 'file|sed expression|description|packages': $line" >&2
    exit 2
  fi
  matches "$desc" "$@" || continue
  total=$((total + 1))
  log="$logdir/$n.log"
  start=$(date +%s)
  if [ ! -f "$file" ]; then
    status="NOT APPLIED (no file $file)"
  else
    cp "$file" "$pristine"
    if ! sed -i -e "$expr" "$file" 2>"$log"; then
      status="NOT APPLIED (sed: $(head -1 "$log"))"
    elif cmp -s "$pristine" "$file"; then
      status="NOT APPLIED (the expression changed nothing)"
    elif ! go vet "./$(dirname "$file")" >"$log" 2>&1; then
      # go test runs part of vet: a mutation vet refuses would be "caught" by vet alone.
      status="BROKEN (does not build, or go vet refuses it)"
    elif [ -n "${DRY:-}" ]; then
      status="APPLIES"
      caught=$((caught + 1))
    else
      # shellcheck disable=SC2086 # pkgs is a list
      if go test -count=1 -timeout "$timeout" $pkgs >>"$log" 2>&1; then
        status="SURVIVED"
      else
        # Which tests saw it: the failed top-level tests, or a build failure or timeout.
        by=$(grep -oE '^--- FAIL: [^ ]+|^FAIL\s+\S+ \[build failed\]' "$log" |
          sed -e 's/^--- FAIL: //' | sort -u | head -6 | paste -sd, - || true)
        if grep -q '^panic: test timed out' "$log"; then # the tests still running then
          hung=$(awk '/^panic: test timed out/ {t=1; next} t && !/^\t/ {t=0} t && /^\t\t/ {print $1}' "$log" |
            head -3 | paste -sd, - || true)
          by="${by:+$by,}a timeout (${hung:-?} hung)"
        fi
        status="CAUGHT by ${by:-?}"
        caught=$((caught + 1))
      fi
    fi
    cp "$pristine" "$file"
  fi
  secs=$(( $(date +%s) - start ))
  line_out=$(printf '%-9s %4ss  #%-2d %s  [%s: %s]' "${status%% *}" "$secs" "$n" "$desc" "$file" "$pkgs")
  case "$status" in "CAUGHT by"*) line_out+=" ${status#CAUGHT }" ;; esac
  echo "$line_out"
  if [ "${status%% *}" != CAUGHT ] && [ "$status" != APPLIES ]; then
    bad+=("#$n $desc: $status")
    if [ "${status#BROKEN}" != "$status" ]; then
      tail -20 "$log" >&2
    fi
  fi
done <"$table"

echo
echo "mutate: caught $caught of $total (commit $commit)"
if [ ${#bad[@]} -gt 0 ]; then
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
