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

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
