#!/usr/bin/env bash
# run.sh SECONDS [HARNESS...] - runs each libFuzzer harness (build/fuzz/fuzz_*) for SECONDS of
# CPU time, from a corpus in build/fuzz/corpus/<harness> seeded from the project's examples and
# tests and, read in place, the rule collections under ../shared/corpora/rules.  Fails on any
# crash, leak, timeout or out-of-memory (libFuzzer writes the input to build/fuzz/crash-*).
set -u
cd "$(dirname "$0")/.." || exit 1
secs=${1:-60}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(fuzz_compile fuzz_rules_load fuzz_scan fuzz_snapshot)
rules_dir=../shared/corpora/rules
status=0
for h in "${harnesses[@]}"; do
    corpus=build/fuzz/corpus/$h
    mkdir -p "$corpus"
    seeds=()
    case $h in
    fuzz_compile)
        for f in examples/rules/*.yar bench/rules/*.yar; do cp -f "$f" "$corpus/"; done
        [ -d "$rules_dir" ] && seeds+=("$rules_dir")
        ;;
    fuzz_rules_load)
        for f in examples/rules/*.yar bench/rules/*.yar; do
            build/weir compile -o "$corpus/$(basename "$f").weir" "$f" >/dev/null 2>&1 || true
        done
        ;;
    fuzz_scan)
        for f in examples/logs/*.log; do
            { cat examples/rules/auth.yar; printf '\n----\n'; head -c 3000 "$f"; } \
                >"$corpus/$(basename "$f").seed"
        done
        # loops and counts, for the step and match limits
        printf '%s\n' 'rule a { strings: $a = "ab" condition: for all i in (1..#a) : (@a[i] >= 0) }' \
            'rule b { strings: $b = "b" condition: #b > 3 and for any i in (0..100) : (i == #b) }' \
            'rule c { condition: for all i in (0..1000) : (i >= 0) }' \
            '----' 'ab ab ab' 'abab bb' 'ab' >"$corpus/loops.seed"
        ;;
    fuzz_snapshot) ;;
    esac
    # Inputs that once failed are replayed first (fuzz/regress/<harness>/).
    if [ -d "fuzz/regress/$h" ] && ! build/fuzz/$h fuzz/regress/$h/* >"build/fuzz/$h.regress.log" 2>&1; then
        echo "FAIL $h: a regression input fails again: see build/fuzz/$h.regress.log"
        status=1
    fi
    echo "== $h: $secs s"
    build/fuzz/$h -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -dict=fuzz/yara.dict -artifact_prefix=build/fuzz/ "$corpus" "${seeds[@]}" \
        >"build/fuzz/$h.log" 2>&1
    rc=$?
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)" "build/fuzz/$h.log"
    if [ $rc -ne 0 ]; then
        echo "FAIL $h (exit $rc): see build/fuzz/$h.log"
        grep -E "ERROR|SUMMARY|Test unit written" "build/fuzz/$h.log" | head -5
        status=1
    fi
done
exit $status
