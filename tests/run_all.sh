#!/usr/bin/env bash
# run_all.sh BUILD_DIR WEIR [SHARED_LIB [CORPUS_WEIR]] - runs every tests/test_*.c program
# built in BUILD_DIR, the export check on SHARED_LIB, the CLI tests against WEIR and the public
# rule corpus sweep (tests/test_corpus.sh) against CORPUS_WEIR (WEIR when not given: a
# sanitized weir takes some 4 minutes over the 1,016 files on 2 cores, a plain one 1).
# Each suite's last stdout line is "N passed, N failed"; a suite that did not
# build, crashed, timed out or printed no such line counts as 1 failed.  Ends
# with one line summing all suites; exits non-zero if anything failed.
set -uo pipefail

dir=${1:?usage: run_all.sh BUILD_DIR WEIR [SHARED_LIB [CORPUS_WEIR]]}
weir=${2:?usage: run_all.sh BUILD_DIR WEIR [SHARED_LIB [CORPUS_WEIR]]}
solib=${3:-}
corpus_weir=${4:-$weir}
cd "$(dirname "$0")/.." || exit 1

# Leaks are errors; a sanitizer report fails the program.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
limit=${WEIR_TEST_TIMEOUT:-900}
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Records one suite's result from its output and exit status (or a reason it has none).
tally() {
    local name=$1 rc=$2 why=${3:-} last p f
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -n "$last" ] && [ "$(tail -n 1 "$log")" = "$last" ]; then
        p=${last%% passed*}
        f=${last#*, }
        f=${f%% failed}
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            f=1 # it said all passed but exited with an error
            last="$last, but exit status $rc"
        fi
    else
        p=0
        f=1
        last=${why:-"no result line (exit status $rc)"}
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    printf '%-24s %s\n' "$name:" "$last"
    [ "$f" -eq 0 ] || sed -n '1,40p' "$log" | sed 's/^/    /' >&2
}

for src in tests/test_*.c; do
    [ -e "$src" ] || continue
    name=$(basename "$src" .c)
    bin=$dir/$name
    if [ ! -x "$bin" ]; then
        echo "$bin did not build" >"$log"
        tally "$name" 1 "did not build"
        continue
    fi
    timeout "$limit" "$bin" >"$log" 2>&1
    tally "$name" $?
done

# Only WEIR_API names may leave the shared library (weir_*, not weir__*).
if [ -n "$solib" ]; then
    rc=1
    why=
    if [ ! -f "$solib" ]; then
        echo "$solib did not build" >"$log"
        why="did not build"
    else
        extra=$(nm -D --defined-only "$solib" |
            awk '$3 !~ /^_/ && ($3 !~ /^weir_/ || $3 ~ /^weir__/) {print $3}' | tr '\n' ' ')
        if [ -z "$extra" ]; then
            echo "1 passed, 0 failed" >"$log"
            rc=0
        else
            printf 'exported beyond the API: %s\n0 passed, 1 failed\n' "$extra" >"$log"
        fi
    fi
    tally exports $rc "$why"
fi

if [ -x "$weir" ]; then
    WEIR=$weir timeout "$limit" tests/test_cli.sh >"$log" 2>&1
    tally test_cli $?
else
    echo "$weir did not build" >"$log"
    tally test_cli 1 "did not build"
fi

if [ -x "$corpus_weir" ]; then
    WEIR=$corpus_weir timeout "$limit" tests/test_corpus.sh >"$log" 2>&1
    tally test_corpus $?
else
    echo "$corpus_weir did not build" >"$log"
    tally test_corpus 1 "did not build"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
