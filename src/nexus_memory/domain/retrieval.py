"""What text of a memory gets embedded (pure; shared by every backend and surface).

A memory is the text it *is* (`content`); its retrieval context (`context`) is
text that helps find it without being part of it: the preceding turn, the
session date, the project (docs/search.md, "Retrieval context"). Each memory
gets up to two vectors of the configured model:

- kind "content": the content alone, so a query about the memory itself matches
  without the context diluting it;
- kind "context": the context followed by the content, so a query that names
  what was being discussed ("what did she answer about the trip?") matches.

Vector search scores a memory by the better of the two (measured on LoCoMo:
the max of the two beats a single windowed vector).
"""

from __future__ import annotations

KIND_CONTENT = "content"
KIND_CONTEXT = "context"

#: Characters of context kept in front of the content. MiniLM reads 256 tokens
#: (~1000 characters of English); this leaves the content most of the window.
MAX_CONTEXT_CHARS = 600
#: Characters of a text handed to an embedder; the model truncates anyway, and
#: this keeps tokenising huge memories cheap.
MAX_EMBED_CHARS = 4000


def clip_context(context: str | None, limit: int = MAX_CONTEXT_CHARS) -> str:
    """The context, whitespace-collapsed and cut at a word boundary within `limit`."""
    if not context:
        return ""
    flat = " ".join(context.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > limit // 2 else cut


def vector_texts(content: str, context: str | None) -> list[tuple[str, str]]:
    """(kind, text) pairs to embed for one memory: always the content, plus content
    with its context when there is a context that adds something."""
    body = content.strip()[:MAX_EMBED_CHARS]
    out = [(KIND_CONTENT, body)]
    ctx = clip_context(context)
    if ctx and ctx.casefold() not in body.casefold():
        out.append((KIND_CONTEXT, f"{ctx}\n{body}"[:MAX_EMBED_CHARS]))
    return out
