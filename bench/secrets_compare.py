"""Our redaction against detect-secrets and gitleaks' rule set: coverage, false alarms, cost (issue 15).

    python -m bench.secrets_compare [--gitleaks-toml PATH] [--files N]

- coverage: the generated secret corpus (tests/security/secret_corpus.py, 86 shapes); a shape counts
  as found when the detector reports (ours: removes) a span that overlaps its secret body;
- false alarms on ordinary text: lines of installed Python packages' source (code, docstrings, tests
  with base64 fixtures), this repository's docs (prose), and generated UUIDs, git SHAs and lockfile
  lines (npm integrity, yarn resolved, Cargo checksums, pip hashes); a line counts once if any
  detector finding (ours: any change) touches it;
- cost on the hook path: one call on a hook-sized text (a command, a tool output of 2 KB and 20 KB),
  median of repeated runs, plus the import cost of each detector in a fresh interpreter.

detect-secrets runs its line-based plugins with its default filters (the path `detect-secrets scan`
takes). gitleaks' rules (config/gitleaks.toml, read as data when a path is given) run through
Python's `re` with each rule's keywords, entropy and secret group; rules whose RE2 syntax Python
cannot compile are counted and skipped, and per-rule allowlists are not applied (so its false
alarm count is an upper bound). Results go to BENCHMARKS.md by hand with the command line.
"""

from __future__ import annotations

import argparse
import base64
import glob
import hashlib
import json
import math
import random
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.security.secret_corpus import corpus  # noqa: E402

from nexus_memory.domain.redaction import redact_text  # noqa: E402

Finder = Callable[[str], list[tuple[int, int]]]  # spans (start, end) in the text


def benign_lines(files: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    site = sorted(glob.glob(str(Path(sys.prefix) / "lib/python3*/site-packages/**/*.py"), recursive=True))
    rng.shuffle(site)
    lines: list[str] = []
    for path in site[:files]:
        try:
            lines += Path(path).read_text("utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
    for path in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]:
        lines += path.read_text("utf-8").splitlines()
    for i in range(2000):
        digest = hashlib.sha1(str(i).encode()).hexdigest()
        lines += [
            f"id {uuid.UUID(int=rng.getrandbits(128))} commit {digest}",
            f'  "integrity": "sha512-{base64.b64encode(hashlib.sha512(str(i).encode()).digest()).decode()}",',
            f'  resolved "https://registry.yarnpkg.com/pkg/-/pkg-1.0.{i}.tgz#{digest}"',
            f'checksum = "{hashlib.sha256(str(i).encode()).hexdigest()}"',
            f"    --hash=sha256:{hashlib.sha256(str(-i).encode()).hexdigest()}",
            f"assert b64encode(b'{rng.randbytes(12).hex()}') == '{base64.b64encode(rng.randbytes(30)).decode()}'",
        ]
    return [ln for ln in lines if ln.strip()]


# detectors -------------------------------------------------------------------------------------------
def ours() -> Finder:
    def find(text: str) -> list[tuple[int, int]]:
        out = redact_text(text)
        if out == text:
            return []
        # the changed region: common prefix and suffix removed
        start = 0
        while start < min(len(out), len(text)) and out[start] == text[start]:
            start += 1
        end = 0
        while end < min(len(out), len(text)) - start and out[-1 - end] == text[-1 - end]:
            end += 1
        return [(start, len(text) - end)]
    return find


_KEEP: list[Any] = []


def detect_secrets() -> Finder | None:
    try:
        from detect_secrets.core.scan import _process_line_based_plugins
        from detect_secrets.settings import default_settings
    except ImportError:
        return None
    context = default_settings()
    context.__enter__()
    _KEEP.append(context)  # a settings context that is garbage-collected resets the plugins to none

    def find(text: str) -> list[tuple[int, int]]:
        spans = []
        lines = text.splitlines() or [text]
        offsets = []
        pos = 0
        for line in lines:
            offsets.append(pos)
            pos += len(line) + 1
        for secret in _process_line_based_plugins(lines=list(enumerate(lines, start=1)), filename="memory.txt"):
            value = secret.secret_value or ""
            line_start = offsets[secret.line_number - 1]
            at = text.find(value, line_start) if value else -1
            spans.append((at, at + len(value)) if at >= 0 else (line_start, line_start + len(lines[secret.line_number - 1])))
        return spans
    return find


def _entropy(s: str) -> float:
    if not s:
        return 0.0
    counts: dict[str, int] = {}
    for c in s:
        counts[c] = counts.get(c, 0) + 1
    return -sum(n / len(s) * math.log2(n / len(s)) for n in counts.values())


def gitleaks(toml_path: Path | None) -> tuple[Finder | None, dict[str, int]]:
    if toml_path is None or not toml_path.is_file():
        return None, {}
    import tomllib

    config = tomllib.loads(toml_path.read_text("utf-8"))
    rules: list[tuple[re.Pattern[str], list[str], float | None, int]] = []
    skipped = 0
    for rule in config.get("rules", []):
        source = rule.get("regex")
        if not source:
            skipped += 1
            continue
        try:
            pattern = re.compile(source.replace(r"\z", r"\Z"))
        except re.error:
            skipped += 1
            continue
        rules.append((pattern, [k.lower() for k in rule.get("keywords", [])], rule.get("entropy"),
                      int(rule.get("secretGroup", 0))))

    def find(text: str) -> list[tuple[int, int]]:
        low = text.lower()
        spans = []
        for pattern, keywords, entropy, group in rules:
            if keywords and not any(k in low for k in keywords):
                continue
            for m in pattern.finditer(text):
                g = group if group and group <= (pattern.groups or 0) else (1 if pattern.groups else 0)
                value = m.group(g) or m.group(0)
                if entropy and _entropy(value) < entropy:
                    continue
                spans.append(m.span(g) if m.group(g) else m.span())
        return spans
    return find, {"rules": len(rules), "skipped": skipped}


# measures ----------------------------------------------------------------------------------------------
def coverage(find: Finder) -> tuple[int, list[str]]:
    found, missed = 0, []
    for shape, text, body in corpus():
        at = text.find(body)
        hit = any(s < at + len(body) and e > at for s, e in find(text))
        found += hit
        if not hit:
            missed.append(shape.name)
    return found, missed


def false_alarms(find: Finder, lines: list[str]) -> int:
    return sum(1 for line in lines if find(line))


def hook_cost(find: Finder, repeat: int = 30) -> dict[str, float]:
    rng = random.Random(3)
    command = "cd /srv/app && pytest -x tests/test_api.py::test_login --maxfail=1 -q"
    small = "\n".join(f"tests/test_{i}.py::test_case_{i} PASSED [{i}%]" for i in range(40))[:2048]
    words = ["the", "request", "took", "35", "ms", "and", "returned", "200", "with", "a", "json", "body", "of", "items", "and", "a", "cursor"]
    large = "\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(300))[:20_480]
    out = {}
    for name, text in (("command", command), ("output 2 KB", small), ("output 20 KB", large)):
        runs = []
        for _ in range(repeat):
            t = time.perf_counter()
            find(text)
            runs.append(time.perf_counter() - t)
        out[name] = statistics.median(runs) * 1e6
    return out


def import_ms(module: str) -> float:
    code = f"import time; t=time.perf_counter(); import {module}; print((time.perf_counter()-t)*1000)"
    values = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                    .stdout) for _ in range(3)]
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gitleaks-toml", type=Path, help="gitleaks' config/gitleaks.toml (read as data)")
    parser.add_argument("--files", type=int, default=600, help="package source files in the benign corpus")
    args = parser.parse_args()
    lines = benign_lines(args.files)
    detectors: dict[str, Finder] = {"nexus redaction": ours()}
    ds = detect_secrets()
    if ds is not None:
        detectors["detect-secrets 1.5 (default plugins+filters)"] = ds
    gl, gl_info = gitleaks(args.gitleaks_toml)
    if gl is not None:
        detectors[f"gitleaks rules ({gl_info['rules']} compiled, {gl_info['skipped']} skipped)"] = gl
    shapes = len(corpus())
    report: dict[str, Any] = {"corpus_shapes": shapes, "benign_lines": len(lines), "detectors": {}}
    for name, find in detectors.items():
        found, missed = coverage(find)
        t = time.perf_counter()
        fp = false_alarms(find, lines)
        scan_secs = time.perf_counter() - t
        report["detectors"][name] = {
            "found": found, "missed": missed, "false_alarm_lines": fp,
            "false_alarm_rate": round(fp / len(lines), 5), "benign_scan_secs": round(scan_secs, 1),
            "hook_cost_us": {k: round(v, 1) for k, v in hook_cost(find).items()},
        }
    report["import_ms"] = {"nexus_memory.domain.redaction": round(import_ms("nexus_memory.domain.redaction"), 1)}
    if ds is not None:
        report["import_ms"]["detect_secrets (scan + plugins)"] = round(import_ms(
            "detect_secrets.core.scan, detect_secrets.settings"), 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
