"""Authorisation matrices: every route x every kind of person, with the status code each must get."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Optional

from .conftest import Visitor

Seen = dict[tuple[str, str, str], int]


@dataclass(frozen=True)
class Case:
    endpoint: str
    method: str
    path: str
    expected: dict[str, int]
    data: Optional[dict] = None


def send(person: Visitor, case: Case):
    return person.get(case.path) if case.method == "GET" else person.post(case.path, case.data or {})


def visit(people: Mapping[str, Visitor], matrix: Iterable[Case], personas: Iterable[str], seen: Seen) -> None:
    """Every case for each of these personas in turn, recording the status codes in ``seen``."""
    for who in personas:
        for case in matrix:
            seen[(case.method, case.path, who)] = send(people[who], case).status_code


def mismatches(matrix: Iterable[Case], seen: Seen, personas: Iterable[str]) -> dict:
    """(method, path, persona) -> (got, expected) wherever the two differ."""
    expected = {(c.method, c.path, who): c.expected[who] for c in matrix for who in personas}
    return {key: (seen[key], want) for key, want in expected.items() if seen[key] != want}


def uncovered(app, blueprint: str, matrix: Iterable[Case]) -> list[tuple[str, str]]:  # noqa: ANN001
    """Routes of a blueprint (endpoint, method) that no case of the matrix visits."""
    covered = {(c.endpoint, c.method) for c in matrix}
    return [
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(blueprint + ".")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
        if (rule.endpoint, method) not in covered
    ]
