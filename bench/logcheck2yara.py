#!/usr/bin/env python3
"""Convert Debian logcheck-database patterns into YARA rules.

Usage: bench/logcheck2yara.py [-s SRCDIR] [--samples] [OUTDIR]
                                                (OUTDIR: build/logcheck)

Every file under SRCDIR/{ignore.d.server, ignore.d.workstation,
ignore.d.paranoid, violations.d, violations.ignore.d, cracking.d}
(SRCDIR: /etc/logcheck) becomes OUTDIR/<dir>__<file>.yar.  Each line that is
neither empty (whitespace only) nor a comment (first byte '#') is one pattern
and, when it can be translated faithfully, one rule:

    rule logcheck_<dir>_<file>_<line> {
      meta: source = "/etc/logcheck/<dir>/<file>"  line = <n>
      strings: $re = /.../
      condition: $re
    }

Patterns that cannot be translated without changing what they match go to
OUTDIR/skipped.tsv (source, line, reason, pattern).  OUTDIR/manifest.tsv lists
every pattern (rule, source, line, status, yar file, pattern; tabs and
backslashes in the pattern are written as \\t and \\\\).  With --samples,
OUTDIR/samples.tsv gets, for each converted rule, one line drawn at random
(seeded by the rule name) from the pattern's tree, meant to match it (rule,
line; same escaping); bench/compat.sh checks each one with grep before
relying on it.

What a pattern means
--------------------
logcheck runs GNU grep -E over the log, one line at a time.  A pattern is
taken as GNU ERE in the C locale: bytes, ASCII character classes.
(logcheck also strips trailing blanks from log lines first; that is not part
of the pattern and is not modelled.)  A YARA regular expression is searched
in the whole file instead.  The rule must fire exactly when at least one
line of the file has a match of the pattern.

How it is translated
--------------------
The pattern is parsed into a tree (alternation, concatenation, repeats,
groups, characters, byte sets, anchors, word boundaries) and printed again
in YARA's syntax:

* Bytes.  Every character, bracket expression, `.`, `\\w`, `\\W`, `\\s`, `\\S`
  is a set of bytes.  POSIX classes ([:alnum:], [:digit:], [:space:],
  [:upper:], [:lower:], [:alpha:], [:punct:], [:xdigit:], [:blank:],
  [:cntrl:], [:graph:], [:print:]) are their C-locale byte sets.  A
  backslash inside brackets is an ordinary member, as POSIX says
  (`[\\:]` is backslash or colon).  Sets are printed as explicit byte ranges:
  `[...]`, or `[^...]` when the complement is smaller, metacharacters and `/`
  escaped, other non-alphanumeric bytes as \\xHH.  Outside brackets, a
  backslash before an ordinary character is that character (`\\.`, `\\[`,
  `\\:`, GNU grep's "stray \\"): it is printed as the literal byte, never as
  the same escape, since YARA gives some escapes a meaning (`\\d`, `\\s`...).
* No match may cross a line.  A line never holds \\n, so \\n is removed from
  every set; a set that would then be "any byte but \\n" is printed as `.`,
  which in YARA (without /s) does not match \\n either.  Negated sets thus
  always exclude \\n (YARA's [^ ] alone would match it), and [[:space:]] or
  \\s become [\\t\\x0b\\x0c\\r ].
* Anchors.  YARA's ^ and $ are the start and end of the data, and YARA has no
  lookbehind.  A `^` that can only be reached with nothing consumed before
  it becomes `(^|\\n)`, a `$` that can only be followed by nothing consumed
  becomes `(\\n|$)`.  Since nothing else in the expression can match \\n, a
  match is then [\\n...] C [\\n...] where C, the part the pattern itself
  consumed, lies inside one line, starts at a line start if some `^` was on
  the path and ends at a line end if some `$` was: exactly a grep match of
  that line.  The extra \\n changes where the match starts, not whether the
  rule fires.  GNU's \\` and \\' mean the same as ^ and $ here.
  An anchor after bytes that are always consumed (`a^b`, `x(\\`|y)`) can
  never match in grep; the alternative holding it is dropped (a pattern
  with nothing left is skipped).  An anchor after something that may or may
  not consume bytes (`a*^b`), or inside a repeat that may run twice, is
  skipped.
* A pattern that can match the empty string matches every line in grep,
  while YARA never reports an empty match: skipped.
* Word boundaries.  \\b and \\B are YARA's own (a line's neighbour is \\n or
  the data's end, a non-word byte, as grep's line end).  GNU's \\< is \\b when
  the next item must be a word byte, \\> is \\b when the previous item must be
  one; any other use is skipped.
* Repeats: *, +, ?, {n}, {n,}, {,m} (printed {0,m}), {n,m}.  A `{` that does
  not start a valid interval is a literal, as in GNU grep; stacked repeats
  (`a+?`, which in ERE is (a+)?, not a lazy repeat) are nested groups.
  Unmatched `)` is a literal, as in GNU grep.
* Skipped: back-references (\\1...), [=x=] and [.x.] other than one plain
  character, a repeat with nothing before it (grep warns and ignores it),
  a repeat of an anchor, and anything grep itself rejects (unmatched `[` or
  `(`, bad class name, bad range, trailing backslash).
"""

import os
import re
import sys
import zlib

SUBDIRS = ["ignore.d.server", "ignore.d.workstation", "ignore.d.paranoid",
           "violations.d", "violations.ignore.d", "cracking.d"]
DIRTAG = {"ignore.d.server": "server", "ignore.d.workstation": "workstation",
          "ignore.d.paranoid": "paranoid", "violations.d": "violations",
          "violations.ignore.d": "violations_ignore", "cracking.d": "cracking"}

NL = 0x0A
INF = None  # unbounded repeat / length


def _rng(a, b):
    return set(range(ord(a), ord(b) + 1))


CLASSES = {
    "digit": _rng("0", "9"),
    "upper": _rng("A", "Z"),
    "lower": _rng("a", "z"),
    "xdigit": _rng("0", "9") | _rng("A", "F") | _rng("a", "f"),
    "space": {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20},
    "blank": {0x09, 0x20},
    "cntrl": set(range(0x00, 0x20)) | {0x7F},
    "print": set(range(0x20, 0x7F)),
    "graph": set(range(0x21, 0x7F)),
    "punct": set(range(0x21, 0x30)) | set(range(0x3A, 0x41))
    | set(range(0x5B, 0x61)) | set(range(0x7B, 0x7F)),
}
CLASSES["alpha"] = CLASSES["upper"] | CLASSES["lower"]
CLASSES["alnum"] = CLASSES["alpha"] | CLASSES["digit"]
WORD = CLASSES["alnum"] | {ord("_")}
ALL = set(range(256))


class Skip(Exception):
    """The pattern cannot be translated faithfully; the message says why."""


# Tree nodes are tuples:
#   ("set", frozenset)            one byte from the set
#   ("cat", [nodes])              concatenation
#   ("alt", [nodes])              alternation
#   ("rep", node, lo, hi)         repeat, hi None = unbounded
#   ("bol",) / ("eol",)           ^ / $
#   ("wb",) / ("nwb",)            \b / \B
#   ("wstart",) / ("wend",)       \< / \>
#   ("empty",)                    matches the empty string


class Parser:
    def __init__(self, pat):
        self.p = pat
        self.i = 0
        self.depth = 0

    def peek(self):
        return self.p[self.i] if self.i < len(self.p) else None

    def parse(self):
        node = self.alt()
        if self.i != len(self.p):  # cannot happen: ')' at depth 0 is literal
            raise Skip("parse error at offset %d" % self.i)
        return node

    def alt(self):
        branches = [self.cat()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.cat())
        return branches[0] if len(branches) == 1 else ("alt", branches)

    def cat(self):
        items = []
        while True:
            c = self.peek()
            if c is None or c == "|" or (c == ")" and self.depth > 0):
                break
            if c in "*+?" or (c == "{" and self.interval() is not None):
                if not items:
                    raise Skip("repeat operator with nothing before it")
                lo, hi = self.quantifier()
                if items[-1][0] in ("bol", "eol", "wb", "nwb", "wstart", "wend"):
                    raise Skip("repeat applied to an anchor or boundary")
                items[-1] = ("rep", items[-1], lo, hi)
                continue
            items.append(self.atom())
        if not items:
            return ("empty",)
        return items[0] if len(items) == 1 else ("cat", items)

    def interval(self):
        """At '{': (lo, hi, length) of a valid GNU interval, else None."""
        m = re.match(r"\{([0-9]*)(,([0-9]*))?\}", self.p[self.i:])
        if not m:
            return None
        lo_s, comma, hi_s = m.group(1), m.group(2), m.group(3)
        if not comma:
            if lo_s == "":
                return None
            lo = hi = int(lo_s)
        else:
            lo = int(lo_s) if lo_s else 0
            hi = int(hi_s) if hi_s else INF
        if hi is not INF and hi < lo:
            raise Skip("invalid interval {%s} (grep rejects it)" % m.group(0)[1:-1])
        if lo > 32767 or (hi is not INF and hi > 32767):
            raise Skip("interval bound above 32767 (grep's RE_DUP_MAX)")
        return lo, hi, m.end()

    def quantifier(self):
        c = self.p[self.i]
        if c == "*":
            self.i += 1
            return 0, INF
        if c == "+":
            self.i += 1
            return 1, INF
        if c == "?":
            self.i += 1
            return 0, 1
        lo, hi, n = self.interval()
        self.i += n
        return lo, hi

    def atom(self):
        c = self.p[self.i]
        self.i += 1
        if c == "(":
            self.depth += 1
            node = self.alt()
            if self.peek() != ")":
                raise Skip("unmatched ( (grep rejects it)")
            self.i += 1
            self.depth -= 1
            return node
        if c == "[":
            return ("set", frozenset(self.bracket()))
        if c == ".":
            return ("set", frozenset(ALL))
        if c == "^":
            return ("bol",)
        if c == "$":
            return ("eol",)
        if c == "\\":
            if self.i >= len(self.p):
                raise Skip("trailing backslash (grep rejects it)")
            e = self.p[self.i]
            self.i += 1
            if e in "123456789":
                raise Skip("back-reference \\%s" % e)
            simple = {
                "w": WORD, "W": ALL - WORD,
                "s": CLASSES["space"], "S": ALL - CLASSES["space"],
            }
            if e in simple:
                return ("set", frozenset(simple[e]))
            special = {"b": ("wb",), "B": ("nwb",), "<": ("wstart",),
                       ">": ("wend",), "`": ("bol",), "'": ("eol",)}
            if e in special:
                return special[e]
            return ("set", frozenset([ord(e) & 0xFF]))
        return ("set", frozenset([ord(c) & 0xFF]))

    def bracket(self):
        """Just after '['; returns the byte set of the bracket expression."""
        p = self.p
        neg = False
        if self.peek() == "^":
            neg = True
            self.i += 1
        members = set()
        first = True
        while True:
            if self.i >= len(p):
                raise Skip("unmatched [ (grep rejects it)")
            c = p[self.i]
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            if c == "[" and self.i + 1 < len(p) and p[self.i + 1] == ":":
                end = p.find(":]", self.i + 2)
                if end < 0:
                    raise Skip("unmatched [: (grep rejects it)")
                name = p[self.i + 2:end]
                if name not in CLASSES:
                    raise Skip("unknown character class [:%s:]" % name)
                members |= CLASSES[name]
                self.i = end + 2
                continue
            lo = self.bracket_char()
            if (self.i + 1 < len(p) and p[self.i] == "-" and p[self.i + 1] != "]"):
                self.i += 1
                hi = self.bracket_char()
                if hi < lo:
                    raise Skip("invalid range end in bracket (grep rejects it)")
                members |= set(range(lo, hi + 1))
            else:
                members.add(lo)
        return (ALL - members) if neg else members

    def bracket_char(self):
        p = self.p
        if p[self.i] == "[" and self.i + 1 < len(p) and p[self.i + 1] in ".=":
            kind = p[self.i + 1]
            end = p.find(kind + "]", self.i + 2)
            if end < 0:
                raise Skip("unmatched [%s (grep rejects it)" % kind)
            body = p[self.i + 2:end]
            if len(body) != 1:
                raise Skip("collating element or equivalence class [%s%s%s]"
                           % (kind, body, kind))
            self.i = end + 2
            return ord(body) & 0xFF
        c = p[self.i]
        self.i += 1
        return ord(c) & 0xFF


# --- analysis ------------------------------------------------------------

ZERO_WIDTH = ("bol", "eol", "wb", "nwb", "wstart", "wend", "empty")


def lengths(n):
    """(min, max) bytes consumed; max None = unbounded."""
    k = n[0]
    if k == "set":
        return 1, 1
    if k in ZERO_WIDTH:
        return 0, 0
    if k == "cat":
        lo, hi = 0, 0
        for it in n[1]:
            a, b = lengths(it)
            lo += a
            hi = None if hi is None or b is None else hi + b
        return lo, hi
    if k == "alt":
        ls = [lengths(b) for b in n[1]]
        lo = min(a for a, _ in ls)
        hi = None if any(b is None for _, b in ls) else max(b for _, b in ls)
        return lo, hi
    if k == "rep":
        a, b = lengths(n[1])
        lo = a * n[2]
        if n[3] is None:
            hi = None if b != 0 else 0
        else:
            hi = None if b is None else b * n[3]
        return lo, hi
    raise AssertionError(k)


def has_anchor(n):
    k = n[0]
    if k in ("bol", "eol"):
        return True
    if k in ("cat", "alt"):
        return any(has_anchor(x) for x in n[1])
    if k == "rep":
        return has_anchor(n[1])
    return False


def ctx_of(lo, hi):
    """What a stretch of the pattern consumes: none / some / maybe."""
    if lo > 0:
        return "some"
    if hi == 0:
        return "none"
    return "maybe"


def join(a, b):
    if "some" in (a, b):
        return "some"
    if "maybe" in (a, b):
        return "maybe"
    return "none"


DEAD = ("dead",)


def prune(n, pre, post):
    """Check anchors against what comes before (pre) and after (post) them.

    Returns the node with never-matching alternatives removed, or DEAD."""
    k = n[0]
    if k == "bol":
        if pre == "none":
            return n
        if pre == "some":
            return DEAD
        raise Skip("^ after something that may or may not consume bytes")
    if k == "eol":
        if post == "none":
            return n
        if post == "some":
            return DEAD
        raise Skip("$ before something that may or may not consume bytes")
    if k == "cat":
        items = n[1]
        lens = [lengths(x) for x in items]
        out = []
        for i, it in enumerate(items):
            if not has_anchor(it):
                out.append(it)
                continue
            before = ctx_of(sum(a for a, _ in lens[:i]),
                            0 if all(b == 0 for _, b in lens[:i]) else None)
            after = ctx_of(sum(a for a, _ in lens[i + 1:]),
                           0 if all(b == 0 for _, b in lens[i + 1:]) else None)
            r = prune(it, join(pre, before), join(post, after))
            if r is DEAD:
                return DEAD
            out.append(r)
        return ("cat", out)
    if k == "alt":
        out = [r for r in (prune(b, pre, post) for b in n[1]) if r is not DEAD]
        if not out:
            return DEAD
        return out[0] if len(out) == 1 else ("alt", out)
    if k == "rep":
        if not has_anchor(n[1]):
            return n
        if n[3] is None or n[3] > 1:
            raise Skip("anchor inside a repeat that may run more than once")
        r = prune(n[1], pre, post)
        if r is DEAD:
            return ("empty",) if n[2] == 0 else DEAD
        return ("rep", r, n[2], n[3])
    return n


def must_be_word(n, last):
    """True when the first (last=False) or last byte n consumes is always a
    word byte and n always consumes one."""
    k = n[0]
    if k == "set":
        return bool(n[1]) and set(n[1]) - {NL} <= WORD
    if k == "rep":
        return n[2] >= 1 and must_be_word(n[1], last)
    if k == "alt":
        return all(must_be_word(b, last) for b in n[1])
    if k == "cat":
        seq = list(reversed(n[1])) if last else n[1]
        for it in seq:
            if it[0] in ZERO_WIDTH:
                continue
            return must_be_word(it, last)
        return False
    return False


def fix_word_edges(n):
    """Replace \\< and \\> by \\b where that is exact, else Skip."""
    k = n[0]
    if k in ("wstart", "wend"):
        raise Skip("\\< or \\> not next to a word character")
    if k == "alt":
        return ("alt", [fix_word_edges(b) for b in n[1]])
    if k == "rep":
        return ("rep", fix_word_edges(n[1]), n[2], n[3])
    if k == "cat":
        items = n[1]
        out = []
        for i, it in enumerate(items):
            if it[0] == "wstart":
                if i + 1 < len(items) and must_be_word(items[i + 1], False):
                    out.append(("wb",))
                    continue
                raise Skip("\\< not followed by a word character")
            if it[0] == "wend":
                if i > 0 and must_be_word(items[i - 1], True):
                    out.append(("wb",))
                    continue
                raise Skip("\\> not preceded by a word character")
            out.append(fix_word_edges(it))
        return ("cat", out)
    return n


# --- printing ------------------------------------------------------------

META = set("\\^$.|?*+()[]{}/")


def lit(b):
    c = chr(b)
    if c in META:
        return "\\" + c
    if c.isalnum() and b < 0x80 or c in " !\"#%&',-:;<=>@_`~":
        return c
    return "\\x%02x" % b


def class_char(b):
    c = chr(b)
    if c in "\\]^-[/":
        return "\\" + c
    if 0x20 < b < 0x7F:
        return c
    return "\\x%02x" % b


def ranges(bs):
    bs = sorted(bs)
    out = []
    i = 0
    while i < len(bs):
        j = i
        while j + 1 < len(bs) and bs[j + 1] == bs[j] + 1:
            j += 1
        out.append((bs[i], bs[j]))
        i = j + 1
    return out


def print_set(s):
    s = set(s) - {NL}
    if not s:
        raise Skip("a byte set that can only match a newline")
    if s == ALL - {NL}:
        return "."
    if len(s) == 1:
        return lit(next(iter(s)))
    comp = ALL - s  # always holds \n
    neg = len(comp) < len(s)
    body = []
    for a, b in ranges(comp if neg else s):
        if b == a:
            body.append(class_char(a))
        elif b == a + 1:
            body.append(class_char(a) + class_char(b))
        else:
            body.append(class_char(a) + "-" + class_char(b))
    return "[" + ("^" if neg else "") + "".join(body) + "]"


def emit(n, top=False):
    k = n[0]
    if k == "set":
        return print_set(n[1])
    if k == "bol":
        return "(^|\\n)"
    if k == "eol":
        return "(\\n|$)"
    if k == "wb":
        return "\\b"
    if k == "nwb":
        return "\\B"
    if k == "empty":
        return ""
    if k == "cat":
        return "".join(emit(x) for x in n[1])
    if k == "alt":
        bs = [b for b in n[1] if b[0] != "empty"]
        optional = len(bs) != len(n[1])
        if not bs:
            return ""
        inner = "|".join(emit(b) for b in bs)
        if optional:  # YARA rejects an empty alternative such as (|a)
            return "(" + inner + ")?"
        return inner if top else "(" + inner + ")"
    if k == "rep":
        body = emit(n[1])
        if body == "":
            return ""
        if not (n[1][0] == "set" or n[1][0] == "alt" and not
                any(b[0] == "empty" for b in n[1][1])):
            body = "(" + body + ")"
        lo, hi = n[2], n[3]
        if (lo, hi) == (0, None):
            q = "*"
        elif (lo, hi) == (1, None):
            q = "+"
        elif (lo, hi) == (0, 1):
            q = "?"
        elif hi is None:
            q = "{%d,}" % lo
        elif lo == hi:
            q = "{%d}" % lo
        else:
            q = "{%d,%d}" % (lo, hi)
        return body + q
    raise AssertionError(k)


def translate(pat):
    """YARA regex text for one ERE pattern, or raise Skip."""
    tree = Parser(pat).parse()
    tree = prune(tree, "none", "none")
    if tree is DEAD:
        raise Skip("can never match (every alternative has an anchor after text)")
    tree = fix_word_edges(tree)
    if lengths(tree)[0] == 0:
        raise Skip("matches the empty string (every line, in grep)")
    out = emit(tree, top=True)
    if not out:
        raise Skip("empty expression")
    return out


# --- sample lines -------------------------------------------------------

PRINTABLE = set(range(0x20, 0x7F))


def sample(n, rnd):
    """A string the tree should match as a whole line (bytes as chars)."""
    k = n[0]
    if k == "set":
        pool = sorted((set(n[1]) & PRINTABLE) or (set(n[1]) - {NL}))
        return chr(rnd.choice(pool))
    if k == "cat":
        return "".join(sample(x, rnd) for x in n[1])
    if k == "alt":
        return sample(rnd.choice(n[1]), rnd)
    if k == "rep":
        lo, hi = n[2], n[3]
        top = lo + 2 if hi is None else min(hi, lo + 2)
        return "".join(sample(n[1], rnd) for _ in range(rnd.randint(lo, top)))
    return ""


def sample_line(pat, seed):
    import random
    tree = prune(Parser(pat).parse(), "none", "none")
    return sample(tree, random.Random(seed))


# --- files ---------------------------------------------------------------

def ident(s):
    return re.sub(r"[^A-Za-z0-9_]", "_", s)


def yara_str(s):
    out = []
    for ch in s:
        b = ord(ch)
        if ch in "\\\"":
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7F:
            out.append(ch)
        else:
            out.append("\\x%02x" % (b & 0xFF))
    return "".join(out)


def tsv_field(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r")


def main(argv):
    src = "/etc/logcheck"
    args = list(argv[1:])
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__.split("\n\n")[1])
        return 0
    samples = None
    while args[:1] in (["-s"], ["--samples"]):
        if args[0] == "--samples":
            samples = []
            args = args[1:]
        elif len(args) >= 2:
            src = args[1]
            args = args[2:]
        else:
            break
    outdir = args[0] if args else "build/logcheck"
    os.makedirs(outdir, exist_ok=True)
    for f in os.listdir(outdir):
        if f.endswith(".yar"):
            os.unlink(os.path.join(outdir, f))

    manifest = []
    skipped = []
    names = set()
    nfiles = 0
    for sub in SUBDIRS:
        d = os.path.join(src, sub)
        if not os.path.isdir(d):
            continue
        for fname in sorted(os.listdir(d)):
            path = os.path.join(d, fname)
            if not os.path.isfile(path):
                continue
            nfiles += 1
            yar = "%s__%s.yar" % (sub, fname)
            with open(path, "rb") as fh:
                lines = fh.read().decode("latin-1").split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            rules = []
            for lineno, pat in enumerate(lines, 1):
                if pat.strip() == "" or pat.startswith("#"):
                    continue
                name = "logcheck_%s_%s_%d" % (DIRTAG[sub], ident(fname), lineno)
                if len(name) > 120:
                    name = name[:100] + "_%d" % lineno
                base, k = name, 2
                while name in names:
                    name = "%s_%d" % (base, k)
                    k += 1
                names.add(name)
                try:
                    rx = translate(pat)
                except Skip as e:
                    skipped.append((path, lineno, str(e), pat))
                    manifest.append((name, path, lineno, "skipped", "", pat))
                    continue
                manifest.append((name, path, lineno, "converted", yar, pat))
                if samples is not None:
                    samples.append((name, sample_line(pat, zlib.crc32(name.encode()))))
                comment = "".join(ch if 0x20 <= ord(ch) < 0x7F else "?" for ch in pat)
                rules.append(
                    "// %s\n"
                    "rule %s {\n"
                    "  meta:\n"
                    "    source = \"%s\"\n"
                    "    line = %d\n"
                    "  strings:\n"
                    "    $re = /%s/\n"
                    "  condition:\n"
                    "    $re\n"
                    "}\n" % (comment, name, yara_str(path), lineno, rx))
            with open(os.path.join(outdir, yar), "w", encoding="latin-1") as fh:
                fh.write("// Generated by bench/logcheck2yara.py from %s\n\n" % path)
                fh.write("\n".join(rules))

    with open(os.path.join(outdir, "skipped.tsv"), "w", encoding="latin-1") as fh:
        for path, lineno, why, pat in skipped:
            fh.write("%s\t%d\t%s\t%s\n" % (path, lineno, why, tsv_field(pat)))
    with open(os.path.join(outdir, "manifest.tsv"), "w", encoding="latin-1") as fh:
        for name, path, lineno, status, yar, pat in manifest:
            fh.write("%s\t%s\t%d\t%s\t%s\t%s\n"
                     % (name, path, lineno, status, yar, tsv_field(pat)))
    if samples is not None:
        with open(os.path.join(outdir, "samples.tsv"), "w", encoding="latin-1") as fh:
            for name, line in samples:
                fh.write("%s\t%s\n" % (name, tsv_field(line)))
    conv = sum(1 for m in manifest if m[3] == "converted")
    print("logcheck2yara: %d files, %d patterns, %d converted, %d skipped -> %s"
          % (nfiles, len(manifest), conv, len(skipped), outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
