#!/usr/bin/env bash
# test_corpus.sh - `weir compile` over every public YARA rule file of the corpus
# (../shared/corpora/rules: signature-base, ReversingLabs; read in place, never copied here).
# Each file must compile (exit status 0) or fail as rules with errors (1): never a crash, a
# sanitizer report, a hang or another status.  A failure must place each error
# (FILE:LINE:COLUMN: error: ...), and each error must either name a feature weir does not
# support ("... is not supported") or be one yara finds too (`yara FILE /dev/null` fails): an
# error in a file yara accepts is a weir bug.  Prints how many files fail for each kind of
# diagnostic.  WEIR names the binary (default build/weir), WEIR_RULES_CORPUS the directory,
# WEIR_CORPUS_JOBS the commands run at once (nproc).  Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1
WEIR=${WEIR:-build/weir}
[[ $WEIR == /* ]] || WEIR=$PWD/$WEIR
CORPUS=${WEIR_RULES_CORPUS:-../shared/corpora/rules}
JOBS=${WEIR_CORPUS_JOBS:-$(nproc 2>/dev/null || echo 2)}
LIMIT=${WEIR_CORPUS_TIMEOUT:-120}

if [ ! -d "$CORPUS" ]; then
    echo "test_corpus: NOTE: no rule corpus at $CORPUS, so nothing was checked" \
        "(WEIR_RULES_CORPUS names another directory)"
    echo "0 passed, 0 failed"
    exit 0
fi
if ! command -v yara >/dev/null; then
    echo "test_corpus needs yara, the oracle for errors (make deps)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check_one N FILE: writes $tmp/r.N: "pass|fail<TAB>FILE<TAB>why", then "kind<TAB>KIND" for
# each distinct kind of error weir reported (the message without string names and numbers).
check_one() {
    local n=$1 f=$2 rc why="" real
    timeout -k 5 "$LIMIT" "$WEIR" compile -w "$f" -o "$tmp/$n.wr" >/dev/null 2>"$tmp/$n.err"
    rc=$?
    rm -f "$tmp/$n.wr"
    case $rc in
    0) : >"$tmp/$n.kinds" ;;
    1)
        # Kinds on stdout; "unplaced: LINE" for an error without its place, "real: LINE" for
        # the first error that names no unsupported feature.
        awk -v kinds="$tmp/$n.kinds" '
            !/: error: / { next }
            { errors++ }
            !/^[^ ]+:[0-9]+:[0-9]+: error: ./ && !unplaced { unplaced = $0 }
            {
                msg = $0; sub(/^.*: error: /, "", msg)
                if (msg !~ /(is|are) not supported/ && !real) real = $0
                gsub(/\$[A-Za-z0-9_]*/, "$S", msg); gsub(/[0-9]+/, "N", msg)
                print "kind\t" substr(msg, 1, 100) > kinds
            }
            END {
                if (!errors) print "none"
                else if (unplaced) print "unplaced: " unplaced
                else if (real) print "real: " real
            }' "$tmp/$n.err" >"$tmp/$n.verdict"
        why=$(cat "$tmp/$n.verdict")
        case $why in
        none) why="exit status 1 without an error" ;;
        "unplaced: "*) why="an error without FILE:LINE:COLUMN: ${why#unplaced: }" ;;
        "real: "*)
            real=${why#real: }
            why=""
            if yara -w "$f" /dev/null >/dev/null 2>&1; then why="yara accepts it: $real"; fi
            ;;
        esac
        ;;
    124 | 137) why="timed out after $LIMIT s" ;;
    *) why="exit status $rc (want 0, or 1 for rule errors): $(grep -v '^ ' "$tmp/$n.err" |
        head -n 3 | tr '\n' ' ')" ;;
    esac
    {
        printf '%s\t%s\t%s\n' "$([ -z "$why" ] && echo pass || echo fail)" "$f" "$why"
        [ -e "$tmp/$n.kinds" ] && sort -u "$tmp/$n.kinds"
    } >"$tmp/r.$n"
    rm -f "$tmp/$n.err" "$tmp/$n.kinds" "$tmp/$n.verdict"
}
export -f check_one
export WEIR LIMIT tmp

find "$CORPUS" -type f \( -name '*.yar' -o -name '*.yara' \) | LC_ALL=C sort >"$tmp/files"
nfiles=$(wc -l <"$tmp/files")
start=$(date +%s)
awk '{printf "%d\n%s\n", NR, $0}' "$tmp/files" |
    xargs -P "$JOBS" -d '\n' -n 2 bash -c 'check_one "$1" "$2"' _
secs=$(($(date +%s) - start))

# One pass over the results in file order: failures to stderr, kinds to $tmp/kinds, and the
# counts "pass fail compiled" on stdout.
for ((n = 1; n <= nfiles; n++)); do
    [ -s "$tmp/r.$n" ] || printf 'fail\t%s\tno result\n' "$(sed -n "${n}p" "$tmp/files")" >"$tmp/r.$n"
    echo "$tmp/r.$n"
done | awk -F '\t' -v kinds="$tmp/kinds" '
    {
        first = 1
        refused = 0
        ok = 0
        while ((getline line < $0) > 0) {
            split(line, f, "\t")
            if (first && f[1] == "pass") {
                pass++
                ok = 1
            } else if (first) {
                fail++
                print "FAIL " f[2] ": " f[3] > "/dev/stderr"
            } else {
                print f[2] > kinds
                refused = 1
            }
            first = 0
        }
        close($0)
        if (ok && !refused) compiled++
    }
    END { print pass + 0, fail + 0, compiled + 0 }' >"$tmp/counts"
read -r pass fail compiled <"$tmp/counts"
echo "$nfiles rule files under $CORPUS in $secs s: $compiled compile, $((nfiles - compiled))" \
    "do not; files per kind of error:"
[ -s "$tmp/kinds" ] && sort "$tmp/kinds" | uniq -c | sort -rn | sed 's/^/  /'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
