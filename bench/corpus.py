"""Synthetic but realistic memory text for benchmarks: Zipf-distributed vocabulary.

Real notes from coding sessions mix function words, a long tail of technical terms,
identifiers, file paths and numbers. Term frequencies follow a Zipf law, which is what
decides how many rows a full-text term matches; a small uniform vocabulary would make
every term match a large share of the corpus and say nothing about real search cost.
"""

from __future__ import annotations

import itertools
import random

FUNCTION_WORDS = ["the", "a", "an", "to", "of", "in", "for", "with", "is", "was", "on", "when", "after", "because", "and", "but", "that", "this", "it", "we", "should", "must", "now", "not", "be", "by", "from", "as", "at", "or", "so", "then", "only", "also", "still", "into"]
TECH = ["database", "pool", "connection", "timeout", "retry", "backoff", "cache", "index", "query", "migration", "schema", "deploy", "build", "pipeline", "test", "fixture", "mock", "server", "client", "request", "response", "header", "token", "session", "cookie", "auth", "login", "password", "hash", "encrypt", "config", "setting", "flag", "feature", "release", "branch", "merge", "rebase", "commit", "review", "lint", "format", "type", "error", "exception", "stack", "trace", "log", "metric", "alert", "dashboard", "latency", "throughput", "memory", "cpu", "disk", "thread", "process", "worker", "queue", "job", "scheduler", "cron", "event", "stream", "socket", "websocket", "http", "https", "proxy", "gateway", "router", "endpoint", "handler", "middleware", "payload", "json", "yaml", "toml", "csv", "parser", "tokenizer", "embedding", "vector", "search", "ranking", "score", "filter", "label", "category", "namespace", "agent", "prompt", "context", "window", "summary", "digest", "reflection", "contradiction", "insight", "decision", "preference", "fact", "specification", "container", "image", "kubernetes", "docker", "helm", "terraform", "ansible", "postgres", "sqlite", "redis", "kafka", "rabbitmq", "nginx", "python", "rust", "typescript", "react", "vite", "webpack", "pytest", "ruff", "mypy", "cargo", "npm", "pip", "poetry", "venv", "makefile", "script", "shell", "bash", "zsh", "git", "github", "gitlab", "ci", "cd", "staging", "production", "rollback", "canary", "outage", "incident", "postmortem", "regression", "benchmark", "profiler", "flamegraph", "allocation", "leak", "gc", "lock", "mutex", "deadlock", "race", "condition", "transaction", "isolation", "replica", "shard", "partition", "backup", "restore", "snapshot", "wal", "fsync", "vacuum", "analyze", "explain", "plan", "cost", "estimate", "budget", "quota", "limit", "rate", "bucket", "throttle", "debounce", "cursor", "pagination", "offset", "refactor", "module", "package", "dependency", "version", "upgrade", "downgrade", "pin", "lockfile", "vendor", "patch", "hotfix"]
SYLLABLES = ["bil", "ling", "pay", "ment", "user", "acc", "ount", "inv", "oice", "rep", "ort", "sync", "ser", "vice", "data", "load", "er", "work", "flow", "cli", "ent"]
EXTS = ("py", "rs", "ts", "md", "toml", "sql", "yaml")


def _identifiers(rng: random.Random, n: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        a, b, c = rng.sample(SYLLABLES, 3)
        kind = rng.random()
        if kind < 0.4:
            out.add(f"{a}{b}_{c}{rng.choice(SYLLABLES)}")
        elif kind < 0.7:
            out.add(f"{a.capitalize()}{b}{c.capitalize()}")
        else:
            out.add(f"src/{a}{b}/{c}{rng.choice(SYLLABLES)}.{rng.choice(EXTS)}")
    return sorted(out)


class Corpus:
    """Deterministic text for a seed: `content(i)`, `context()`, `query()`."""

    def __init__(self, seed: int = 42, identifiers: int = 4000) -> None:
        self.rng = random.Random(seed)
        vocab = list(TECH) + _identifiers(self.rng, identifiers)
        self.rng.shuffle(vocab)
        # keep real words in front so they are the common ones, identifiers form the long tail
        vocab.sort(key=lambda w: 0 if w in TECH else 1)
        self.vocab = vocab
        # Zipf with the top ranks left to the function words (sampled separately): the most common
        # content word then appears in roughly one memory in eight, as a word like "python" would.
        self.cum = list(itertools.accumulate(1.0 / (rank + 20) for rank in range(len(vocab))))

    def word(self) -> str:
        return self.rng.choices(self.vocab, cum_weights=self.cum)[0]

    def sentence(self) -> str:
        words = []
        for _ in range(self.rng.randint(6, 18)):
            if self.rng.random() < 0.4:
                words.append(self.rng.choice(FUNCTION_WORDS))
            elif self.rng.random() < 0.05:
                words.append(str(self.rng.choice([2, 3, 5, 8, 10, 15, 20, 30, 60, 100, 404, 500, 5432, 8080])))
            else:
                words.append(self.word())
        words[0] = words[0].capitalize()
        return " ".join(words) + self.rng.choice([".", ".", ".", ";", "!", "?"])

    def content(self, i: int) -> str:
        text = " ".join(self.sentence() for _ in range(self.rng.randint(1, 4)))
        return f"{text} (note {i})"

    def context(self) -> str:
        return self.sentence()

    def query(self) -> str:
        k = self.rng.choice([1, 2, 2, 3, 3, 4])
        words = [self.word() for _ in range(k)]
        if self.rng.random() < 0.3:  # the way people ask
            words = ["how", "do", "we", *words]
        return " ".join(words)
