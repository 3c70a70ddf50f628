#!/usr/bin/env python3
"""Generate docs/reference.md from the public headers' declarations and comments.

    python3 docs/gen_reference.py            # rewrite docs/reference.md
    python3 docs/gen_reference.py --check    # exit 1 if docs/reference.md is stale

The headers are the source of truth: every exported function (WEFT_EXTERN),
every public type and constant, and the header-only helpers of weft/test.h
are listed with the comment written above them.  The conventions the parser
relies on are the headers' own:

  - a comment directly above a declaration documents it, and declarations
    that follow without a blank line or a comment of their own share it;
  - a comment that starts with "/* ----" opens a section (its title follows
    the dashes), the rest of it introduces the section;
  - a comment followed by a blank line is prose of the current section;
  - names ending in "_" (weft_test_run_at_) and WEFT_H-style include guards
    are private.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(ROOT, "docs", "reference.md")
# weft.h first, then its parts in the order it includes them, then the rest.
ORDER = ["weft.h", "weft/sync.h", "weft/channel.h", "weft/thread.h", "weft/io.h", "weft/tls.h",
         "weft/debug.h"]


def headers():
    inc = os.path.join(ROOT, "include")
    found = ["weft.h"] + sorted("weft/" + f for f in os.listdir(os.path.join(inc, "weft"))
                                if f.endswith(".h"))
    ordered = [h for h in ORDER if h in found] + [h for h in found if h not in ORDER]
    return [(h, os.path.join(inc, h)) for h in ordered]


def comment_text(raw):
    """The text of a /* ... */ comment, without the markers and the leading ' * '."""
    body = raw.strip()[2:-2]
    lines = [re.sub(r"^\s*\* ?", "", line) if i else line.strip()
             for i, line in enumerate(body.split("\n"))]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(line.rstrip() for line in lines)


class Entry:
    def __init__(self, doc):
        self.doc = doc
        self.names = []
        self.code = []


class Section:
    def __init__(self, title, intro=""):
        self.title = title
        self.intro = [intro] if intro else []
        self.entries = []


DECL_NAME = re.compile(r"\b(weft_\w+|WEFT_\w+)\s*\(")
TYPEDEF_NAME = re.compile(r"(\w+)\s*;\s*$")
DEFINE = re.compile(r"#define\s+((?:WEFT|weft)_\w+)")


def statements(text):
    """Split a header into comments, preprocessor lines, blank lines and C
    statements (a declaration, a typedef, a function with its body)."""
    i, n = 0, len(text)
    while i < n:
        if text.startswith("/*", i):
            j = text.index("*/", i) + 2
            yield "comment", text[i:j]
            i = j
        elif text[i] == "\n":
            # a blank line: two newlines with only spaces between
            j = text.find("\n", i + 1)
            if j != -1 and text[i + 1:j].strip() == "":
                yield "blank", ""
                i = j
            else:
                i += 1
        elif text[i] in " \t}":  # "}": the end of extern "C" {
            i += 1
        elif text.startswith('extern "C"', i):
            j = text.index("{", i) + 1
            yield "code", text[i:j]
            i = j
        elif text[i] == "#":
            j = i
            while True:  # continuation lines
                k = text.find("\n", j)
                k = n if k == -1 else k
                line = text[j:k]
                if line.rstrip().endswith("\\"):
                    j = k + 1
                elif line.rfind("/*") > line.rfind("*/"):  # a comment goes on
                    k = text.index("*/", j) + 2
                    break
                else:
                    break
            yield "pp", text[i:k]
            i = k
        else:
            j, depth = i, 0
            while j < n:
                c = text[j]
                if text.startswith("/*", j):
                    j = text.index("*/", j) + 2
                    continue
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                    if depth == 0 and text[i:j].lstrip().startswith("static inline"):
                        j += 1
                        break
                elif c == ";" and depth == 0:
                    j += 1
                    break
                j += 1
            yield "code", text[i:j]
            i = j


def clean_code(stmt):
    """A declaration as shown: no WEFT_EXTERN, function bodies and private
    struct contents elided, continuation indentation normalised."""
    s = stmt.replace("WEFT_EXTERN ", "").strip()
    if s.startswith("static inline"):
        s = s[:s.index("{")].rstrip() + ";"
    if "weft_private_" in s:
        s = re.sub(r"\{.*\}", "{ /* private */ }", s, flags=re.S)
    lines = s.split("\n")
    if len(lines) > 1 and "(" in lines[0] and "{" not in s:
        lines = [lines[0]] + ["    " + line.strip() for line in lines[1:]]
    return "\n".join(lines)


def code_names(stmt):
    s = stmt.strip()
    if s.startswith("typedef"):
        if "(" in s.split("\n")[0] and "{" not in s:  # typedef int (*weft_fn_t)(void *arg);
            m = re.search(r"\(\s*\*\s*(\w+)\s*\)", s)
            return [m.group(1)] if m else []
        m = TYPEDEF_NAME.search(s)
        return [m.group(1)] if m else []
    head = s[:s.index("{")] if s.startswith("static inline") else s
    m = DECL_NAME.search(head)
    return [m.group(1)] if m else []


def parse(path):
    """The header's introduction and its sections."""
    text = open(path, encoding="utf-8").read()
    intro, sections = None, [Section("")]
    pending = None    # a comment waiting for what follows it
    last = None       # the entry a following declaration may join
    guard = None
    for kind, s in statements(text):
        if kind == "comment":
            t = comment_text(s)
            if intro is None:
                intro, last = t, None
                continue
            if t.startswith("----"):
                title, _, rest = t.lstrip("- ").partition("\n")
                sections.append(Section(title.strip(), rest.strip()))
                pending = last = None
            else:
                if pending is not None:
                    sections[-1].intro.append(pending)
                pending, last = t, None
            continue
        if kind == "blank":
            if pending is not None:
                sections[-1].intro.append(pending)
                pending = None
            last = None
            continue
        if kind == "pp":
            m = DEFINE.match(s)
            if s.startswith("#ifndef") and guard is None:
                guard = s.split()[1]
            if not m or m.group(1) in (guard, "WEFT_EXTERN") or m.group(1).endswith("_"):
                continue
            code, name = s.rstrip(), m.group(1)
            if name[0].islower():  # a function-like macro: its signature
                code = code[:code.index(")") + 1]
        else:
            names = code_names(s)
            if not names or names[0].endswith("_"):
                pending = last = None
                continue
            if s.strip().startswith("static inline") and "_at_" in names[0]:
                continue
            code, name = clean_code(s), names[0]
            if "extern \"C\"" in s:
                continue
        if last is None:
            last = Entry(pending or "")
            sections[-1].entries.append(last)
            pending = None
        last.names.append(name)
        last.code.append(code)
    return intro or "", [sec for sec in sections if sec.entries or sec.intro]


def markdown(text):
    """Comment text as Markdown: indented lists stay, other indented blocks
    (code examples) are fenced, and "<" is escaped outside them."""
    out, block = [], []

    def flush():
        while block and not block[-1].strip():
            block.pop()
        if block and not block[0].lstrip().startswith("- "):
            width = min(len(b) - len(b.lstrip()) for b in block if b.strip())
            if out and out[-1].strip():
                out.append("")
            out.extend(["```c"] + [b[width:] for b in block] + ["```", ""])
        else:
            out.extend(b.replace("<", "&lt;") for b in block)
        block.clear()

    for line in text.split("\n"):
        if line.startswith("  ") or (block and not line.strip()):
            block.append(line)
            continue
        flush()
        out.append(line.replace("<", "&lt;"))
    flush()
    return "\n".join(out).strip("\n")


def anchor(heading):
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-")


def render():
    out = ["# API reference", "",
           "Generated by `docs/gen_reference.py` from the comments of the public headers; "
           "do not edit by hand (a test, `reference_up_to_date`, fails when this file is "
           "stale: run `python3 docs/gen_reference.py`). The guides explain how the pieces "
           "fit together: [tasks](tasks.md), [cancellation](cancellation.md), "
           "[threads](threads.md), [synchronisation](sync.md), [channels](channels.md), "
           "[I/O](io.md), [testing](testing-guide.md), [debugging](debugging.md).", "",
           "Marks: **[fiber]** only from a task of a running runtime (elsewhere "
           "`WEFT_EPERM`); **[thread]** only from a thread that is not running a task; "
           "**[checkpoint]** may suspend the task and reports cancellation.", ""]
    parsed = [(h, *parse(p)) for h, p in headers()]
    out.append("## Contents")
    out.append("")
    for h, _, sections in parsed:
        names = list(dict.fromkeys(n for sec in sections for e in sec.entries
                                   for n in e.names if n[0].islower()))
        out.append("- [`%s`](#%s): %s" % (h, anchor("include/" + h), ", ".join(
            "`%s`" % n for n in names)))
    for h, intro, sections in parsed:
        out += ["", "## include/%s" % h, ""]
        if intro:
            out += [markdown(intro), ""]
        for sec in sections:
            if sec.title:
                out += ["### %s" % sec.title, ""]
            for para in sec.intro:
                out += [markdown(para), ""]
            for e in sec.entries:
                out += ["```c"] + e.code + ["```", ""]
                if e.doc:
                    out += [markdown(e.doc), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def main():
    text = render()
    if sys.argv[1:] == ["--check"]:
        try:
            current = open(OUTPUT, encoding="utf-8").read()
        except OSError:
            current = None
        if current != text:
            sys.stderr.write("docs/reference.md is out of date with include/: "
                             "run python3 docs/gen_reference.py\n")
            return 1
        return 0
    if sys.argv[1:]:
        sys.stderr.write(__doc__)
        return 2
    with open(OUTPUT, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
