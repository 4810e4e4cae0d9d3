"""Importing CISO Assistant framework libraries (contract, schema 2 section 5; ``standards import``).

Libraries are built in the tests (tests/libraries.py), plus one small library written by hand in CISO
Assistant's format (tests/data/ciso-assistant-alliance-baseline.yaml). The converter is checked on the
document it returns and on the YAML text it writes; the command in a fresh process and through click.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

import cli
import rules
from rules.library_import import Imported, LibraryError, convert_library, import_library_file, read_library
from tests.libraries import URN, big_library, library, node, text

ROOT = Path(__file__).resolve().parent.parent
HAND_WRITTEN = ROOT / "tests" / "data" / "ciso-assistant-alliance-baseline.yaml"
APRIL = dt.date(2026, 4, 1)


def convert(doc: dict | str, set_id: str = "imported", version: str = "2026.1", **options) -> Imported:
    parsed = read_library(doc if isinstance(doc, str) else text(doc), "lib.yaml")
    return convert_library(parsed, set_id, version, filename="lib.yaml", effective_from=APRIL, **options)


def outline(document: dict) -> list[tuple[str, str, list[str]]]:
    """(domain id, standard id, criterion ids) for every standard, in file order."""
    return [(d["id"], s["id"], [c["id"] for c in s["criteria"]]) for d in document["domains"] for s in d["standards"]]


def criteria(document: dict) -> list[dict]:
    return [c for d in document["domains"] for s in d["standards"] for c in s["criteria"]]


def as_schema_1(document: dict) -> str:
    """The imported document as a schema 1 file (it uses no schema 2 key but ``source``)."""
    doc = copy.deepcopy(document)
    doc["schema"] = 1
    doc.pop("source")
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def cli_process(*args: str | Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "cli.py", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def run_import(library_path: Path, out: Path, *extra: str) -> Result:
    return CliRunner().invoke(
        cli.main,
        [
            "standards",
            "import",
            str(library_path),
            "--id",
            "imported",
            "--version",
            "2026.1",
            "--out",
            str(out),
            *extra,
        ],
    )


# -- the library written by hand -------------------------------------------------------------------------


def test_hand_written_library_becomes_domains_of_standards_of_criteria():
    imported = import_library_file(HAND_WRITTEN, "adb", "2026.1", effective_from=APRIL)
    doc = imported.document
    assert (doc["schema"], doc["id"], doc["version"], doc["effective_from"]) == (2, "adb", "2026.1", APRIL)
    assert doc["title"] == "Alliance data security baseline 2026"  # the framework's name
    assert doc["alliance"] == "Example Health Alliance"  # the provider, until the lead names the alliance
    assert doc["routes"] == {"full": {"title": "Full membership"}}
    assert outline(doc) == [
        ("gov", "GOV", ["GOV-01", "GOV-02"]),
        ("acc", "ACC.1", ["ACC.1-a"]),  # 'ACC.1 a)': space and bracket made a '-'
        ("acc", "ACC", ["ACC.2"]),  # ACC.2 sits directly under the ACC section
        ("acc", "ACC.2-2", ["node8", "node9"]),  # under ACC.2, itself a criterion; no ref_id: the urn's last part
        ("sec", "SEC", ["SEC-01", "SEC-01-2"]),  # 'SÉC 01' loses its accent and meets SEC-01
        ("adb-2026", "ADB-2026", ["CONT-01"]),  # a top-level requirement: the framework's own standard
    ]
    titles = [(d["title"], [s["title"] for s in d["standards"]]) for d in doc["domains"]]
    assert titles == [
        ("Governance", ["Governance"]),
        ("Access to records", ["User accounts", "Access to records", "Strong sign-in"]),
        ("Sécurité physique", ["Sécurité physique"]),
        ("Alliance data security baseline 2026", ["Alliance data security baseline 2026"]),
    ]
    assert (imported.domains, imported.standards, imported.criteria) == (4, 6, 9)
    for item in criteria(doc):
        assert (item["type"], item["allow_na"]) == ("yes_partial_no", True)
        assert "benchmark" not in item


def test_hand_written_library_keeps_names_descriptions_and_guidance():
    by_id = {c["id"]: c for c in criteria(import_library_file(HAND_WRITTEN, "adb", "2026.1").document)}
    assert by_id["GOV-01"]["text"] == (
        "Named senior owner — A board member owns data security risk and reports on it at least twice a year."
    )
    assert by_id["GOV-01"]["guidance"] == "Typical evidence: Board minutes naming the owner."
    assert by_id["GOV-02"]["text"] == "Policy reviewed yearly"  # a name alone
    assert by_id["ACC.1-a"]["text"] == (
        "Leavers lose access — Accounts of staff who leave are disabled on their "
        "last working day.\nShared accounts are not used."
    )
    assert by_id["ACC.2"]["text"] == (
        "Strong sign-in: clinical systems reachable from outside the trust ask for a second factor."
    )  # a name ending in ':' runs on into its description
    assert by_id["node8"]["text"] == "Remote access for suppliers uses the same second factor."  # description alone
    assert by_id["node9"]["text"] == "Are administrator accounts separate from everyday accounts?"  # its question
    assert by_id["node9"]["guidance"] == "Answer for the systems named in the information asset register."


def test_hand_written_library_keeps_its_source_in_a_mapping_and_the_header():
    imported = import_library_file(HAND_WRITTEN, "adb", "2026.1")
    assert imported.document["source"] == {
        "name": "Alliance data security baseline",
        "urn": "urn:example:risk:library:alliance-data-baseline",
        "ref_id": "ADB-2026",
        "version": "3",
        "provider": "Example Health Alliance",
        "packager": "example",
        "publication_date": "2026-01-15",
        "locale": "en",
        "copyright": "Written for the alliance accreditation test suite.\nFree to reuse.",
        "framework_urn": "urn:example:risk:framework:alliance-data-baseline",
    }
    header = imported.text.split("\nschema: 2\n")[0].splitlines()
    assert all(line.startswith("#") for line in header)
    assert header[0] == "# Alliance data security baseline"
    assert (
        "# CISO Assistant library: urn urn:example:risk:library:alliance-data-baseline, version 3, "
        "provider Example Health Alliance"
    ) in header
    assert header[-2:] == ["#   Written for the alliance accreditation test suite.", "#   Free to reuse."]


def test_the_written_text_is_the_document():
    imported = import_library_file(HAND_WRITTEN, "adb", "2026.1", effective_from=APRIL)
    assert yaml.safe_load(imported.text) == imported.document
    big = convert(big_library(300))
    assert yaml.safe_load(big.text) == big.document


def test_imported_file_is_valid_apart_from_its_schema_2_markers():
    """Today's loader reads the file once ``schema: 2`` and ``source`` are taken away: ids, texts, routes fit."""
    for imported in (import_library_file(HAND_WRITTEN, "adb", "2026.1"), convert(big_library(400))):
        loaded = rules.parse_standards(as_schema_1(imported.document), "imported.yaml")
        assert [c.id for c in loaded.criteria] == [c["id"] for c in criteria(imported.document)]
        assert all(c.type == "yes_partial_no" and c.allow_na and c.required for c in loaded.criteria)
        result = rules.score(
            loaded,
            {"route": "full", "specialty": None, "org_type": None, "answers": {c.id: "yes" for c in loaded.criteria}},
        )
        assert (result["overall"], result["outcome"]) == (100.0, "accredited")
        rules.release(loaded)


# -- imported files load, validate and score -------------------------------------------------------------------


def test_an_imported_file_validates_with_the_command(tmp_path):
    out = tmp_path / "adb.yaml"
    assert (
        cli_process("standards", "import", HAND_WRITTEN, "--id", "adb", "--version", "2026.1", "--out", out).returncode
        == 0
    )
    done = cli_process("standards", "validate", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"{out}: valid: adb 2026.1 (Alliance data security baseline 2026), 4 domains, 6 standards, 9 criteria"
    )
    source = rules.load_standards(out).source_library
    assert (source.urn, source.provider, source.version, source.publication_date) == (
        "urn:example:risk:library:alliance-data-baseline",
        "Example Health Alliance",
        "3",
        "2026-01-15",
    )
    assert source.copyright == "Written for the alliance accreditation test suite.\nFree to reuse."
    assert source.framework_urn == "urn:example:risk:framework:alliance-data-baseline"


def test_an_imported_large_file_loads_and_scores(tmp_path):
    imported = convert(big_library(2000))
    loaded = rules.parse_standards(imported.text, "imported.yaml")
    assert len(loaded.criteria) == imported.criteria
    values = {c.id: ("yes" if i % 4 else "na") for i, c in enumerate(loaded.criteria)}
    result = rules.score(loaded, {"route": "full", "specialty": None, "org_type": None, "answers": values})
    rules.release(loaded)
    assert (result["overall"], result["outcome"], result["unanswered"]) == (100.0, "accredited", [])


# -- the rules of the conversion, on libraries built here -----------------------------------------------------


def test_every_assessable_node_is_exactly_one_criterion_in_library_order():
    nodes = [node("a", assessable=False, depth=1, ref_id="A", name="Section A")]
    nodes += [node(f"a{i}", "a", depth=2, ref_id=f"A.{i}", name=f"Requirement {i}") for i in range(1, 6)]
    nodes += [
        node("b", assessable=False, depth=1, ref_id="B", name="Section B"),
        node("b1", "b", depth=2, ref_id="B.1", name="Only one"),
        node("b2", "b", assessable=False, depth=2, ref_id="B.2", name="A heading, not a requirement"),
    ]
    doc = convert(library(nodes)).document
    assert outline(doc) == [("a", "A", ["A.1", "A.2", "A.3", "A.4", "A.5"]), ("b", "B", ["B.1"])]
    assert [d["title"] for d in doc["domains"]] == ["Section A", "Section B"]


def test_assessable_parents_and_their_assessable_children_are_each_one_criterion():
    nodes = [
        node("p", assessable=False, depth=1, ref_id="P", name="Part"),
        node("c1", "p", depth=2, ref_id="C1", name="Parent requirement"),
        node("g1", "c1", depth=3, ref_id="G1", name="Sub-requirement 1"),
        node("g2", "c1", depth=3, ref_id="G2", name="Sub-requirement 2"),
        node("c2", "p", depth=2, ref_id="C2", name="Next requirement"),
    ]
    doc = convert(library(nodes)).document
    # C1 and C2 share their parent P; G1 and G2 sit in a standard for C1 (its id taken: C1-2)
    assert outline(doc) == [("p", "P", ["C1", "C2"]), ("p", "C1-2", ["G1", "G2"])]
    assert doc["domains"][0]["standards"][1]["title"] == "Parent requirement"
    assert sorted(c["id"] for c in criteria(doc)) == ["C1", "C2", "G1", "G2"]


def test_a_deep_tree_groups_by_parent_and_by_top_level_ancestor():
    nodes = [node("d1", assessable=False, depth=1, ref_id="1", name="Top")]
    parent = "d1"
    for depth in range(2, 12):  # a chain ten levels deep, each level a heading with one requirement
        nodes.append(
            node(f"h{depth}", parent, assessable=False, depth=depth, ref_id=f"H{depth}", name=f"Heading {depth}")
        )
        nodes.append(node(f"r{depth}", f"h{depth}", depth=depth + 1, ref_id=f"R{depth}", name=f"Requirement {depth}"))
        parent = f"h{depth}"
    nodes.append(node("d2", assessable=False, depth=1, ref_id="2", name="Second top"))
    nodes.append(node("d2r", "d2", depth=2, ref_id="2.1", name="Directly under a top node"))
    doc = convert(library(nodes)).document
    assert [d["id"] for d in doc["domains"]] == ["1", "2-2"]  # standard 2 came first
    assert outline(doc) == [("1", f"H{depth}", [f"R{depth}"]) for depth in range(2, 12)] + [("2-2", "2", ["2.1"])]
    assert [s["title"] for s in doc["domains"][0]["standards"]] == [f"Heading {depth}" for depth in range(2, 12)]


def test_a_tree_given_by_depth_alone_is_followed():
    nodes = [
        node("a", assessable=False, depth=1, ref_id="A", name="First"),
        node("a1", assessable=False, depth=2, ref_id="A1", name="Group"),
        node("a1x", depth=3, ref_id="A1.x", name="Deep"),
        node("a2", depth=2, ref_id="A2", name="Shallow"),
        node("b", assessable=False, depth=1, ref_id="B", name="Second"),
        node("b1", depth=2, ref_id="B1", name="Under B"),
    ]
    assert outline(convert(library(nodes)).document) == [("a", "A1", ["A1.x"]), ("a", "A", ["A2"]), ("b", "B", ["B1"])]


def test_top_level_requirements_sit_in_a_standard_and_domain_for_the_framework():
    nodes = [
        node("x", depth=1, ref_id="X-1", name="Flat one"),
        node("s", assessable=False, depth=1, ref_id="S", name="Section"),
        node("s1", "s", depth=2, ref_id="S.1", name="Nested"),
        node("y", depth=1, ref_id="X-2", name="Flat two"),
    ]
    doc = convert(library(nodes)).document
    assert outline(doc) == [("lib-1", "LIB-1", ["X-1", "X-2"]), ("s", "S", ["S.1"])]
    assert doc["domains"][0]["title"] == doc["domains"][0]["standards"][0]["title"] == "Test framework"


def test_nodes_without_ref_id_take_the_urns_last_part():
    nodes = [
        node("sec", assessable=False, depth=1, name="Section"),
        node("sec:node7", "sec", depth=2, description="No reference here"),
        node("sec:7:1", "sec", depth=2, name="Nested urn"),
        node("sec:8:1", "sec", depth=2, ref_id="   ", name="Blank ref_id"),
    ]
    doc = convert(library(nodes)).document
    assert outline(doc) == [("sec-2", "sec", ["node7", "1", "1-2"])]


@pytest.mark.parametrize(
    "ref_id, expected",
    [
        ("A.5.1", "A.5.1"),
        ("GV.OC-01", "GV.OC-01"),
        ("[EXI 01]", "EXI-01"),
        ("Art. 5(1)(a)", "Art-5-1-a"),
        ("Sécurité 1.2", "Securite-1.2"),
        ("Ærø-Straße §3", "AEro-Strasse-3"),
        ("4.1  a) ", "4.1-a"),
        ("1..2__3", "1.2_3"),
        ("ÉTAPE-É", "ETAPE-E"),
        ("R" * 80, "R" * 60),
    ],
)
def test_ids_are_made_valid(ref_id, expected):
    doc = convert(library([node("n", ref_id=ref_id, name="A requirement")])).document
    assert criteria(doc)[0]["id"] == expected


def test_an_id_with_nothing_usable_falls_back_to_the_urn_then_to_a_position():
    nodes = [
        node("grp", assessable=False, depth=1, ref_id="§", name="Heading"),
        node("条", "grp", depth=2, ref_id="第一条", name="Nothing ASCII in id or urn"),
    ]
    doc = convert(library(nodes)).document
    assert outline(doc) == [("grp-2", "grp", ["criterion-2"])]  # criteria, then standards, then domains


def test_repeated_ids_are_made_unique_the_same_way_every_time():
    nodes = [
        node("s1", assessable=False, depth=1, ref_id="1", name="One"),
        node("s1a", "s1", depth=2, ref_id="1.1", name="First 1.1"),
        node("s1b", "s1", depth=2, ref_id="1.1", name="Second 1.1"),
        node("s1c", "s1", depth=2, ref_id="1.1-2", name="Written 1.1-2"),
        node("s1d", "s1", depth=2, ref_id="1 1", name="Spelled 1 1"),
        node("s1e", "s1", depth=2, ref_id="1-1", name="Spelled 1-1"),
        node("s2", assessable=False, depth=1, ref_id="1.1", name="A section named like a requirement"),
        node("s2a", "s2", depth=2, ref_id="1", name="A requirement named like a section"),
    ]
    first = convert(library(nodes))
    assert outline(first.document) == [
        ("1-3", "1-2", ["1.1", "1.1-2", "1.1-2-2", "1-1", "1-1-2"]),
        ("1-1-3", "1.1-3", ["1"]),
    ]
    assert convert(library(nodes)).text == first.text
    ids = [d["id"] for d in first.document["domains"]] + [s for _, s, _ in outline(first.document)]
    ids += [c["id"] for c in criteria(first.document)]
    assert len(ids) == len(set(ids))


def test_values_are_read_as_written():
    imported = convert(
        "urn: urn:test:library\nversion: 2.0\nobjects:\n  framework:\n    urn: urn:test:framework\n"
        "    ref_id: T\n    requirement_nodes:\n"
        "      - urn: urn:test:node:1\n        assessable: yes\n        ref_id: 1.10\n        name: yes\n"
        "        description: Check it.\n"
    )
    item = criteria(imported.document)[0]
    assert (item["id"], item["text"]) == ("1.10", "yes — Check it.")
    assert imported.document["source"]["version"] == "2.0"


def test_a_library_parsed_by_any_yaml_loader_converts_the_same():
    """The web page may hand over what yaml.safe_load gave: typed values convert like text."""
    doc = library(
        [
            node("s", assessable=False, depth=1, ref_id=1, name="Section"),
            node("s1", "s", depth=2, ref_id=1.5, name="Decimal ref"),
            node("s2", "s", depth=2, ref_id="2", name="Text ref", description=dt.date(2026, 1, 2)),
        ]
    )
    imported = convert_library(yaml.safe_load(text(doc)), "imported", "2026.1", effective_from=APRIL)
    assert outline(imported.document) == [("1-2", "1", ["1.5", "2"])]
    assert criteria(imported.document)[1]["text"] == "Text ref — 2026-01-02"
    assert imported.document["source"]["version"] == "2"


def test_very_long_descriptions_are_kept_whole():
    long_text = " ".join(f"Sentence {i} of a long description that keeps going." for i in range(5000))
    multi_line = "\n".join(f"- item {i}: {'x' * 300}" for i in range(200))
    doc = convert(
        library(
            [
                node("a", ref_id="A", name="Long", description=long_text),
                node("b", ref_id="B", name="Lines", description=multi_line),
            ]
        )
    ).document
    texts = [c["text"] for c in criteria(doc)]
    assert texts == [f"Long — {long_text}", f"Lines — {multi_line}"]
    assert len(texts[0]) > 250_000


def test_titles_are_one_short_line():
    heading = "First line of a heading that the library gave no name\nsecond line"
    long_name = "word " * 40
    nodes = [
        node("s", assessable=False, depth=1, description=heading),
        node("g", "s", assessable=False, depth=2, name=long_name.strip()),
        node("g1", "g", depth=3, ref_id="G1", name="Requirement"),
    ]
    doc = convert(library(nodes)).document
    assert doc["domains"][0]["title"] == "First line of a heading that the library gave no name"
    title = doc["domains"][0]["standards"][0]["title"]
    assert title.endswith("…") and len(title) <= 100 and "\n" not in title


def test_alliance_title_and_date_can_be_given():
    imported = import_library_file(
        HAND_WRITTEN,
        "adb",
        "2026.1",
        alliance="National Orthopaedic Alliance",
        title="Data security",
        effective_from=dt.date(2026, 9, 1),
    )
    doc = imported.document
    assert (doc["alliance"], doc["title"], doc["effective_from"]) == (
        "National Orthopaedic Alliance",
        "Data security",
        dt.date(2026, 9, 1),
    )


def test_five_thousand_nodes_import_whole(tmp_path):
    """How long it takes is measured by benchmarks/import_bench.py, not here."""
    path = tmp_path / "big.yaml"
    path.write_text(text(big_library(5000)), encoding="utf-8")
    out = tmp_path / "standards.yaml"
    done = run_import(path, out)
    assert done.exit_code == 0, done.output
    doc = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert len(criteria(doc)) == 5000 - 25 * 9


# -- the command -------------------------------------------------------------------------------------------


def test_import_command_writes_the_file_and_says_what_it_holds(tmp_path):
    out = tmp_path / "adb.yaml"
    done = cli_process(
        "standards",
        "import",
        HAND_WRITTEN,
        "--id",
        "adb",
        "--version",
        "2026.1",
        "--out",
        out,
        "--alliance",
        "Example Alliance",
        "--effective-from",
        "2026-04-01",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"{out}: imported adb 2026.1 (Alliance data security baseline 2026): 4 domains, "
        f"6 standards, 9 criteria from {HAND_WRITTEN}\n"
    )
    assert (
        out.read_text(encoding="utf-8")
        == import_library_file(HAND_WRITTEN, "adb", "2026.1", alliance="Example Alliance", effective_from=APRIL).text
    )
    assert [p.name for p in tmp_path.iterdir()] == ["adb.yaml"]  # nothing left beside it


def test_import_command_replaces_an_existing_file_whole(tmp_path):
    out = tmp_path / "adb.yaml"
    out.write_text("old content\n", encoding="utf-8")
    assert run_import(HAND_WRITTEN, out).exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("# Alliance data security baseline\n")


def _broken(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _without(key_path: tuple[str, ...]) -> str:
    doc = library([node("a", ref_id="A", name="Requirement")])
    target = doc
    for key in key_path[:-1]:
        target = target[key]
    del target[key_path[-1]]
    return text(doc)


def _with_nodes(nodes: list) -> str:
    return text(library(nodes))


UNREADABLE = [
    ("no-objects", _without(("objects",)), ":1: not a CISO Assistant framework library: missing 'objects'"),
    (
        "no-framework",
        text(library([]) | {"objects": {"risk_matrix": [{"urn": "urn:x"}]}}),
        "'objects' has no 'framework'; this library holds: risk_matrix. Only a framework library can be imported",
    ),
    (
        "framework-not-mapping",
        text(library([]) | {"objects": {"framework": ["a", "b"]}}),
        "'objects.framework' must be a mapping, got a list",
    ),
    (
        "no-requirement-nodes",
        _without(("objects", "framework", "requirement_nodes")),
        "'objects.framework' has no 'requirement_nodes'",
    ),
    ("empty-requirement-nodes", _with_nodes([]), "'objects.framework.requirement_nodes' is empty"),
    (
        "requirement-nodes-not-list",
        text(library("several")),
        "'objects.framework.requirement_nodes' must be a list, got 'several'",
    ),
    ("bad-yaml", "urn: x\nobjects:\n  framework: [unclosed\n", ": not valid YAML: "),
    ("tab-yaml", "objects:\n\tframework: {}\n", ":2: not valid YAML: "),
    ("empty", "", ":1: the file is empty; expected a CISO Assistant framework library"),
    ("comments-only", "# nothing here\n", ":1: the file is empty"),
    ("not-mapping", "- a\n- b\n", ":1: not a CISO Assistant library: expected a mapping with 'objects', got a list"),
    ("not-utf8", b"name: caf\xe9\n", ":1: file is not valid UTF-8 text"),
    (
        "node-not-mapping",
        _with_nodes([node("a", ref_id="A"), "just text"]),
        "requirement node 2 must be a mapping, got 'just text'",
    ),
    (
        "node-without-urn",
        _with_nodes([{"assessable": True, "ref_id": "A", "name": "No urn"}]),
        "requirement node 1 has no 'urn'",
    ),
    (
        "repeated-urn",
        _with_nodes([node("a", ref_id="A"), node("A", ref_id="B")]),
        f"requirement node 2 repeats the urn '{URN}:A' of node 1",
    ),
    (
        "unknown-parent",
        _with_nodes([node("a", "missing", ref_id="A")]),
        f"requirement node 1 ('{URN}:a'): its parent_urn '{URN}:missing' is not a requirement node of this framework",
    ),
    (
        "parent-loop",
        _with_nodes([node("a", "b", ref_id="A"), node("b", "a", ref_id="B")]),
        "its parent_urn chain loops back on itself",
    ),
    (
        "depth-without-parent",
        _with_nodes(
            [
                node("a", assessable=False, depth=1, ref_id="A"),
                node("a1", assessable=False, depth=2, ref_id="A1"),
                node("b", assessable=False, depth=1, ref_id="B"),
                node("b1x", depth=3, ref_id="B1x"),
            ]
        ),
        f"requirement node 4 ('{URN}:b1x') has depth 3 but no parent_urn and no node of depth 2 before it",
    ),
    (
        "bad-assessable",
        _with_nodes([node("a", ref_id="A") | {"assessable": "sometimes"}]),
        "'assessable' must be true or false, got 'sometimes'",
    ),
    (
        "nothing-assessable",
        _with_nodes([node("a", assessable=False, ref_id="A")]),
        "none of the 1 requirement nodes is assessable ('assessable: true'): there is nothing to assess",
    ),
    (
        "name-is-a-list",
        _with_nodes([node("a", ref_id="A", name=["x", "y"])]),
        "requirement node 1: 'name' must be text, got a list",
    ),
]


@pytest.mark.parametrize("name, content, message", UNREADABLE, ids=[case[0] for case in UNREADABLE])
def test_a_library_that_cannot_be_read_is_an_error_naming_the_file_and_nothing_is_written(
    tmp_path, name, content, message
):
    path = _broken(tmp_path, f"{name}.yaml", content)
    out = tmp_path / "out.yaml"
    done = run_import(path, out)
    assert done.exit_code == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith(f"{path}") for line in lines), done.stderr
    assert any(message in line for line in lines), done.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_problems_carry_the_line_of_the_node(tmp_path):
    raw = _with_nodes([node("a", ref_id="A"), node("b", "nowhere", ref_id="B"), {"assessable": True}])
    with pytest.raises(LibraryError) as caught:
        read_and_convert(raw)
    lines = {problem.split(": ", 1)[1]: int(problem.split(":")[1]) for problem in caught.value.problems}
    source_lines = raw.splitlines()
    for message, line in lines.items():
        assert source_lines[line - 1].lstrip().startswith("- "), (message, source_lines[line - 1])
    assert len(caught.value.problems) == 2  # every problem at once


def read_and_convert(raw: str) -> None:
    convert_library(read_library(raw, "lib.yaml"), "imported", "2026.1", filename="lib.yaml")


def test_an_existing_output_is_left_untouched_when_the_library_cannot_be_read(tmp_path):
    out = tmp_path / "out.yaml"
    out.write_text("kept\n", encoding="utf-8")
    path = _broken(tmp_path, "lib.yaml", _without(("objects",)))
    done = cli_process("standards", "import", path, "--id", "x", "--version", "1", "--out", out)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == f"{path}:1: not a CISO Assistant framework library: missing 'objects'\n"
    assert out.read_text(encoding="utf-8") == "kept\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--id", "Not A Slug", "--version", "2026.1"], "--id 'Not A Slug': the standards set id must be a slug"),
        (["--id", "ok", "--version", "version one"], "--version 'version one': must be a version that sorts"),
    ],
)
def test_bad_id_or_version_writes_nothing(tmp_path, args, message):
    out = tmp_path / "out.yaml"
    done = CliRunner().invoke(cli.main, ["standards", "import", str(HAND_WRITTEN), *args, "--out", str(out)])
    assert done.exit_code == 1 and message in done.stderr and not out.exists()


def test_output_that_cannot_be_written_is_an_error(tmp_path):
    out = tmp_path / "missing-folder" / "out.yaml"
    done = run_import(HAND_WRITTEN, out)
    assert done.exit_code == 1
    assert f"error: --out {out}: cannot write the standards file: No such file or directory" in done.stderr


def test_the_library_itself_is_never_overwritten(tmp_path):
    path = tmp_path / "lib.yaml"
    path.write_bytes(HAND_WRITTEN.read_bytes())
    done = run_import(path, tmp_path / "." / "lib.yaml")
    assert done.exit_code == 1 and "is the library itself" in done.stderr
    assert path.read_bytes() == HAND_WRITTEN.read_bytes()


def test_a_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    out = tmp_path / "out.yaml"

    def refuse(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", refuse)
    done = run_import(HAND_WRITTEN, out)
    assert done.exit_code == 1 and "No space left on device" in done.stderr
    assert list(tmp_path.iterdir()) == []
