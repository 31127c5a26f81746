#!/usr/bin/env bash
# valgrind.sh WEIR - the CLI tests (tests/test_cli.sh) with weir commands run under valgrind
# memcheck by scripts/valgrind-weir: the first command of each shape (subcommand and options),
# or every command with WEIR_VALGRIND_ALL=1 (some 30 minutes instead of 5).  WEIR is a plain
# build of weir, without sanitizers.  A test that fails fails, and so does any valgrind report
# (a memory error or a definite or indirect leak), wherever the test put the command's stderr:
# each report is printed here.  Ends with "N passed, N failed": test_cli's counts, plus one
# check that valgrind reported nothing.
set -uo pipefail
bin=${1:?usage: valgrind.sh WEIR}
cd "$(dirname "$0")/.." || exit 1
if ! command -v valgrind >/dev/null; then
    echo "valgrind.sh needs valgrind (apt-get install valgrind)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
[ -x "$bin" ] || {
    echo "$bin did not build" >&2
    echo "0 passed, 1 failed"
    exit 1
}
logs=$(mktemp -d)
out=$(mktemp)
trap 'rm -rf "$logs" "$out"' EXIT
WEIR_VALGRIND_BIN=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
export WEIR_VALGRIND_BIN WEIR_VALGRIND_LOGS=$logs

start=$(date +%s)
WEIR=$PWD/scripts/valgrind-weir tests/test_cli.sh >"$out" 2>&1
rc=$?
secs=$(($(date +%s) - start))
grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$out"
last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
if [ -n "$last" ]; then
    p=${last%% passed*}
    f=${last#*, }
    f=${f%% failed}
else
    p=0
    f=1
    echo "test_cli.sh printed no result line (exit status $rc)" >&2
fi

runs=$( { wc -l <"$logs/runs"; } 2>/dev/null || echo 0)
vg=0
bad=0
for l in "$logs"/vg.*.log; do
    [ -e "$l" ] || continue
    vg=$((vg + 1))
    if [ -s "$l" ]; then
        bad=$((bad + 1))
        echo "valgrind report, ${l##*/}:" >&2
        sed 's/^/    /' "$l" >&2
    fi
done
echo "valgrind: $vg of $runs weir commands run under valgrind, in $secs s; $bad reported"
if [ "$bad" -eq 0 ] && [ "$vg" -gt 0 ]; then p=$((p + 1)); else f=$((f + 1)); fi
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
