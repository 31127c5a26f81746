#!/usr/bin/env bash
# bench/compat.sh - how much real-world YARA weir accepts, and whether it
# agrees with yara where both accept the rules.  `make compat` runs it after
# `make all`; bench/README.md says what the report means.
#
#   A. Every .yar/.yara file under $COMPAT_RULES (../shared/corpora/rules, read
#      in place): `weir compile` and `yara` on it; files and rules accepted,
#      failures grouped by the first error's normalised message.
#   B. Debian's logcheck-database patterns turned into YARA by
#      bench/logcheck2yara.py: rules converted, skipped, accepted by yara and
#      by weir; then yara, weir (whole files and random chunks) and grep -E
#      (the patterns' own meaning) on loghub logs and on the same logs with a
#      generated matching line per rule woven in; every (rule, file) on which
#      weir and yara differ is listed, with one line that shows it.
#
# Environment: JOBS (2), COMPAT_WEIR (build/weir; build/san/weir runs it
# under ASan+UBSan, much slower), COMPAT_RULES, COMPAT_LOGHUB
# (../shared/corpora/logs/loghub), COMPAT_SYSTEMS ("Linux OpenSSH Mac
# Thunderbird"), COMPAT_TIMEOUT (300 s per command).  Everything it writes
# goes under build/compat/.  Exit status: 0 when it ran to the end (with or
# without differences), 1 when weir or yara crashed, hung or a step failed,
# 2 when something it needs is missing.
# shellcheck disable=SC2016,SC2317  # the functions run under xargs bash -c
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 2

OUT=build/compat
RULES_DIR=${COMPAT_RULES:-../shared/corpora/rules}
LOGHUB=${COMPAT_LOGHUB:-../shared/corpora/logs/loghub}
SYSTEMS=${COMPAT_SYSTEMS:-Linux OpenSSH Mac Thunderbird}
JOBS=${JOBS:-2}
TMO=${COMPAT_TIMEOUT:-300}
START=$(date +%s)

scripts/deps.sh yara python3 logcheck-database || exit 2
WEIR_BIN=${COMPAT_WEIR:-build/weir}
if [ ! -x "$WEIR_BIN" ]; then
    echo "compat: $WEIR_BIN is missing; run 'make all' first" >&2
    exit 2
fi
for d in "$RULES_DIR" "$LOGHUB"; do
    [ -d "$d" ] || { echo "compat: $d not found" >&2; exit 2; }
done

rm -rf "$OUT"
mkdir -p "$OUT"/a "$OUT"/b/cc "$OUT"/b/split "$OUT"/b/data "$OUT"/b/scan
# A private copy, so that a rebuild of build/weir during the run changes nothing.
cp "$WEIR_BIN" "$OUT/weir"
: >"$OUT/empty"
: >"$OUT/crashes.txt"
export OUT TMO WEIR="$OUT/weir"

# True when FILE holds an ASan/UBSan report (they exit 1, not by a signal).
sanitizer_report() {
    grep -qs -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' -e 'runtime error:' "$1"
}
export -f sanitizer_report

# run_pair TAG ID RULEFILE: compiles RULEFILE with weir and with yara; leaves
# ID.w.rc, ID.w.err, ID.w.ms and ID.y.rc, ID.y.err under $OUT/TAG.  A weir
# exit status of 124 or more (timeout, signal) goes to crashes.txt.
run_pair() {
    local dir="$OUT/$1" id=$2 f=$3 t0 rc
    t0=${EPOCHREALTIME/./}
    timeout "$TMO" "$WEIR" compile -w "$f" -o "$dir/$id.wrc" >/dev/null 2>"$dir/$id.w.err"
    rc=$?
    echo $(( (${EPOCHREALTIME/./} - t0) / 1000 )) >"$dir/$id.w.ms"
    echo "$rc" >"$dir/$id.w.rc"
    rm -f "$dir/$id.wrc"
    if [ "$rc" -ge 124 ] || sanitizer_report "$dir/$id.w.err"; then
        echo "weir compile exited $rc: $WEIR compile -w '$f' -o /tmp/x.wrc" >>"$OUT/crashes.txt"
    fi
    timeout "$TMO" yara -w "$f" "$OUT/empty" >/dev/null 2>"$dir/$id.y.err"
    rc=$?
    echo "$rc" >"$dir/$id.y.rc"
    if [ "$rc" -ge 124 ]; then
        echo "yara exited $rc: yara -w '$f' $OUT/empty" >>"$OUT/crashes.txt"
    fi
}
export -f run_pair

# Feeds "ID\0FILE\0" pairs from stdin to run_pair TAG, JOBS at a time.
pairs() {
    xargs -0 -n2 -P"$JOBS" bash -c 'run_pair "$0" "$1" "$2"' "$1"
}

# ---------------------------------------------------------------- part A
find "$RULES_DIR" -type f \( -name '*.yar' -o -name '*.yara' \) | LC_ALL=C sort >"$OUT/a/files.txt"
awk '{ printf "%d%c%s%c", NR - 1, 0, $0, 0 }' "$OUT/a/files.txt" | pairs a
T_A=$(date +%s)

python3 - "$OUT" "$RULES_DIR" >"$OUT/report_a.txt" <<'PY' || echo "compat: part A report failed" >>"$OUT/crashes.txt"
import collections, os, re, sys

out, rules_dir = sys.argv[1], sys.argv[2]
files = open(os.path.join(out, "a/files.txt"), encoding="utf-8", errors="replace").read().split("\n")[:-1]


def rd(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def scan_text(text):
    """(line numbers of `rule NAME` declarations, modules imported), with
    comments skipped, and string literals and regular expressions not taken
    for declarations."""
    decls, mods = [], []
    i, n, line = 0, len(text), 1
    prev = ""  # last significant token, to tell a regex from a division
    decl = re.compile(r"((?:private|global)\s+)*rule\s+[A-Za-z_][A-Za-z0-9_]*\b")
    word = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += text.count("\n", i, j)
            i = j
        elif c == '"' or (c == "/" and prev in ("=", "matches")):
            j = i + 1
            while j < n and text[j] not in c + "\n":
                j += 2 if text[j] == "\\" else 1
            if c == '"' and prev == "import":
                mods.append(text[i + 1:j])
            i = j + 1
            prev = c
        else:
            m = decl.match(text, i)
            if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
                decls.append(line)
                i = m.end()
                prev = "rule"
                continue
            m = word.match(text, i)
            if m:
                prev = m.group(0)
                i = m.end()
            else:
                prev = c
                i += 1
    return decls, mods


def first_error(err, kind):
    """(normalised reason, [line numbers of errors in this file])."""
    lines = [l for l in err.split("\n") if l.strip()]
    reason, where = None, []
    for l in lines:
        if kind == "w":
            m = re.match(r"^(.*?):(\d+):(\d+): error: (.*)$", l)
            if m:
                where.append(int(m.group(2)))
                reason = reason or m.group(4)
            elif l.startswith("weir: ") and reason is None and "rules failed to compile" not in l:
                reason = l[6:]
        else:
            m = re.match(r'^error: (?:rule "[^"]*" in )?(.*?)\((\d+)\): (.*)$', l) or \
                re.match(r"^(.*?)\((\d+)\): error: (.*)$", l)
            if m:
                where.append(int(m.group(2)))
                reason = reason or m.group(3)
            elif reason is None and l.startswith("error"):
                reason = l
    if reason is None:
        reason = lines[0] if lines else "(no message)"
    return normalise(reason), where


def normalise(msg):
    msg = msg.replace(rules_dir, "RULES")
    mod = re.search(r'module "([A-Za-z0-9_]+)"', msg)
    msg = re.sub(r'"[^"]*"', '"…"', msg)
    msg = re.sub(r"\$[A-Za-z0-9_*]*", "$…", msg)
    msg = re.sub(r"\b0x[0-9a-fA-F]+\b|\b\d+\b", "N", msg)
    msg = re.sub(r"\S*/\S+", "PATH", msg)
    if mod:
        msg = msg.replace('module "…"', 'module "%s"' % mod.group(1), 1)
    return msg.strip()


recs = []
crashes = []
for i, f in enumerate(files):
    decls, mods = scan_text(rd(f))
    wrc = int(rd(os.path.join(out, "a/%d.w.rc" % i)) or 255)
    yrc = int(rd(os.path.join(out, "a/%d.y.rc" % i)) or 255)
    ms = int(rd(os.path.join(out, "a/%d.w.ms" % i)) or 0)
    wreason, wlines = first_error(rd(os.path.join(out, "a/%d.w.err" % i)), "w") if wrc else ("", [])
    yreason, _ = first_error(rd(os.path.join(out, "a/%d.y.err" % i)), "y") if yrc else ("", [])
    werr = rd(os.path.join(out, "a/%d.w.err" % i))
    if wrc >= 124 or re.search(r"ERROR: (Address|Leak)Sanitizer|runtime error:", werr):
        wreason = "CRASH/HANG/SANITIZER (exit %d)" % wrc
        crashes.append(f)
    # rules that hold an error line of their own
    own = set()
    for ln in wlines:
        k = sum(1 for d in decls if d <= ln)
        if k:
            own.add(k)
    coll = os.path.relpath(f, rules_dir).split(os.sep)[0]
    undef = re.findall(r'undefined identifier "([^"]+)"', rd(os.path.join(out, "a/%d.w.err" % i))
                       + rd(os.path.join(out, "a/%d.y.err" % i)))
    recs.append(dict(f=f, coll=coll, n=len(decls), w=wrc == 0, y=yrc == 0, wr=wreason,
                     yr=yreason, own=len(own), mods=mods, ms=ms, wrc=wrc, undef=set(undef)))

P = print
tot_rules = sum(r["n"] for r in recs)
P("A. Public YARA rule collections (%s, read in place)" % rules_dir)
P("   %d files (%d .yar, %d .yara), %d rule declarations"
  % (len(recs), sum(r["f"].endswith(".yar") for r in recs),
     sum(r["f"].endswith(".yara") for r in recs), tot_rules))


def row(label, sel):
    P("   %-34s %5d files %6d rules" % (label, len(sel), sum(r["n"] for r in sel)))


row("weir compiles", [r for r in recs if r["w"]])
row("weir rejects", [r for r in recs if not r["w"]])
row("yara accepts", [r for r in recs if r["y"]])
row("yara rejects", [r for r in recs if not r["y"]])
row("both accept", [r for r in recs if r["w"] and r["y"]])
gap = [r for r in recs if r["y"] and not r["w"]]
row("yara accepts, weir rejects", gap)
row("weir accepts, yara rejects", [r for r in recs if r["w"] and not r["y"]])
row("both reject", [r for r in recs if not r["w"] and not r["y"]])
yacc = [r for r in recs if r["y"]]
P("   weir compiles %.1f%% of the rules in files yara accepts (%d of %d)"
  % (100.0 * sum(r["n"] for r in yacc if r["w"]) / max(1, sum(r["n"] for r in yacc)),
     sum(r["n"] for r in yacc if r["w"]), sum(r["n"] for r in yacc)))
for coll in sorted(set(r["coll"] for r in recs)):
    sel = [r for r in recs if r["coll"] == coll]
    ok = [r for r in sel if r["w"]]
    yok = [r for r in sel if r["y"]]
    P("   %-20s weir %4d/%-4d files %5d/%-5d rules; yara %4d files %5d rules"
      % (coll + ":", len(ok), len(sel), sum(r["n"] for r in ok), sum(r["n"] for r in sel),
         len(yok), sum(r["n"] for r in yok)))


def tally(title, sel, key):
    c = collections.Counter()
    nr = collections.Counter()
    for r in sel:
        c[r[key]] += 1
        nr[r[key]] += r["n"]
    P("   %s" % title)
    if not c:
        P("     (none)")
    for reason, k in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])):
        P("     %4d files %5d rules  %s" % (k, nr[reason], reason[:120]))


tally("weir's first error, all rejected files (files, rules in them, reason):",
      [r for r in recs if not r["w"]], "wr")
tally("yara's first error, all rejected files:", [r for r in recs if not r["y"]], "yr")
tally("the gap: yara accepts, weir rejects, by weir's first error:", gap, "wr")
own = sum(r["own"] for r in gap)
P("   in those %d files, %d of %d rules hold a weir error of their own;"
  " the rest fail with their file" % (len(gap), own, sum(r["n"] for r in gap)))
mods = collections.Counter(m for r in recs for m in set(r["mods"]))
if mods:
    P("   modules imported (files importing; of them weir compiles / yara accepts):")
    for m, k in sorted(mods.items(), key=lambda kv: (-kv[1], kv[0])):
        sel = [r for r in recs if m in r["mods"]]
        P("     %-10s %4d  %4d / %4d" % (m, k, sum(r["w"] for r in sel), sum(r["y"] for r in sel)))
undef = collections.Counter(u for r in recs for u in r["undef"])
if undef:
    P("   undefined identifiers (files naming them in an error; yara's -d externals"
      " such as signature-base's filename/filepath/extension, or module members):")
    P("     " + ", ".join("%s %d" % kv for kv in sorted(undef.items(), key=lambda kv: (-kv[1], kv[0]))[:12]))
odd = [r for r in gap if "import of module" not in r["wr"]]
if odd:
    P("   gap files whose first error is not a module import:")
    for r in sorted(odd, key=lambda r: r["f"]):
        P("     %s: %s" % (os.path.relpath(r["f"], rules_dir), r["wr"][:120]))
slow = sorted(recs, key=lambda r: -r["ms"])[:3]
P("   slowest weir compiles: " + ", ".join("%s %.1fs" % (os.path.basename(r["f"]), r["ms"] / 1000) for r in slow))
with open(os.path.join(out, "rules_by_file.tsv"), "w") as fh:
    fh.write("file\trules\tweir_ok\tyara_ok\tweir_first_error\tyara_first_error\n")
    for r in recs:
        fh.write("%s\t%d\t%d\t%d\t%s\t%s\n" % (r["f"], r["n"], r["w"], r["y"], r["wr"], r["yr"]))
P("   per file: %s/rules_by_file.tsv" % out)
if crashes:
    P("   !!! weir CRASHED or hung compiling %d files: %s" % (len(crashes), ", ".join(crashes)))
PY

# ---------------------------------------------------------------- part B
LC="$OUT/b/logcheck"
if ! python3 bench/logcheck2yara.py --samples "$LC" >"$OUT/b/convert.txt" 2>&1; then
    cat "$OUT/b/convert.txt" >&2
    echo "compat: bench/logcheck2yara.py failed" >>"$OUT/crashes.txt"
fi
find "$LC" -name '*.yar' | LC_ALL=C sort >"$OUT/b/yar.txt"
awk '{ printf "%d%c%s%c", NR - 1, 0, $0, 0 }' "$OUT/b/yar.txt" | pairs b/cc

# Files either side rejects are split into one file per rule and compiled again.
python3 - "$OUT" <<'PY'
import os, re, sys
out = sys.argv[1]
yars = open(os.path.join(out, "b/yar.txt")).read().split("\n")[:-1]
todo = []
for i, f in enumerate(yars):
    if open(os.path.join(out, "b/cc/%d.w.rc" % i)).read().strip() == "0" and \
       open(os.path.join(out, "b/cc/%d.y.rc" % i)).read().strip() == "0":
        continue
    text = open(f, encoding="latin-1").read()
    for block in re.split(r"\n(?=// )", text):
        m = re.search(r"^rule (\w+) \{", block, re.M)
        if m:
            p = os.path.join(out, "b/split", m.group(1) + ".yar")
            open(p, "w", encoding="latin-1").write(block)
            todo.append((m.group(1), p))
with open(os.path.join(out, "b/split.txt"), "w") as fh:
    for name, p in todo:
        fh.write("%s\t%s\n" % (name, p))
PY
awk -F'\t' '{ printf "%s%c%s%c", $1, 0, $2, 0 }' "$OUT/b/split.txt" | pairs b/split

# Per-rule status, the rules both accept (common.yar), and the data files.
python3 - "$OUT" "$LOGHUB" "$SYSTEMS" <<'PY' || echo "compat: part B setup failed" >>"$OUT/crashes.txt"
import glob, os, random, re, sys
out, loghub, systems = sys.argv[1], sys.argv[2], sys.argv[3].split()
lc = os.path.join(out, "b/logcheck")
yars = open(os.path.join(out, "b/yar.txt")).read().split("\n")[:-1]


def unesc(s):
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), s)


def rd(p):
    try:
        return open(p, encoding="utf-8", errors="replace").read()
    except OSError:
        return ""


def err1(p):
    for l in rd(p).split("\n"):
        if "error" in l:
            return re.sub(r"^.*?error: (rule \"[^\"]*\" in )?(.*?\(\d+\): )?", "", l)
    return rd(p).strip().split("\n")[0]


blocks = {}
file_ok = {}
for i, f in enumerate(yars):
    w = rd(os.path.join(out, "b/cc/%d.w.rc" % i)).strip() == "0"
    y = rd(os.path.join(out, "b/cc/%d.y.rc" % i)).strip() == "0"
    file_ok[os.path.basename(f)] = (w, y)
    text = open(f, encoding="latin-1").read()
    for block in re.split(r"\n(?=// )", text):
        m = re.search(r"^rule (\w+) \{", block, re.M)
        if m:
            blocks[m.group(1)] = block
status = {}
for line in open(os.path.join(lc, "manifest.tsv"), encoding="latin-1"):
    name, src, ln, st, yar, pat = line.rstrip("\n").split("\t", 5)
    rec = dict(name=name, src=src, line=ln, st=st, yar=yar, pat=unesc(pat), w=False, y=False,
               we="", ye="")
    if st == "converted":
        w, y = file_ok[yar]
        if w and y:
            rec["w"] = rec["y"] = True
        else:
            s = os.path.join(out, "b/split", name)
            rec["w"] = rd(s + ".w.rc").strip() == "0"
            rec["y"] = rd(s + ".y.rc").strip() == "0"
            rec["we"] = "" if rec["w"] else err1(s + ".w.err")
            rec["ye"] = "" if rec["y"] else err1(s + ".y.err")
    status[name] = rec
with open(os.path.join(out, "b/status.tsv"), "w", encoding="latin-1") as fh:
    for r in status.values():
        fh.write("%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n" % (r["name"], r["src"], r["line"], r["st"],
                                                    r["w"], r["y"], r["we"], r["ye"]))
common = [n for n, r in status.items() if r["w"] and r["y"]]
with open(os.path.join(out, "b/common.yar"), "w", encoding="latin-1") as fh:
    fh.write("\n".join(blocks[n] for n in common))
with open(os.path.join(out, "b/common.tsv"), "w", encoding="latin-1") as fh:
    for n in common:
        fh.write("%s\t%s\n" % (n, status[n]["pat"].replace("\\", "\\\\").replace("\t", "\\t")))

# Data: the chosen loghub logs as they are, then the same lines with one
# generated line per rule woven in (one file per 250 rules).
real = []
for s in systems:
    real += sorted(glob.glob(os.path.join(loghub, s, "*.log")))
reallines = []
for p in real:
    reallines += open(p, "rb").read().split(b"\n")[:-1]
samples = []
for line in open(os.path.join(lc, "samples.tsv"), encoding="latin-1"):
    name, s = line.rstrip("\n").split("\t", 1)
    if name in status and status[name]["w"] and status[name]["y"]:
        samples.append(unesc(s).encode("latin-1"))
rnd = random.Random(1)
gen = []
for k in range(0, len(samples), 250):
    part = samples[k:k + 250]
    lines = []
    for j, s in enumerate(part):
        lines.append(reallines[rnd.randrange(len(reallines))] if reallines else b"")
        lines.append(s)
    p = os.path.join(out, "b/data", "woven_%02d.log" % (k // 250))
    open(p, "wb").write(b"\n".join(lines) + b"\n")
    gen.append(p)
with open(os.path.join(out, "b/data.txt"), "w") as fh:
    for p in real + gen:
        fh.write(p + "\n")
PY

# yara (compiled once with yarac), weir on whole files, weir in random chunks.
mapfile -t DATA <"$OUT/b/data.txt"
if ! yarac -w "$OUT/b/common.yar" "$OUT/b/common.yarc" 2>"$OUT/b/yarac.err"; then
    echo "compat: yarac failed on common.yar: $(head -1 "$OUT/b/yarac.err")" >>"$OUT/crashes.txt"
fi
scan_yara() {
    local f=$1 id rc
    id=$(basename "$f" .log)
    timeout "$TMO" yara -w -C "$OUT/b/common.yarc" "$f" >"$OUT/b/scan/yara.$id.out" 2>"$OUT/b/scan/yara.$id.err"
    rc=$?
    [ "$rc" -eq 0 ] || echo "yara exited $rc: yara -w -C $OUT/b/common.yarc $f" >>"$OUT/crashes.txt"
    timeout "$TMO" yara -w -s -L -C "$OUT/b/common.yarc" "$f" >"$OUT/b/scan/yara_sl.$id.out" 2>/dev/null
}
export -f scan_yara
printf '%s\0' "${DATA[@]}" | xargs -0 -n1 -P"$JOBS" bash -c 'scan_yara "$0"'
timeout "$TMO" "$WEIR" scan -w -r "$OUT/b/common.yar" "${DATA[@]}" >"$OUT/b/scan/weir.out" 2>"$OUT/b/scan/weir.err"
rc=$?
{ [ "$rc" -eq 0 ] && ! sanitizer_report "$OUT/b/scan/weir.err"; } || echo "weir scan exited $rc: $WEIR scan -w -r $OUT/b/common.yar ${DATA[*]}" >>"$OUT/crashes.txt"
timeout "$TMO" "$WEIR" scan -w --chunk-size 4096 --chunk-seed 7 -r "$OUT/b/common.yar" "${DATA[@]}" \
    >"$OUT/b/scan/weir_chunks.out" 2>"$OUT/b/scan/weir_chunks.err"
rc=$?
{ [ "$rc" -eq 0 ] && ! sanitizer_report "$OUT/b/scan/weir_chunks.err"; } || echo "weir scan (chunks) exited $rc: $WEIR scan -w --chunk-size 4096 --chunk-seed 7 -r $OUT/b/common.yar ${DATA[*]}" >>"$OUT/crashes.txt"

timeout "$TMO" "$WEIR" scan -w -s -L -r "$OUT/b/common.yar" "${DATA[@]}" >"$OUT/b/scan/weir_sl.out" 2>&1
rc=$?
{ [ "$rc" -eq 0 ] && ! sanitizer_report "$OUT/b/scan/weir_sl.out"; } || echo "weir scan -s -L exited $rc: $WEIR scan -w -s -L -r $OUT/b/common.yar ${DATA[*]}" >>"$OUT/crashes.txt"

# Part B report: figures, grep's verdicts, the comparison, reproducers.
python3 - "$OUT" "$JOBS" >"$OUT/report_b.txt" <<'PY' || echo "compat: part B report failed" >>"$OUT/crashes.txt"
import collections, concurrent.futures, os, re, subprocess, sys
out, jobs = sys.argv[1], int(sys.argv[2])
P = print
data = open(os.path.join(out, "b/data.txt")).read().split("\n")[:-1]
status = []
for l in open(os.path.join(out, "b/status.tsv"), encoding="latin-1"):
    name, src, ln, st, w, y, we, ye = l.rstrip("\n").split("\t")
    status.append(dict(name=name, src=src, line=ln, st=st, w=w == "1", y=y == "1", we=we, ye=ye))
conv = [r for r in status if r["st"] == "converted"]
skipped = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "b/logcheck/skipped.tsv"), encoding="latin-1")]
P("B. logcheck-database patterns as YARA rules (bench/logcheck2yara.py)")
P("   %s" % open(os.path.join(out, "b/convert.txt")).read().strip())
P("   %d patterns: %d converted, %d skipped" % (len(status), len(conv), len(skipped)))
for reason, k in collections.Counter(s[2] for s in skipped).most_common():
    P("     skipped %3d: %s" % (k, reason))
for s in skipped:
    P("       %s:%s" % (s[0], s[1]))
yok = [r for r in conv if r["y"]]
wok = [r for r in conv if r["w"]]
both = [r for r in conv if r["y"] and r["w"]]
P("   of the %d converted: yara accepts %d, weir accepts %d, both %d" % (len(conv), len(yok), len(wok), len(both)))
for title, sel, key in (("yara accepts, weir rejects", [r for r in conv if r["y"] and not r["w"]], "we"),
                        ("weir accepts, yara rejects", [r for r in conv if r["w"] and not r["y"]], "ye"),
                        ("both reject", [r for r in conv if not r["w"] and not r["y"]], "we")):
    if not sel:
        continue
    P("   %s: %d" % (title, len(sel)))
    for reason, k in collections.Counter(re.sub(r"\$\w+", "$re", r[key]) for r in sel).most_common():
        P("     %4d  %s" % (k, reason[:150]))
    for r in sel[:10]:
        P("       %s (%s:%s)" % (r["name"], r["src"], r["line"]))
    if len(sel) > 10:
        P("       ... %d more in %s/b/status.tsv" % (len(sel) - 10, out))

# (rule, file) sets
names = [l.split("\t", 1)[0] for l in open(os.path.join(out, "b/common.tsv"), encoding="latin-1")]
pats = {}
for l in open(os.path.join(out, "b/common.tsv"), encoding="latin-1"):
    n, p = l.rstrip("\n").split("\t", 1)
    pats[n] = re.sub(r"\\(.)", lambda m: {"t": "\t"}.get(m.group(1), m.group(1)), p)


def parse_scan(path, files):
    s = set()
    for l in open(path, encoding="latin-1"):
        l = l.rstrip("\n")
        for f in files:
            if l.endswith(" " + f):
                s.add((l[: -len(f) - 1], f))
                break
    return s


yara_s = set()
for f in data:
    p = os.path.join(out, "b/scan/yara.%s.out" % os.path.basename(f)[:-4])
    if os.path.exists(p):
        yara_s |= parse_scan(p, [f])
weir_s = parse_scan(os.path.join(out, "b/scan/weir.out"), data)
weirc_s = parse_scan(os.path.join(out, "b/scan/weir_chunks.out"), data)


def grep_one(n):
    r = subprocess.run(["grep", "-E", "-c", "-e", pats[n], "--"] + data, capture_output=True,
                       env={"LC_ALL": "C", "PATH": os.environ["PATH"]})
    res = set()
    for l in r.stdout.decode("latin-1").split("\n"):
        if ":" in l:
            f, c = l.rsplit(":", 1)
            if c != "0":
                res.add((n, f))
    return res, r.returncode, r.stderr.decode("latin-1").strip()


grep_s = set()
grep_err = []
with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
    for n, (res, rc, err) in zip(names, ex.map(grep_one, names)):
        grep_s |= res
        if rc > 1 or err:
            grep_err.append((n, err))

real = [f for f in data if "/b/data/" not in f]
woven = [f for f in data if "/b/data/" in f]
sizes = sum(os.path.getsize(f) for f in data)
P("   data: %d loghub logs (%s) and %d files with one generated line per rule woven into"
  % (len(real), ", ".join(os.path.basename(f) for f in real), len(woven)))
P("   random lines of those logs; %d files, %.1f MB; %d rules x %d files = %d pairs"
  % (len(data), sizes / 1e6, len(names), len(data), len(names) * len(data)))
gen_hits = sum(1 for f in woven for n in names if (n, f) in grep_s)
P("   pairs matched: grep -E %d, yara %d, weir %d, weir in chunks %d  (grep on the real logs alone: %d)"
  % (len(grep_s), len(yara_s), len(weir_s), len(weirc_s), sum(1 for p in grep_s if p[1] in real)))
own_ok = 0
for k, f in enumerate(woven):
    for n in names[k * 250:(k + 1) * 250]:
        own_ok += (n, f) in grep_s
P("   generated lines that grep confirms match their own pattern: %d of %d" % (own_ok, len(names)))
if grep_err:
    P("   grep complained on %d patterns, e.g. %s: %s" % (len(grep_err), grep_err[0][0], grep_err[0][1][:100]))
total = len(names) * len(data)


def compare(a_name, a, b_name, b):
    only_a, only_b = sorted(a - b), sorted(b - a)
    P("   %-22s vs %-14s agree on %d of %d pairs; %d only %s, %d only %s"
      % (a_name, b_name, total - len(only_a) - len(only_b), total, len(only_a), a_name,
         len(only_b), b_name))
    return only_a, only_b


wy = compare("weir", weir_s, "yara", yara_s)
wcy = compare("weir in chunks", weirc_s, "yara", yara_s)
yg = compare("yara", yara_s, "grep -E", grep_s)
wg = compare("weir", weir_s, "grep -E", grep_s)
diffs = sorted(set(wy[0]) | set(wy[1]) | set(wcy[0]) | set(wcy[1]))
if diffs:
    P("   weir/yara disagreements (rule, file: yara, weir, weir in chunks, grep):")
    for n, f in diffs[:40]:
        P("     %s, %s: %d %d %d %d" % (n, f, (n, f) in yara_s, (n, f) in weir_s, (n, f) in weirc_s,
                                       (n, f) in grep_s))
    if len(diffs) > 40:
        P("     ... %d more" % (len(diffs) - 40))


def parse_sl(path, files):
    """(rule, file, "0xOFFSET:LENGTH:$id") for every string match printed."""
    s, cur = set(), None
    for l in open(path, encoding="latin-1"):
        l = l.rstrip("\n")
        m = re.match(r"^(0x[0-9a-f]+:\d+:\$\w*):", l)
        if m and cur:
            s.add(cur + (m.group(1),))
            continue
        cur = None
        for f in files:
            if l.endswith(" " + f):
                cur = (l[: -len(f) - 1], f)
                break
    return s


ysl = set()
for f in data:
    p = os.path.join(out, "b/scan/yara_sl.%s.out" % os.path.basename(f)[:-4])
    if os.path.exists(p):
        ysl |= parse_sl(p, [f])
wsl = parse_sl(os.path.join(out, "b/scan/weir_sl.out"), data)
P("   string matches (-s -L: rule, file, offset, length): yara %d, weir %d; %d only yara, %d only weir"
  % (len(ysl), len(wsl), len(ysl - wsl), len(wsl - ysl)))
for t in sorted(ysl ^ wsl)[:10]:
    P("     %s %s %s: %s" % (t[0], t[1], t[2], "yara only" if t in ysl else "weir only"))
ygd = sorted(set(yg[0]) | set(yg[1]))
if ygd:
    P("   yara/grep disagreements (translation or yara itself; rule, file: yara, grep):")
    for n, f in ygd[:20]:
        P("     %s, %s: %d %d" % (n, f, (n, f) in yara_s, (n, f) in grep_s))
    if len(ygd) > 20:
        P("     ... %d more" % (len(ygd) - 20))
with open(os.path.join(out, "b/pairs.tsv"), "w") as fh:
    fh.write("rule\tfile\tyara\tweir\tweir_chunks\tgrep\n")
    for n, f in sorted(yara_s | weir_s | weirc_s | grep_s):
        fh.write("%s\t%s\t%d\t%d\t%d\t%d\n" % (n, f, (n, f) in yara_s, (n, f) in weir_s,
                                               (n, f) in weirc_s, (n, f) in grep_s))

# Reproducers: for the first few weir/yara disagreements, every line of the
# file alone, scanned by both; the first line on which they differ.
blocks = {}
text = open(os.path.join(out, "b/common.yar"), encoding="latin-1").read()
for block in re.split(r"\n(?=// )", text):
    m = re.search(r"^rule (\w+) \{", block, re.M)
    if m:
        blocks[m.group(1)] = block
weir = os.environ["WEIR"]
plain = [d for d in diffs if (d in yara_s) != (d in weir_s)]
chunk_only = [d for d in diffs if d not in plain]
for k, (n, f) in enumerate(chunk_only[:3]):
    rule = os.path.join(out, "b/chunks%d.yar" % k)
    open(rule, "w", encoding="latin-1").write(blocks[n] + "\n")
    P("   chunked only: %s on %s; reproduce with %s scan --chunk-size 4096 --chunk-seed 7 -r %s %s"
      % (n, f, weir, rule, f))
for k, (n, f) in enumerate(plain[:5]):
    rule = os.path.join(out, "b/repro%d.yar" % k)
    d = os.path.join(out, "b/repro%d" % k)
    os.makedirs(d, exist_ok=True)
    open(rule, "w", encoding="latin-1").write(blocks[n] + "\n")
    paths = []
    for j, l in enumerate(open(f, "rb").read().split(b"\n")):
        if l:
            p = os.path.join(d, "l%05d" % (j + 1))
            open(p, "wb").write(l + b"\n")
            paths.append(p)
    y = subprocess.run(["yara", "-w", rule, d], capture_output=True, text=True).stdout.split()
    w = subprocess.run([weir, "scan", "-w", "-r", rule] + paths, capture_output=True, text=True)
    if w.returncode >= 124 or w.returncode < 0:
        P("   !!! weir crashed (%d) scanning single lines for %s" % (w.returncode, n))
    ys = set(x for x in y if x.startswith(d))
    ws = set(x for x in w.stdout.split() if x.startswith(d))
    bad = sorted(ys ^ ws)
    P("   reproducer %d: %s on %s" % (k, n, f))
    if bad:
        p = bad[0]
        P("     line %d alone: yara %s, weir %s; rule in %s, line in %s"
          % (int(os.path.basename(p)[1:]), "matches" if p in ys else "no match",
             "matches" if p in ws else "no match", rule, p))
        P("     line: %r" % open(p, "rb").read()[:300])
    else:
        P("     no single line shows it (the difference needs several lines); see %s" % d)
PY

echo "weir: $("$WEIR" version 2>&1 | head -1); yara $(yara --version); $(grep --version | head -1);" \
    "logcheck-database $(dpkg-query -W -f='${Version}' logcheck-database 2>/dev/null)"
echo
cat "$OUT/report_a.txt" 2>/dev/null
echo
cat "$OUT/report_b.txt" 2>/dev/null
END=$(date +%s)
echo
echo "compat: part A $((T_A - START)) s, part B $((END - T_A)) s, total $((END - START)) s; files in $OUT/"
if [ -s "$OUT/crashes.txt" ]; then
    echo
    echo "!!! compat: CRASHES, HANGS OR FAILED STEPS:"
    sed 's/^/!!!   /' "$OUT/crashes.txt"
    exit 1
fi
exit 0
