#!/usr/bin/env python3
"""compare_tokenizer_unicode.py - dsck's token ids against HF tokenizers for
every assigned code point, each in five contexts (formats.md RT-R15).

Run by hand (needs HF `tokenizers`; unicodedata2 on sys.path, if present,
gives the newer Unicode's list of assigned code points):

    compare_tokenizer_unicode.py BUILD TOKENIZER_DIR

TOKENIZER_DIR holds tokenizer.json and tokenizer_config.json (e.g.
tests/oracle/tokenizer_fixtures/trained). Lines "a{c}b {c}{c} 1{c}, x {c}"
go through `dsck-run tokenize --lines` and tokenizers' encode without
special tokens (dsck's leading BOS removed when the config adds one).
Prints the count of code points whose ids differ, by the Unicode version
that assigned them, and exits 1 when any differ.
"""
import json
import os
import subprocess
import sys
import unicodedata

from tokenizers import Tokenizer

try:
    import unicodedata2 as ucd
except ImportError:
    ucd = unicodedata


def main():
    build, tdir = sys.argv[1], sys.argv[2]
    tok = Tokenizer.from_file(os.path.join(tdir, "tokenizer.json"))
    with open(os.path.join(tdir, "tokenizer_config.json")) as f:
        tc = json.load(f)
    bos = tc.get("bos_token")
    bos = bos.get("content") if isinstance(bos, dict) else bos
    bos_id = tok.token_to_id(bos) if tc.get("add_bos_token") and bos else None
    cps = [cp for cp in range(0x20, 0x110000)
           if not 0xD800 <= cp < 0xE000 and ucd.category(chr(cp)) not in ("Cn", "Cs", "Co", "Cc")]
    lines = ["a%sb %s%s 1%s, x %s" % ((chr(cp),) * 5) for cp in cps]
    run = subprocess.run([os.path.join(build, "bin", "dsck-run"), "tokenize", "-m", tdir, "--lines", "-f", "-"],
                         input="\n".join(lines) + "\n", capture_output=True, text=True, check=True)
    got = run.stdout.splitlines()
    assert len(got) == len(lines), (len(got), len(lines))
    bad = {}
    for cp, line, ids in zip(cps, lines, got):
        ids = [int(x) for x in ids.split(",") if x]
        if bos_id is not None and ids[:1] == [bos_id]:
            ids = ids[1:]
        if ids != tok.encode(line, add_special_tokens=False).ids:
            age = "14.0 or before" if unicodedata.category(chr(cp)) != "Cn" else "after 14.0"
            bad.setdefault(age, []).append("U+%04X" % cp)
    print("%s: %d code points (Unicode %s), 5 contexts each; differ: %s" % (
        tdir, len(cps), ucd.unidata_version,
        ", ".join("%d assigned %s (%s...)" % (len(v), k, " ".join(v[:5])) for k, v in bad.items()) or "none"))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
