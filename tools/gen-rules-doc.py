#!/usr/bin/env python3
"""gen-rules-doc.py: docs/rules.md from the rule packs and their attack cases.

    tools/gen-rules-doc.py [--check] [ROOT]

Reads stdlib-policies/*.vsp (each rule's `#:` rationale and `#: fp:`
lines, priority, tags, events, verdict and the lists its condition reads
proc.exe against) and tests/guest/attacks/*.case (the techniques the pack
tests reproduce in the guest, their variants and the rule each must meet),
and writes docs/rules.md.  With --check it writes nothing and exits 1 when
docs/rules.md differs from what it would write, or when a rule lacks its
metadata (priority, an attack.T tag, a maturity tag, a rationale) or a case
names a rule no pack has.  The pack tests (tests/guest/pack-*.t) run the
same case files, so the table lists only what a test checks.
"""
import glob
import os
import re
import sys

TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|#[^\n]*|[A-Za-z_][A-Za-z0-9_.]*|0[xob][0-9a-fA-F_]+|\d+|\S')


def tokens(text):
    """(kind, value, line) for each token; comments kept as 'comment'."""
    line = 1
    pos = 0
    for m in TOKEN.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        v = m.group(0)
        if v.startswith("#"):
            kind = "comment"
        elif v.startswith('"'):
            kind = "string"
        else:
            kind = "word"
        yield kind, v, line


def unquote(s):
    return s[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def expand(words, macros, depth=0):
    """The words with each macro name replaced by its body."""
    out = []
    for w in words:
        if w in macros and depth < 16:
            out.extend(expand(macros[w], macros, depth + 1))
        else:
            out.append(w)
    return out


def parse_pack(path):
    text = open(path, encoding="utf-8").read()
    toks = list(tokens(text))
    name = os.path.basename(path)[:-4]
    header = []
    for kind, v, _ in toks:
        if kind != "comment":
            break
        header.append(v[1:].strip())
    summary = header[0].split(":", 1)[1].strip() if header and ":" in header[0] else ""
    rules = []
    macros = {}
    doc = []
    i = 0
    while i < len(toks):
        kind, v, line = toks[i]
        if kind == "comment":
            if v.startswith("#:"):
                doc.append(v[2:].strip())
            i += 1
            continue
        if kind == "word" and v == "macro":
            body = []
            j = i + 3
            while toks[j][1] != ";":
                if toks[j][0] != "comment":
                    body.append(toks[j][1])
                j += 1
            macros[toks[i + 1][1]] = body
            i = j + 1
            doc = []
            continue
        if kind == "word" and v == "rule":
            rule = {"line": line, "doc": [d for d in doc if not d.startswith("fp:")],
                    "fp": [d[3:].strip() for d in doc if d.startswith("fp:")],
                    "priority": None, "tags": [], "events": [], "verdict": None,
                    "effects": [], "lists": []}
            doc = []
            i += 1
            rule["name"] = unquote(toks[i][1])
            i += 1
            # attributes up to ':'
            while toks[i][1] != ":":
                if toks[i][1] == "priority":
                    rule["priority"] = toks[i + 1][1]
                    i += 2
                elif toks[i][1] == "tags":
                    i += 2
                    while toks[i][1] != ")":
                        if toks[i][0] == "string":
                            rule["tags"].append(unquote(toks[i][1]))
                        i += 1
                    i += 1
                else:
                    i += 1
            i += 1
            # body up to the ';' that ends the rule
            body = []
            while toks[i][1] != ";":
                if toks[i][0] != "comment":
                    body.append(toks[i])
                i += 1
            i += 1
            words = [b[1] for b in body]
            # events: after 'on', up to when / must / ':'
            j = 1
            ev = []
            while words[j] not in ("when", "must", ":"):
                ev.append(words[j])
                j += 1
            rule["events"] = [re.sub(r" ?\[ ?(\d+) \. \. (\d+) ?\]", r"[\1..\2]", e.strip())
                              for e in " ".join(ev).replace(" ,", ",").split(",")]
            # actions: after the last top-level ':'
            depth = 0
            last = None
            for k, w in enumerate(words):
                if w in "([":
                    depth += 1
                elif w in ")]":
                    depth -= 1
                elif w == ":" and depth == 0:
                    last = k
            acts = words[last + 1:]
            for k, w in enumerate(acts):
                if w in ("deny", "kill", "allow", "pause", "return", "redirect"):
                    verdict = w
                    if w == "deny" and k + 1 < len(acts) and re.match(r"E[A-Z]+|\d+", acts[k + 1]):
                        verdict += " " + acts[k + 1]
                    rule["verdict"] = verdict
                elif w in ("alert", "log", "count"):
                    rule["effects"].append(w)
            # the lists the program (proc.exe, its parent's, a basename)
            # is compared against, in the rule or the macros it uses
            words = expand(words, macros)
            for k in range(len(words) - 2):
                w = words[k]
                if w in ("proc.exe", "proc.parent.exe") or \
                        (w == ")" and words[k - 1] in ("proc.exe", "proc.parent.exe")):
                    rest = words[k + 1:k + 4]
                    lst = rest[2] if rest[:2] == ["not", "in"] else rest[1] if rest[:1] == ["in"] else None
                    if lst and re.match(r"[a-z_]+$", lst):
                        rule["lists"].append(lst)
            rule["lists"] = sorted(set(rule["lists"]))
            rules.append(rule)
            continue
        if kind != "comment":
            doc = []
        i += 1
    return {"name": name, "summary": summary, "rules": rules, "path": path}


def parse_case(path):
    case = {"path": path, "variants": []}
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        key, _, val = line.partition(":")
        val = val.strip()
        if key == "variant":
            parts = [p.strip() for p in val.split(" | ")]
            case["variants"].append(parts[0])
        else:
            case[key] = val
    return case


def outcome(rule):
    v = rule["verdict"]
    if v is None:
        return "alerted" if "alert" in rule["effects"] else "logged"
    if v.startswith("deny"):
        return "blocked (%s)" % v
    if v == "kill":
        return "blocked (kill)"
    return v


def lint(packs, cases):
    errs = []
    names = {}
    for p in packs:
        for r in p["rules"]:
            where = "%s:%d: rule %s" % (p["path"], r["line"], r["name"])
            names[r["name"]] = p["name"]
            if not r["priority"]:
                errs.append(where + ": no priority")
            if not any(t.startswith("attack.T") for t in r["tags"]):
                errs.append(where + ": no attack.T tag")
            mat = [t for t in r["tags"] if t.startswith("maturity.")]
            if len(mat) != 1 or mat[0] not in ("maturity.stable", "maturity.incubating"):
                errs.append(where + ": needs one tag maturity.stable or maturity.incubating")
            if not r["doc"]:
                errs.append(where + ": no '#:' rationale line above it")
    for c in cases:
        if c.get("rule") not in names:
            errs.append("%s: rule %r is in no pack" % (c["path"], c.get("rule")))
        elif names[c["rule"]] != c.get("pack"):
            errs.append("%s: rule %r is in pack %s, not %s" %
                        (c["path"], c["rule"], names[c["rule"]], c.get("pack")))
        if not c["variants"]:
            errs.append("%s: no variant" % c["path"])
    return errs


def cell(s):
    return s.replace("|", "\\|")


def render(packs, cases):
    out = []
    w = out.append
    w("# Rule packs")
    w("")
    w("<!-- Generated by tools/gen-rules-doc.py from stdlib-policies/*.vsp and")
    w("     tests/guest/attacks/*.case; tests/cli/rulesdoc.t fails when it drifts. -->")
    w("")
    w("The packs in `stdlib-policies/` are imported by name:")
    w("")
    w("```")
    w('import "credentials";')
    w('import "exec-hygiene";')
    w("```")
    w("")
    w("`import \"NAME\";` (NAME of letters, digits, `-` and `_` only) reads `NAME.vsp`")
    w("from the first of:")
    w("the `--policy-path DIR` directories in order, the directories of")
    w("`VSP_POLICY_PATH` (colon-separated), `../share/vsp/stdlib-policies` beside")
    w("the `vsp` binary, `$(PREFIX)/share/vsp/stdlib-policies` (the installed")
    w("packs) and `../stdlib-policies` beside the binary (a build directory in")
    w("the source tree).  A name found nowhere is an error naming every")
    w("directory searched; any other import (with a `/` or a `.`) is a file, as")
    w("before.")
    w("")
    w("Every rule has a priority, an ATT&CK tag (`attack.T...`), a maturity tag")
    w("(`maturity.stable`: tested live against its reproductions and the benign")
    w("workload; `maturity.incubating`: the detection holds but its false-positive")
    w("sources are less known) and a one-line rationale (the `#:` line above it).")
    w("")
    w("**Exceptions.** Each rule compares `proc.exe` (the executable the kernel")
    w("runs, which a process cannot rename) against a list of the programs it lets")
    w("through; the table names that list.  To let one more program through")
    w("without editing a pack, put an `allow` rule before the import: the first")
    w("rule with a verdict decides the event, so the pack's rules never see it.")
    w("Keep the exception as narrow as the object and the program:")
    w("")
    w("```")
    w('rule "backup-reads-shadow": on file open')
    w('when file.path == "/etc/shadow" and proc.exe == "/usr/sbin/backupd": allow;')
    w('import "credentials";')
    w("```")
    w("")
    w("(The language has no way to add items to a list declared in another file,")
    w("so a pack's own lists change only by editing or copying the pack.)")
    w("")
    w("**Columns.** *Technique* is what the guest test reproduces")
    w("(`tests/guest/attacks/*.case`, run by `tests/guest/pack-NAME.t`; the")
    w("xen-hypercalls cases by `tests/xen/xen.t` on the Xen rig), or the")
    w("rule's rationale when no reproduction runs live yet; *variants* are the")
    w("spellings and routes the test runs, each of which must meet the rule.")
    w("*Outcome* is blocked (the guest sees the errno, or the process is killed)")
    w("or alerted (an alert record, the operation goes on).")
    w("")
    by_rule = {}
    for c in cases:
        by_rule.setdefault(c["rule"], []).append(c)
    ntech = sum(1 for c in cases)
    nvar = sum(len(c["variants"]) for c in cases)
    nrules = sum(len(p["rules"]) for p in packs)
    w("%d packs, %d rules; %d techniques reproduced live in %d variants." %
      (len(packs), nrules, ntech, nvar))
    w("")
    for p in packs:
        w("## %s" % p["name"])
        w("")
        if p["summary"]:
            w(p["summary"][0].upper() + p["summary"][1:])
            w("")
        w("| technique | ATT&CK | rule | events | outcome | variants tested | maturity | false-positive sources | list to extend |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in p["rules"]:
            attack = ", ".join(t[len("attack."):] for t in r["tags"] if t.startswith("attack."))
            mat = ", ".join(t[len("maturity."):] for t in r["tags"] if t.startswith("maturity."))
            rc = by_rule.get(r["name"], [])
            if rc:
                tech = "; ".join(c["technique"] for c in rc)
                variants = "; ".join(", ".join(c["variants"]) for c in rc)
            else:
                tech = "%s *(not reproduced live)*" % " ".join(r["doc"])
                variants = "-"
            fp = "; ".join(r["fp"]) or "-"
            lists = ", ".join("`%s`" % l for l in r["lists"]) or "-"
            w("| %s | %s | `%s` | %s | %s | %s | %s | %s | %s |" % (
                cell(tech), attack, r["name"], ", ".join("`%s`" % e for e in r["events"]),
                outcome(r), cell(variants), mat, cell(fp), lists))
        w("")
    w("## What the packs do not cover yet")
    w("")
    for line in GAPS:
        w("- " + line)
    w("")
    return "\n".join(out) + "\n"


GAPS = [
    "`LD_PRELOAD` in the environment: no field carries the environment; "
    "`exec-map-writable` stops the library being mapped from a writable directory, "
    "not one preloaded from elsewhere.",
    "A reverse shell is recognised at the shell's exec by its parent program "
    "(`shell-from-program`), not by its standard input being a socket: a shell started "
    "by a listed program (an interpreter, a job runner) passes.",
    "Opens with `O_CREAT` are decided after the kernel created the file: a denied "
    "drop-in (`/etc/sudoers.d/x`) or set-user-ID file is left empty.",
    "Writes to kernel memory (`kernel-memory.vsp`) are watched at the objects' kernel "
    "addresses: a write through another mapping of the same page (an alias the writer "
    "maps itself) is not seen. The Xen backend has no write watchpoints and refuses "
    "the pack. `idt-write` lets through the kernel's own writes while it boots: the "
    "early exception handlers set from `x86_64_start_kernel` and the rest from "
    "`start_kernel` (vsp may attach before either: it waits for the kernel to start, "
    "not for it to finish booting).",
    "Xen hypercall abuse (`xen-hypercalls.vsp`) is reproduced on the Xen rig "
    "only (`tests/xen/xen.t`, PVH guest): the two cases call from a module's own "
    "code; a PV guest's `mmu_update` abuse cannot run there (vm_event does not "
    "serve PV guests). Its rules alert, they do not deny. "
    "The shipped profiles name Linux's own Xen functions, so a module that calls the "
    "kernel's grant-table helpers passes; a profile learned from the guest "
    "(`--mode learn` on a copy of the pack) names whole paths.",
    "File rules skip kernel threads (an empty `proc.exe`), which the kernel's own "
    "initramfs unpacking needs; exec rules do not, so a usermode helper pointed at "
    "/tmp is still refused.",
]


def main():
    args = sys.argv[1:]
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    root = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    packs = [parse_pack(p) for p in sorted(glob.glob(os.path.join(root, "stdlib-policies", "*.vsp")))]
    cases = [parse_case(c) for c in sorted(glob.glob(os.path.join(root, "tests", "guest", "attacks", "*.case")))]
    errs = lint(packs, cases)
    for e in errs:
        print("gen-rules-doc: " + os.path.relpath(e.split(":")[0], root) + ":" + e.split(":", 1)[1]
              if e.startswith(root) else "gen-rules-doc: " + e, file=sys.stderr)
    text = render(packs, cases)
    target = os.path.join(root, "docs", "rules.md")
    if check:
        old = open(target, encoding="utf-8").read() if os.path.exists(target) else ""
        if old != text:
            print("gen-rules-doc: docs/rules.md is out of date: run tools/gen-rules-doc.py",
                  file=sys.stderr)
            return 1
        return 1 if errs else 0
    if errs:
        return 1
    with open(target, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
