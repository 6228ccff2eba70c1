#!/usr/bin/env python3
"""Import cycles among the crate's modules, one module per file.

A module depends on another when it names it: a `use` path (braces expanded) or a path
in the code (`crate::server::metrics::sign_in(...)`, `super::throttle::...`). A path is
resolved to the deepest module that exists. A parent and its own descendants are left
out (a `mod.rs` declares its children and often re-exports them): what is reported is a
circle through modules of different branches, such as `server::context` needing
`server::auth::sessions` while `server::auth::sessions` needs `server::context`.

Usage: .ci/import-cycles.py [PREFIX ...]
  Reports the cycles among modules whose path starts with one of the prefixes (all
  when none is given), e.g. `server` or `app pages components`, and exits 1 if any.
"""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def module_of(path):
    rel = os.path.relpath(path, ROOT)[: -len(".rs")]
    parts = rel.split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip(text):
    """The code without comments, strings and character literals."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'r#*"(?:.|\n)*?"#*', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"'(?:\\.|[^'\\])'", "' '", text)
    return text


def expand(tree):
    """`a::{b, c::{d, e}}` → [a::b, a::c::d, a::c::e]."""
    tree = re.sub(r"\s+", "", tree)
    start = tree.find("{")
    if start < 0:
        return [tree]
    prefix, depth, items, current = tree[:start], 0, [], ""
    for ch in tree[start + 1 : tree.rfind("}")]:
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        depth += (ch == "{") - (ch == "}")
        current += ch
    items.append(current)
    paths = []
    for item in filter(None, items):
        paths.extend(expand(prefix + item))
    return paths


def resolve(module, path, modules, is_mod_file):
    """The module `path` names from `module`, or None."""
    segments = [s for s in path.split("::") if s and s != "self"]
    segments = [re.sub(r"\bas\b.*", "", s) for s in segments]
    if not segments:
        return None
    base = list(module)
    if segments[0] == "crate":
        base, segments = [], segments[1:]
    elif segments[0] == "super":
        while segments and segments[0] == "super":
            base = base[:-1]
            segments = segments[1:]
    elif tuple(base + segments[:1]) not in modules and tuple(segments[:1]) not in modules:
        return None  # another crate, or a name of this module
    elif tuple(base + segments[:1]) not in modules:
        base = []
    best = None
    for n in range(len(segments), -1, -1):
        candidate = tuple(base + segments[:n])
        if candidate in modules:
            best = candidate
            break
    return best


def graph():
    files = {}
    for dirpath, _, names in os.walk(ROOT):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(dirpath, name)
                files[module_of(path)] = path
    modules = set(files)
    edges = {m: set() for m in modules}
    for module, path in files.items():
        code = strip(open(path, encoding="utf-8").read())
        is_mod_file = os.path.basename(path) in ("mod.rs", "lib.rs", "main.rs")
        paths = []
        for tree in re.findall(r"\buse\s+([^;]+);", code):
            paths.extend(expand(tree))
        paths.extend(re.findall(r"\b(?:crate|super)(?:::\w+)+", code))
        for p in paths:
            target = resolve(module, p, modules, is_mod_file)
            if target is None or target == module:
                continue
            if target[: len(module)] == module or module[: len(target)] == target:
                continue  # a parent and its descendants
            edges[module].add(target)
    return edges


def cycles(edges, keep):
    """Strongly connected components of more than one module (Tarjan)."""
    nodes = [m for m in edges if keep(m)]
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if not keep(w):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


def main():
    prefixes = [tuple(p.split("::")) for p in sys.argv[1:]]
    keep = lambda m: not prefixes or any(m[: len(p)] == p for p in prefixes)
    edges = graph()
    found = cycles(edges, keep)
    for component in found:
        names = ["::".join(m) for m in component]
        print(f"cycle of {len(names)} modules: {', '.join(names)}")
        inside = set(component)
        for m in component:
            for w in sorted(edges[m] & inside):
                print(f"  {'::'.join(m)} -> {'::'.join(w)}")
    if not found:
        scope = ", ".join(sys.argv[1:]) or "the crate"
        print(f"no import cycle among the modules of {scope}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
