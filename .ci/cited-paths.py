#!/usr/bin/env python3
"""Fails when a comment or document names a repository file that is not there.

Looks for paths that start with one of the repository's top folders (src/, tests/,
docs/, end2end/, migrations/, .ci/) in the Rust sources, the test suites and the
documents, and checks each against `git ls-files` (under end2end/, also relative to it);
git-ignored output folders may be named. docs/extending.md is left out: its
examples name the files a reader is about to create.
"""
import re
import subprocess
import sys

TOP = ("src/", "tests/", "docs/", "end2end/", "migrations/", ".ci/")
PATH = re.compile(r"(?<![\w./-])((?:src|tests|docs|end2end|migrations|\.ci)/[\w./${}-]*\w)")
SKIP = {"docs/extending.md"}

files = subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True).stdout.split()
known = set(files)
folders = {f.rsplit("/", i)[0] for f in files for i in range(1, f.count("/") + 1)}

missing = []
for name in files:
    if name in SKIP or not name.endswith((".rs", ".md", ".ts", ".toml", ".sh", ".py")) or not name.startswith(TOP + ("README",)):
        continue
    with open(name, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            for cited in PATH.findall(line):
                cited = cited.rstrip(".")
                if "$" in cited or "{" in cited or "*" in cited:
                    continue
                candidates = [cited]
                if name.startswith("end2end/"):
                    candidates.append("end2end/" + cited)
                if any(c in known or c.rstrip("/") in folders for c in candidates):
                    continue
                # Build and test output (git-ignored) is named, not committed.
                if subprocess.run(["git", "check-ignore", "-q", cited]).returncode == 0:
                    continue
                missing.append(f"{name}:{number}: {cited}")
for m in missing:
    print(m)
if missing:
    print(f"{len(missing)} cited paths are not in the repository", file=sys.stderr)
    sys.exit(1)
