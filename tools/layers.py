#!/usr/bin/env python3
"""layers: check that the C files of wormfs call each other only downward.

    tools/layers.py [--build DIR] [--layers FILE] [--root DIR] [--suggest]

Reads the declared order from tools/layers.txt (its [levels] block is also
shown in docs/HACKING.md, and must match it), runs `nm` over the object
files of a meson build (those compile_commands.json lists; the layered
ones are src/*.c: the core library, fs.c and main.c) and works out, for every file, which other file defines each symbol
it leaves undefined. It fails, naming the files and symbols, on:

  - a call cycle between files;
  - an upward call: to a module on a higher level, to a peer module on the
    same level, or inside a module to a file listed above the caller;
  - a lonely export: a non-static symbol no other file uses (users are
    every object of the build, so wormctl, the tools and the unit tests
    count, plus the fuzz harness sources, which a normal build leaves out);
  - a core file missing from the declaration, or a declared file missing
    from the build;
  - an include outside its module: <fuse*.h> only in src/fs.c, <lmdb.h>
    only in the meta module, <sodium.h> and <openssl/...> only in the
    crypto module, src/M_priv.h only in module M's files (scanned: src/,
    include/, tools/; tools/fusefloor.c, a separate benchmark file system
    not linked with the core, may include the FUSE headers);
  - an exception in tools/layers.txt that no longer matches anything.

--suggest prints exception lines for what it finds instead (a start for
the [exceptions] section, each line still needs its reason). Exit status:
0 clean, 1 violations, 2 usage or setup error. Needs python3 and binutils.
"""
import argparse
import collections
import glob
import json
import os
import re
import subprocess
import sys

def die(msg):
    print("layers: " + msg, file=sys.stderr)
    sys.exit(2)

def strip_comment(line):
    return line.split("#", 1)[0].strip()

def parse_layers(path):
    """[levels]: one level per line, top first, modules on a line are peers.
    [modules] NAME: FILE ...   the module's files (src/FILE.c), top first.
    [exceptions]  allow CALLER -> CALLEE: SYM ...   # reason
                  lonely FILE: SYM ...               # reason"""
    levels, modules, allows, lonely = [], {}, {}, {}
    section = None
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as e:
        die("%s: %s" % (path, e.strerror))
    for no, raw in enumerate(text.splitlines(), 1):
        line = strip_comment(raw)
        where = "%s:%d" % (path, no)
        if not line:
            continue
        m = re.fullmatch(r"\[(\w+)\]", line)
        if m:
            section = m.group(1)
            if section not in ("levels", "modules", "exceptions"):
                die(where + ": unknown section [%s]" % section)
            continue
        if section == "levels":
            levels.append(line.split())
        elif section == "modules":
            m = re.fullmatch(r"([\w]+)\s*:\s*(.+)", line)
            if not m:
                die(where + ": expected 'MODULE: FILE ...'")
            if m.group(1) in modules:
                die(where + ": module %s declared twice" % m.group(1))
            modules[m.group(1)] = m.group(2).split()
        elif section == "exceptions":
            if "#" not in raw or not raw.split("#", 1)[1].strip():
                die(where + ": an exception needs its reason (after '#')")
            m = re.fullmatch(r"allow\s+(\w+)\s*->\s*(\w+)\s*:\s*(.+)", line)
            if m:
                key = (m.group(1), m.group(2))
                allows.setdefault(key, {})
                for s in m.group(3).split():
                    allows[key][s] = where
                continue
            m = re.fullmatch(r"lonely\s+(\w+)\s*:\s*(.+)", line)
            if m:
                lonely.setdefault(m.group(1), {})
                for s in m.group(2).split():
                    lonely[m.group(1)][s] = where
                continue
            die(where + ": expected 'allow CALLER -> CALLEE: SYM ...' or 'lonely FILE: SYM ...'")
        else:
            die(where + ": text before the first [section]")
    if not levels:
        die(path + ": no [levels]")
    level_of, module_of, pos_of = {}, {}, {}
    for i, lv in enumerate(levels):
        for mod in lv:
            if mod in level_of:
                die("%s: module %s on two levels" % (path, mod))
            if mod not in modules:
                die("%s: module %s has no line in [modules]" % (path, mod))
            level_of[mod] = i
    for mod, files in modules.items():
        if mod not in level_of:
            die("%s: module %s is on no level" % (path, mod))
        for i, f in enumerate(files):
            if f in module_of:
                die("%s: file %s in modules %s and %s" % (path, f, module_of[f], mod))
            module_of[f] = mod
            pos_of[f] = i
    return levels, modules, level_of, module_of, pos_of, allows, lonely

def nm(obj):
    try:
        out = subprocess.run(["nm", "-P", obj], capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        die("nm not found (Debian package binutils)")
    except subprocess.CalledProcessError as e:
        die("nm %s: %s" % (obj, e.stderr.strip()))
    defined, undefined = set(), set()
    for line in out.splitlines():
        p = line.split()
        if len(p) < 2:
            continue
        if p[1] == "U":
            undefined.add(p[0])
        elif p[1] in "ABCDGRSTVWu":
            defined.add(p[0])     # global (lower case letters are static)
    return defined, undefined

def find_cycle(graph, scc):
    """A shortest cycle through the first file of a strongly connected set."""
    start = min(scc)
    prev = {}
    queue = [start]
    while queue:
        a = queue.pop(0)
        for b in sorted(graph[a]):
            if b == start:
                path = [a]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if b in scc and b not in prev:
                prev[b] = a
                queue.append(b)
    return sorted(scc)

def sccs(graph, nodes):
    index, low, onstack, stack, out = {}, {}, set(), [], []
    counter = [0]
    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        onstack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in onstack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                onstack.discard(w)
                comp.add(w)
                if w == v:
                    break
            out.append(comp)
    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]

INCLUDE_RULES = [
    # (pattern of the included name, who may include it, description)
    (re.compile(r"fuse(_lowlevel|_common|_opt)?\.h$|^fuse3/|^linux/fuse\.h$"),
     lambda path, mod: path in ("src/fs.c", "tools/fusefloor.c"),
     "only src/fs.c (and tools/fusefloor.c, not linked with the core)"),
    (re.compile(r"^lmdb\.h$"), lambda path, mod: mod == "meta", "only the meta module"),
    (re.compile(r"^sodium(\.h$|/)"), lambda path, mod: mod == "crypto", "only the crypto module"),
    (re.compile(r"^openssl/"), lambda path, mod: mod == "crypto", "only the crypto module"),
]

def check_includes(root, module_of, problems):
    files = []
    for d, pats in (("src", ("*.c", "*.h")), ("include", ("*.h",)), ("tools", ("*.c", "*.h"))):
        for p in pats:
            files += glob.glob(os.path.join(root, d, p))
    inc_re = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
    for full in sorted(files):
        rel = os.path.relpath(full, root)
        base = os.path.basename(rel)
        stem = re.sub(r"(_priv)?\.[ch]$", "", base)
        # A private header belongs to its module; a source file to its line in [modules].
        mod = module_of.get(stem) if rel.startswith("src/") else None
        if rel.startswith("src/") and base.endswith("_priv.h"):
            mod = stem if stem in set(module_of.values()) else None
        with open(full, encoding="utf-8", errors="replace") as fh:
            for no, line in enumerate(fh, 1):
                m = inc_re.match(line)
                if not m:
                    continue
                name = m.group(1)
                for pat, allowed, who in INCLUDE_RULES:
                    if pat.search(name) and not allowed(rel, mod):
                        problems.append("include: %s:%d includes <%s>; %s may"
                                        % (rel, no, name, who))
                pm = re.fullmatch(r"(?:\.\./)*(?:src/)?(\w+)_priv\.h", name)
                if pm and not (rel.startswith("src/") and mod == pm.group(1)):
                    problems.append("include: %s:%d includes %s, private to module %s "
                                    "(only src/ files of that module may)" % (rel, no, name, pm.group(1)))

def check_docs(root, levels, problems):
    path = os.path.join(root, "docs", "HACKING.md")
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        problems.append("docs: %s: %s" % (path, e.strerror))
        return
    want = ["    " + " ".join(lv) for lv in levels]
    for i in range(len(lines) - len(want) + 1):
        if [l.rstrip() for l in lines[i:i + len(want)]] == want:
            return
    problems.append("docs: docs/HACKING.md does not show the [levels] of tools/layers.txt "
                    "(as an indented block, one level per line):\n" + "\n".join(want))

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="check the call layering of the wormfs C files")
    ap.add_argument("--build", default=os.path.join(os.path.dirname(here), "build"))
    ap.add_argument("--layers", default=os.path.join(here, "layers.txt"))
    ap.add_argument("--root", default=os.path.dirname(here),
                    help="source tree (src/, include/, tools/, docs/HACKING.md)")
    ap.add_argument("--suggest", action="store_true",
                    help="print exception lines for the current violations")
    args = ap.parse_args()

    levels, modules, level_of, module_of, pos_of, allows, lonely_ok = parse_layers(args.layers)
    problems = []

    # The objects the build declares (a stale one left by a rename would
    # count as a user); without meson's list, every DIR/*.p/*.o.
    cc_json = os.path.join(args.build, "compile_commands.json")
    if os.path.exists(cc_json):
        with open(cc_json, encoding="utf-8") as fh:
            outs = {e.get("output") for e in json.load(fh) if e.get("output")}
        objs = sorted(o for o in (os.path.join(args.build, x) for x in outs) if os.path.exists(o))
    else:
        objs = sorted(glob.glob(os.path.join(args.build, "*.p", "*.o")))
    if not objs:
        die("no object files under %s/*.p (build it first: ninja -C %s)" % (args.build, args.build))
    layered = {}      # file stem -> object path (first one seen)
    users = []        # (label, undefined symbols) for every object
    defs = {}         # symbol -> file stem
    for o in objs:
        d, u = nm(o)
        name = os.path.basename(o)
        m = re.fullmatch(r"src_(\w+)\.c\.o", name)
        if m:
            stem = m.group(1)
            if stem in layered:
                continue      # the same source in two targets
            layered[stem] = (d, u)
            for s in d:
                defs[s] = stem
            users.append((stem, u))
        else:
            users.append((os.path.relpath(o, args.build), u))

    for stem in sorted(layered):
        if stem not in module_of:
            problems.append("unplaced: src/%s.c is built but not in [modules] of %s"
                            % (stem, os.path.basename(args.layers)))
    for f in sorted(module_of):
        if f not in layered:
            problems.append("missing: %s declares src/%s.c, which the build has no object for"
                            % (os.path.basename(args.layers), f))

    # file -> file -> symbols it uses there
    calls = collections.defaultdict(lambda: collections.defaultdict(set))
    used_by = collections.defaultdict(set)
    for label, u in users:
        for s in u:
            f = defs.get(s)
            if f is not None and f != label:
                used_by[s].add(label)
                if label in layered:
                    calls[label][f].add(s)

    # Exceptions: matched ones are taken out, unmatched ones are reported.
    used_allow = set()
    graph = collections.defaultdict(set)
    edges = {}
    for a in calls:
        for b, syms in calls[a].items():
            rest = set()
            for s in syms:
                if s in allows.get((a, b), {}):
                    used_allow.add((a, b, s))
                else:
                    rest.add(s)
            if rest:
                graph[a].add(b)
                edges[(a, b)] = rest

    for comp in sccs(graph, list(layered)):
        cyc = find_cycle(graph, comp)
        steps = "%s.c" % cyc[0]
        for a, b in zip(cyc, cyc[1:]):
            syms = sorted(edges[(a, b)])
            steps += " -> %s.c (%s%s)" % (b, ", ".join(syms[:3]), ", ..." if len(syms) > 3 else "")
        problems.append("cycle: between files %s: %s" % (", ".join("%s.c" % f for f in sorted(comp)), steps))

    for (a, b), syms in sorted(edges.items()):
        if a not in module_of or b not in module_of:
            continue
        ma, mb = module_of[a], module_of[b]
        why, kind = None, "upward"
        if ma == mb:
            if pos_of[b] < pos_of[a]:
                why = "%s.c is above %s.c in module %s" % (b, a, ma)
        elif level_of[mb] < level_of[ma]:
            why = "module %s (level %d) is above module %s (level %d)" % (mb, level_of[mb] + 1, ma, level_of[ma] + 1)
        elif level_of[mb] == level_of[ma]:
            why, kind = "modules %s and %s are peers (level %d)" % (ma, mb, level_of[ma] + 1), "sideways"
        if why:
            problems.append("%s call: %s.c calls %s.c (%s): %s" % (kind, a, b, ", ".join(sorted(syms)), why))

    for s, f in sorted(defs.items(), key=lambda x: (x[1], x[0])):
        if used_by[s] or s == "main":
            continue
        if s in lonely_ok.get(f, {}):
            used_allow.add(("lonely", f, s))
            continue
        problems.append("lonely export: %s.c exports %s, which no other file uses (make it static or drop it)" % (f, s))

    if not args.suggest:
        for (a, b), syms in sorted(allows.items()):
            for s, where in sorted(syms.items()):
                if (a, b, s) not in used_allow:
                    problems.append("stale exception: %s: %s.c no longer calls %s in %s.c (or not upward): remove it"
                                    % (where, a, s, b))
        for f, syms in sorted(lonely_ok.items()):
            for s, where in sorted(syms.items()):
                if ("lonely", f, s) not in used_allow:
                    problems.append("stale exception: %s: %s.c's %s is no longer a lonely export: remove it"
                                    % (where, f, s))

    if os.path.isdir(os.path.join(args.root, "src")):
        check_includes(args.root, module_of, problems)
    check_docs(args.root, levels, problems)

    if args.suggest:
        for p in problems:
            m = re.match(r"(?:upward|sideways) call: (\w+)\.c calls (\w+)\.c \(([^)]*)\)", p)
            if m:
                print("allow %s -> %s: %s  # REASON" % (m.group(1), m.group(2), m.group(3).replace(",", "")))
            m = re.match(r"lonely export: (\w+)\.c exports (\w+)", p)
            if m:
                print("lonely %s: %s  # REASON" % (m.group(1), m.group(2)))
        return 0
    for p in problems:
        print("layers: " + p)
    if problems:
        print("layers: %d violation(s); the rules: docs/HACKING.md, the order: %s"
              % (len(problems), args.layers))
        return 1
    print("layers: ok (%d files, %d modules, %d levels, %d caller-callee file pairs)"
          % (len(layered), len(modules), len(levels), sum(len(v) for v in calls.values())))
    return 0

if __name__ == "__main__":
    sys.exit(main())
