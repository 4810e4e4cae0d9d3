"""CISO Assistant framework libraries built in code, for the import tests and benchmarks/import_bench.py.

The shape is CISO Assistant's (``objects.framework.requirement_nodes``, each node with ``urn``, ``depth``,
``parent_urn``, ``assessable``, ``ref_id``, ``name``, ``description``); the words are made up.
"""

from __future__ import annotations

from typing import Any, Optional

import yaml

URN = "urn:test:risk:req_node:lib"


def node(
    key: str, parent: Optional[str] = None, assessable: bool = True, depth: Optional[int] = None, **extra: Any
) -> dict:
    """One requirement node; ``key`` and ``parent`` are urn tails (``ref_id`` is left to the caller)."""
    body: dict[str, Any] = {"urn": f"{URN}:{key}", "assessable": assessable}
    if depth is not None:
        body["depth"] = depth
    if parent is not None:
        body["parent_urn"] = f"{URN}:{parent}"
    body.update(extra)
    return body


def library(nodes: list[dict], **top: Any) -> dict:
    doc: dict[str, Any] = {
        "urn": "urn:test:risk:library:lib",
        "locale": "en",
        "ref_id": "LIB-1",
        "name": "Test library",
        "description": "A library built by a test.",
        "copyright": "Made up for a test",
        "version": 2,
        "publication_date": "2026-01-01",
        "provider": "Test provider",
        "packager": "tests",
        "objects": {
            "framework": {
                "urn": "urn:test:risk:framework:lib",
                "ref_id": "LIB-1",
                "name": "Test framework",
                "requirement_nodes": nodes,
            }
        },
    }
    doc.update(top)
    return doc


def text(doc: dict) -> str:
    return yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False, allow_unicode=True)


def big_library(count: int = 5000, description_words: int = 60, sections: int = 25, groups: int = 8) -> dict:
    """``count`` requirement nodes: sections (depth 1) of groups (depth 2) of assessable requirements (depth 3)."""
    words = (
        "The provider keeps a current record of who may open each clinical system and checks it every "
        "quarter against the staff list"
    ).split()
    description = " ".join(words[i % len(words)] for i in range(description_words))
    nodes: list[dict] = []
    per_group = max(1, (count - sections * (groups + 1)) // (sections * groups))
    for s in range(1, sections + 1):
        nodes.append(node(f"s{s}", assessable=False, depth=1, ref_id=f"S{s}", name=f"Section {s}"))
        for g in range(1, groups + 1):
            nodes.append(
                node(f"s{s}.{g}", f"s{s}", assessable=False, depth=2, ref_id=f"S{s}.{g}", name=f"Group {s}.{g}")
            )
            for r in range(1, per_group + 1):
                nodes.append(
                    node(
                        f"s{s}.{g}.{r}",
                        f"s{s}.{g}",
                        depth=3,
                        ref_id=f"S{s}.{g}.{r}",
                        name=f"Requirement {s}.{g}.{r}",
                        description=description,
                    )
                )
    r = 0
    while len(nodes) < count:  # top up under the last group
        r += 1
        nodes.append(
            node(
                f"extra{r}",
                f"s{sections}.{groups}",
                depth=3,
                ref_id=f"X{r}",
                name=f"Extra {r}",
                description=description,
            )
        )
    return library(nodes[:count])
