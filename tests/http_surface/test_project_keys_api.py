"""REST search by project (issue 16): a repository's key and the older keys of the same project."""

from __future__ import annotations

import httpx


def test_search_keeps_the_project_by_its_keys_and_memories_of_no_project(client: httpx.Client) -> None:
    def store(content: str, hook: dict[str, str] | None) -> int:
        r = client.post("/memories", json={"content": content, "metadata": {"hook": hook} if hook else {}})
        assert r.status_code in (200, 201), r.text
        return int(r.json()["memory"]["id"] if "memory" in r.json() else r.json()["id"])

    keyed = store("the deploy window opens at noon", {"project_root": "/w/a", "project_id": "git:abc"})
    legacy = store("the deploy window closes at six", {"project_root": "/w/old-worktree"})
    other = store("the deploy window of another repo", {"project_root": "/w/b", "project_id": "git:def"})
    anywhere = store("the deploy window rule for every project", None)

    def ids(**body: object) -> set[int]:
        r = client.post("/memories/search", json={"query": "deploy window", **body})
        assert r.status_code == 200, r.text
        return {hit["memory"]["id"] for hit in r.json()["results"]}

    assert ids(project_root="git:abc") == {keyed, anywhere}
    assert ids(project_root="git:abc", project_keys=["/w/old-worktree"]) == {keyed, legacy, anywhere}
    assert other not in ids(project_keys=["git:abc"])
    bad = client.post("/memories/search", json={"query": "x", "project_keys": ["k"] * 33})
    assert bad.status_code == 422 and "project_keys" in bad.text
