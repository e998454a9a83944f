#!/usr/bin/env python3
"""Print the include and call graph between the files of each daemon's
folder, and check the layering rules of DESIGN.md ("Layout"):

- inside listener/ and forwarder/ (and every other folder), calls run one
  way: no file calls, directly or through others, back into one that calls
  it (a cycle of calls between files fails);
- listener/ and forwarder/ never include each other;
- router/ includes nothing of the project but router/.

Usage: scripts/layering.py [--quiet] [FOLDER...]   (default: every folder)
Exit 1 on a broken rule. Reads the sources as text: a function is known by
a definition starting in column 0, a call by its name followed by "(".
"""
import os
import re
import sys

FOLDERS = ["router", "common", "policy", "listener", "forwarder", "metrics", "health", "configd", "cli"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEF_RE = re.compile(r"^(?!static\b)(?!typedef\b)(?!struct\s+\w+\s*\{)[A-Za-z_][\w \t\*]*?\b([A-Za-z_]\w*)\s*\([^;]*$")
INC_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def strip(text):
    """The code without comments, strings and character literals."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r'"(\\.|[^"\\\n])*"', '""', text)
    return re.sub(r"'(\\.|[^'\\\n])*'", "''", text)


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as f:
        return f.read()


def definitions(code):
    names = set()
    for line in code.split("\n"):
        m = DEF_RE.match(line)
        if m and m.group(1) not in ("if", "while", "for", "switch", "return", "sizeof", "main"):
            names.add(m.group(1))
    return names


def folder_graph(folder):
    files = sorted(f for f in os.listdir(os.path.join(ROOT, folder)) if f.endswith(".c"))
    code = {f: strip(read(os.path.join(folder, f))) for f in files}
    defs = {f: definitions(code[f]) for f in files}
    calls = {f: {} for f in files}
    for f in files:
        for g in files:
            if f == g:
                continue
            used = sorted(n for n in defs[g] if re.search(r"\b%s\s*\(" % re.escape(n), code[f]))
            if used:
                calls[f][g] = used
    return files, calls


def cycles(files, calls):
    """Every strongly connected group of more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in calls[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in files:
        if v not in index:
            visit(v)
    return out


def include_problems():
    bad = []
    for folder in FOLDERS:
        for f in sorted(os.listdir(os.path.join(ROOT, folder))):
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.join(folder, f)
            for inc in INC_RE.findall(read(path)):
                top = inc.split("/")[0]
                if folder == "router" and "/" in inc and top != "router":
                    bad.append("%s includes %s: router/ includes only router/" % (path, inc))
                if {folder, top} == {"listener", "forwarder"}:
                    bad.append("%s includes %s: the daemons never include each other" % (path, inc))
                # the health checker is a daemon of its own: it shares
                # only router/, common/ and policy/ with the others
                daemons = {"listener", "forwarder", "metrics", "health"}
                if folder in daemons and top in daemons and top != folder and "health" in (folder, top):
                    bad.append("%s includes %s: the health checker and the other daemons never include each other"
                               % (path, inc))
    return bad


def main(argv):
    quiet = "--quiet" in argv
    folders = [a.rstrip("/") for a in argv if not a.startswith("--")] or FOLDERS
    failed = False
    for folder in folders:
        files, calls = folder_graph(folder)
        if not quiet:
            print("%s/" % folder)
            for f in files:
                incs = [i for i in INC_RE.findall(read(os.path.join(folder, f)))
                        if i.startswith(folder + "/")]
                print("  %s includes %s" % (f, ", ".join(i.split("/")[1] for i in incs) or "-"))
                for g, names in sorted(calls[f].items()):
                    print("    calls %s: %s" % (g, ", ".join(names)))
        for group in cycles(files, calls):
            failed = True
            print("%s/: files calling each other in a circle: %s" % (folder, " ".join(group)))
    for problem in include_problems():
        failed = True
        print(problem)
    print("layering: %d folders, %s" % (len(folders), "cycles or bad includes found" if failed else "no cycle"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
