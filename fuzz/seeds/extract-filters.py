#!/usr/bin/env python3
"""Seeds of the `filter` and `translate` fuzz targets: the RFC 4515 filter literals written
in the project's tests (real clients' templates, translator and evaluator cases), one file
each. Usage: fuzz/seeds/extract-filters.py OUT_DIR FILE..."""
import hashlib, os, re, sys

out, sources = sys.argv[1], sys.argv[2:]
os.makedirs(out, exist_ok=True)
literal = re.compile(r'"((?:[^"\\]|\\.)*)"')

def unescape(s):
    s = re.sub(r"\\u\{([0-9a-fA-F]+)\}", lambda m: chr(int(m.group(1), 16)), s)
    return re.sub(r'\\(["\\nt])', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), s)

seen = set()
for path in sources:
    for raw in literal.findall(open(path, encoding="utf-8").read()):
        text = unescape(raw)
        if not (text.startswith("(") and text.endswith(")") and "=" in text) or "{" in text:
            continue
        if text in seen:
            continue
        seen.add(text)
        name = "test-" + hashlib.sha1(text.encode()).hexdigest()[:16]
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.write(text)
print(len(seen), "filters in", out)
