"""The optional top-level ``source:`` mapping: which published library a standards set was imported from.

Read in both schemas (it changes nothing about scoring); every value is text, and each problem is a
``FILE:LINE`` error like any other in the file.
"""

from __future__ import annotations

import pytest
import yaml

import rules
from tests.builders import criterion, document, domain, one_standard, standard

SOURCE = {
    "name": "Alliance data security baseline",
    "urn": "urn:example:risk:library:adb",
    "ref_id": "ADB",
    "version": "3",
    "provider": "Example Health Alliance",
    "packager": "example",
    "publication_date": "2026-01-15",
    "locale": "en",
    "copyright": "Free to reuse.\nWith credit.",
    "framework_urn": "urn:example:risk:framework:adb",
}


def text_of(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def problems(text: str) -> list[str]:
    with pytest.raises(rules.StandardsError) as caught:
        rules.parse_standards(text, "set.yaml")
    return caught.value.problems


def line_of(text: str, fragment: str) -> int:
    return next(i for i, row in enumerate(text.splitlines(), 1) if fragment in row)


@pytest.mark.parametrize("schema", [1, 2])
def test_every_source_key_is_kept_as_text_in_either_schema(schema):
    loaded = rules.parse_standards(
        text_of({**one_standard(criterion("S1.1")), "schema": schema, "source": SOURCE}), "set.yaml"
    )
    assert loaded.source_library is not None
    assert dict(loaded.source_library.facts()) == SOURCE
    assert [key for key, _ in loaded.source_library.facts()] == list(rules.model.SOURCE_KEYS)


def test_a_file_without_source_has_none_and_a_partial_one_keeps_what_it_gives():
    assert rules.parse_standards(text_of(one_standard(criterion("S1.1"))), "set.yaml").source_library is None
    partial = rules.parse_standards(text_of({**one_standard(criterion("S1.1")), "source": {"urn": "urn:x"}}), "s")
    assert partial.source_library.facts() == (("urn", "urn:x"),)


def test_an_unquoted_date_is_kept_as_written_and_the_source_changes_the_content_hash():
    doc = {**one_standard(criterion("S1.1")), "source": {"urn": "urn:x"}}
    dated = text_of(doc).replace("urn: urn:x", "urn: urn:x\n  publication_date: 2026-01-15")
    loaded = rules.parse_standards(dated, "set.yaml")
    assert loaded.source_library.publication_date == "2026-01-15"
    assert loaded.content_hash != rules.parse_standards(text_of(doc), "set.yaml").content_hash


def test_each_malformed_source_is_an_error_at_its_line():
    doc = document(
        [domain("d", [standard("S1", [criterion("S1.1")])])],
        source={
            "urn": "urn:x",
            "version": "VERSION",
            "provider": "PROVIDER",
            "locale": "LOCALE",
            "provdier": "someone",
            "name": "",
        },
    )
    text = (
        text_of(doc)
        .replace("version: VERSION", "version: 3")
        .replace("provider: PROVIDER", "provider: [a, b]")
        .replace("locale: LOCALE", "locale: yes")
    )
    assert problems(text) == [
        f"set.yaml:{line_of(text, '  version: 3')}: source: 'version' must be text (put it in quotes), "
        "got the number 3",
        f"set.yaml:{line_of(text, 'provider: [a, b]')}: source: 'provider' must be text, got a list",
        f"set.yaml:{line_of(text, 'locale: yes')}: source: 'locale' must be text: YAML reads a bare yes, no, "
        "true or false as a boolean, so put it in quotes, got the boolean true",
        f"set.yaml:{line_of(text, 'provdier:')}: source: unknown key 'provdier' (did you mean 'provider'?); "
        "allowed keys: " + ", ".join(rules.model.SOURCE_KEYS),
        f"set.yaml:{line_of(text, 'name:')}: source: 'name' must not be empty, got ''",
    ]


def test_a_source_that_is_not_a_mapping_is_an_error_at_its_line():
    text = text_of({**one_standard(criterion("S1.1")), "source": ["urn:x"]})
    assert problems(text) == [
        f"set.yaml:{line_of(text, '- urn:x')}: standards set: 'source' must be a mapping, got a list"
    ]
