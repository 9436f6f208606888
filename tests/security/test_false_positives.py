"""A store must stay useful: redaction leaves ordinary code and prose alone (issue 15, part 3).

Hashes in lockfiles, UUIDs, git SHAs and base64 test fixtures are generated here; the code and prose
are this repository's own sources and docs. bench/secrets_compare.py measures the same on installed
packages' source and compares detectors (numbers in BENCHMARKS.md).
"""

from __future__ import annotations

import base64
import hashlib
import random
import uuid
from pathlib import Path

from nexus_memory.domain.redaction import redact_text

ROOT = Path(__file__).resolve().parents[2]


def _changed(lines: list[str]) -> list[str]:
    return [line for line in lines if redact_text(line) != line]


def test_hashes_ids_and_fixtures_are_never_redacted() -> None:
    rng = random.Random(7)
    lines = []
    for i in range(3000):
        sha1 = hashlib.sha1(str(i).encode()).hexdigest()
        lines += [
            f"commit {sha1}", f"Merge: {sha1[:7]} {sha1[7:14]}", f"request-id: {uuid.UUID(int=rng.getrandbits(128))}",
            f'"integrity": "sha512-{base64.b64encode(hashlib.sha512(str(i).encode()).digest()).decode()}"',
            f'resolved "https://registry.yarnpkg.com/x/-/x-1.{i}.0.tgz#{sha1}"',
            f'checksum = "{hashlib.sha256(str(i).encode()).hexdigest()}"',
            f"    --hash=sha256:{hashlib.sha256(str(-i).encode()).hexdigest()}",
            f"assert b64decode('{base64.b64encode(rng.randbytes(rng.randint(3, 29))).decode()}')",
            f"etag W/\"{hashlib.md5(str(i).encode()).hexdigest()}\"",
        ]
    assert _changed(lines) == []


def test_this_repository_s_code_and_docs_are_almost_never_touched() -> None:
    lines: list[str] = []
    for path in [*ROOT.glob("src/**/*.py"), *ROOT.glob("docs/*.md"), ROOT / "README.md", *ROOT.glob("bench/*.py")]:
        lines += [ln for ln in path.read_text("utf-8").splitlines() if ln.strip()]
    changed = _changed(lines)
    assert len(lines) > 10_000
    assert len(changed) <= len(lines) // 1000, changed  # at most 0.1% of lines
