#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Every mxguard.conf example of the docs passes `mxguardd -t`, so no
# example can rot: README.md, docs/*.md, docs/man/*.5 and *.8, and
# docs/mxguard.conf.example (whole).
#
# How an example is marked (and so found):
#  - Markdown: a fenced block whose info string is `ini` (```ini) is an
#    mxguard.conf example and is checked. Other configuration languages
#    (main.cf, slapd.conf, Exim) are fenced without `ini`.
#  - roff: the block (.nf/.fi or .EX/.EE) right after a line
#    `.\" config-example` (more words may follow) is checked.
#  - A block that is not marked but has a line that looks like a section
#    header ("[global]", "[class smtp]") fails the test, unless marked as
#    not an example: ```text in Markdown, `.\" config-syntax` before it in
#    roff (a syntax sketch such as mxguard.conf(5)'s SYNOPSIS).
#
# How an example is completed (a fragment may show one section alone):
#  - with no [global], "[global] / interfaces = lo" is added at its end;
#  - a line "..." (a comment may follow) stands for the rest of its
#    section: it is replaced by that section's required keys the example
#    lacks ([ldap]: uri, base, domains);
#  - a key naming a file the check opens (bind_password_file, ca_file) is
#    pointed at a file of the test's, mode 600, and [lookup] socket into a
#    directory of the test's (the value alone: a comment after it stays).
# Roff escapes are undone (\fI..\fR, \e, \-). A refusal is reported with
# the doc's file and line (of the example's line mxguardd names).
#
# Usage: tests/integration/test_config_examples.sh BUILD   (no root needed)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=$(cd "${1:?usage: $0 BUILD}" && pwd) || { echo "no build dir $1" >&2; exit 1; }
[[ -x $BUILD/mxguardd ]] || { echo "$BUILD/mxguardd not built (run make)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/mxg-config-examples.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
printf 'secret\n' >"$TMP/secret"
chmod 600 "$TMP/secret"
mkdir "$TMP/run"

python3 - "$BUILD/mxguardd" "$TMP" README.md docs/*.md docs/man/*.5 docs/man/*.8 \
	docs/mxguard.conf.example <<'PY'
import glob, re, subprocess, sys

mxguardd, tmp, files = sys.argv[1], sys.argv[2], sys.argv[3:]
HEADER = re.compile(r"^\s*\[[a-z_]+( [^]]+)?\]\s*([#;].*)?$")
SECTION = re.compile(r"^\s*\[([a-z_]+)( [^]]+)?\]")
# What a "..." line stands for, per section: its required keys.
REQUIRED = {"ldap": [("uri", "ldap://127.0.0.1/"), ("base", "dc=example,dc=org"),
                     ("domains", "example.org")]}
FILE_KEYS = ("bind_password_file", "ca_file")

def roff_text(line):
    line = re.sub(r"\\f[BIRP]", "", line)
    return line.replace("\\-", "-").replace("\\e", "\\").replace("\\(aq", "'")

def blocks(path):
    """(first line number, lines, checked?) of every block of path;
    checked None: unmarked."""
    lines = open(path).read().split("\n")
    out = []
    if path.endswith(".example"):
        return [(1, lines, True)]
    if path.endswith(".md"):
        i = 0
        while i < len(lines):
            m = re.match(r"^(```+|~~~+)\s*(\S*)", lines[i])
            if not m:
                i += 1
                continue
            fence, tag, start = m.group(1), m.group(2), i + 1
            i += 1
            while i < len(lines) and not lines[i].startswith(fence):
                i += 1
            body = lines[start:i]
            mark = True if tag == "ini" else False if tag else None
            out.append((start + 1, body, mark))
            i += 1
        return out
    i = 0
    while i < len(lines):
        if lines[i] in (".nf", ".EX"):
            end = ".fi" if lines[i] == ".nf" else ".EE"
            prev = lines[i - 1] if i else ""
            mark = (True if prev.startswith('.\\" config-example') else
                    False if prev.startswith('.\\" config-syntax') else None)
            start = i + 1
            i += 1
            while i < len(lines) and lines[i] != end:
                i += 1
            body = [roff_text(l) if not l.startswith(".") else None
                    for l in lines[start:i]]
            out.append((start + 1, body, mark))
        i += 1
    return out

def complete(first, body):
    """The example as a file for mxguardd -t, and for each of its lines
    the doc's line it comes from (None: added by the test)."""
    text, origin, sections, section = [], [], {}, None
    def add(line, where):
        text.append(line)
        origin.append(where)
    for n, line in enumerate(body):
        if line is None:
            continue
        where = first + n
        m = SECTION.match(line)
        if m:
            section = m.group(1)
            sections.setdefault(section, set())
        key = re.match(r"^\s*([a-z_]+)\s*[=:]", line)
        if key and section:
            sections[section].add(key.group(1))
            # The value alone is replaced: a comment after it stays.
            if key.group(1) in FILE_KEYS:
                line = re.sub(r"^(\s*\w+\s*[=:]\s*)\S+", r"\g<1>" + tmp + "/secret", line)
            elif section == "lookup" and key.group(1) == "socket":
                line = re.sub(r"^(\s*\w+\s*[=:]\s*)\S+", r"\g<1>" + tmp + "/run/lookup.sock", line)
        if re.match(r"^\s*\.\.\.\s*([#;].*)?$", line):
            for k, v in REQUIRED.get(section, []):
                add("%s = %s" % (k, v), None)
            continue
        add(line, where)
    # Keys a "..." stood for, once the whole section is known: drop the
    # ones the example gives itself.
    given = {}
    section = None
    for i, line in enumerate(text):
        m = SECTION.match(line)
        if m:
            section = m.group(1)
        elif origin[i] is None and section:
            k = line.split(" = ")[0]
            if k in sections.get(section, ()):
                text[i] = ""
            sections.setdefault(section, set()).add(k)
    if "global" not in sections:
        add("[global]", None)
        add("interfaces = lo", None)
    return text, origin

failed = checked = 0
for path in files:
    for first, body, mark in blocks(path):
        looks = any(l is not None and HEADER.match(l) for l in body)
        if mark is None and looks:
            print("%s:%d: a block that looks like mxguard.conf is not marked: "
                  "```ini (checked) or ```text (not a config); in roff "
                  "'.\\\" config-example' or '.\\\" config-syntax'" % (path, first))
            failed += 1
            continue
        if not mark:
            continue
        checked += 1
        text, origin = complete(first, body)
        conf = "%s/example.conf" % tmp
        open(conf, "w").write("\n".join(text) + "\n")
        p = subprocess.run([mxguardd, "-t", "-c", conf], capture_output=True,
                           text=True, timeout=30)
        if p.returncode == 0:
            print("ok: %s:%d" % (path, first))
            continue
        failed += 1
        msg = (p.stderr or p.stdout).strip()
        m = re.search(r"example\.conf:(\d+):", msg)
        where = first
        if m and 0 < int(m.group(1)) <= len(origin) and origin[int(m.group(1)) - 1]:
            where = origin[int(m.group(1)) - 1]
        print("%s:%d: mxguardd -t refuses the example: %s" % (path, where, msg))
        print("  the example as checked:\n    " + "\n    ".join(text))
print("%d examples checked, %d failed" % (checked, failed))
sys.exit(1 if failed or checked < 4 else 0)
PY
