"""Turn a CISO Assistant framework library into a schema 2 standards file (contract, schema 2 section 5).

A library is YAML whose ``objects.framework`` holds ``requirement_nodes``: a flat list in reading order, each
node with a ``urn`` and, below the top level, the ``parent_urn`` of the node it sits under. Conversion:

- every ``assessable: true`` node is one ``yes_partial_no`` criterion with ``na`` allowed. Its id is its
  ``ref_id`` (the urn's last part where there is none) with accents dropped, anything but letters, digits,
  ``.``, ``_`` and ``-`` made a ``-``, at most 60 characters; its text is the node's name and description (the
  text of its questions, its annotation or its id where it has neither); typical evidence and an annotation
  not used as text become guidance;
- criteria sit in one standard per parent node; nodes with no parent sit in one standard for the framework
  itself. Standards sit in one domain per top-level ancestor (the framework's own standard in a domain for the
  framework). Titles come from those nodes. Criteria keep the library's order inside their standard; standards
  and domains come in the order of their first criterion;
- ids are unique in the file: criteria are named first, in library order, then standards, then domains (whose
  ids are lower-case slugs); a repeated id gets ``-2``, ``-3``... (the first free one);
- one route, ``full``; no benchmarks; the library's name, urn, version, provider, packager, publication date,
  locale and copyright go in a top-level ``source:`` mapping and in the header comment.

Values are read as written (``ref_id: 1.10`` stays ``1.10``). A library that cannot be read raises
``LibraryError`` listing every problem as ``FILE:LINE: message`` (``FILE: message`` where no line is known).
Pure: no Flask, no database, no writing (the caller writes the text).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml
from packaging.version import InvalidVersion, Version

from .loader import SET_ID
from .model import SOURCE_KEYS

ID_LENGTH = 60
TITLE_LENGTH = 100
MAX_PROBLEMS = 50
TRUE_WORDS = frozenset({"true", "yes", "on"})  # YAML 1.1's booleans, as PyYAML reads them
FALSE_WORDS = frozenset({"false", "no", "off"})
NULL_TAG = "tag:yaml.org,2002:null"
NOT_ID = re.compile(r"[^A-Za-z0-9._-]+")
NOT_SLUG = re.compile(r"[^a-z0-9]+")
SEPARATORS = re.compile(r"[._-]{2,}")
# Letters NFKD does not split into a base letter and an accent.
LETTERS = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "Th",
        "ð": "d",
        "Ð": "D",
        "ı": "i",
    }
)
#: What ``source:`` keeps of the library itself (``framework_urn`` is added when it differs from ``urn``).
LIBRARY_KEYS = tuple(key for key in SOURCE_KEYS if key != "framework_urn")

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class LibraryError(Exception):
    """A library the converter cannot read; ``problems`` lists every reason, each naming the file."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _Map(dict):
    """A YAML mapping that remembers the line it starts on."""

    line: Optional[int] = None


class _List(list):
    line: Optional[int] = None


@dataclass(frozen=True)
class Imported:
    """The standards document, its YAML text (header comment included) and what it holds."""

    document: dict
    text: str
    domains: int
    standards: int
    criteria: int

    def summary(self) -> str:
        return (
            f"{self.document['id']} {self.document['version']} ({self.document['title']}): "
            f"{self.domains} domains, {self.standards} standards, {self.criteria} criteria"
        )


# -- reading ----------------------------------------------------------------------------------------------


def load_library(path: str | Path) -> dict:
    """Read a library file; values stay text as written (nulls aside)."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise LibraryError([f"{name}:1: cannot read file: {exc.strerror or exc}"]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LibraryError([f"{name}:{line}: file is not valid UTF-8 text"]) from None
    return read_library(text, name)


def read_library(text: str, filename: str = "<library>") -> dict:
    """Parse library YAML: mappings and lists remember their line; every scalar is its text as written, or None."""
    try:
        root = yaml.compose(text, Loader=_SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise LibraryError(
            [f"{filename}:{mark.line + 1 if mark else 1}: not valid YAML: {exc.problem or exc}"]
        ) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise LibraryError(
            [f"{filename}:{line}: not valid YAML: the control character {code:#04x} is not allowed in a YAML file"]
        ) from None
    except yaml.YAMLError as exc:
        raise LibraryError([f"{filename}:1: not valid YAML: {exc}"]) from None
    except RecursionError:
        raise LibraryError([f"{filename}:1: not valid YAML: the document is nested too deeply"]) from None
    if root is None:
        raise LibraryError([f"{filename}:1: the file is empty; expected a CISO Assistant framework library"])
    try:
        return _value(root, {})
    except RecursionError:
        raise LibraryError([f"{filename}:1: the document is nested too deeply to read"]) from None


def _value(node: yaml.Node, done: dict[int, Any]) -> Any:
    """The node as plain values; an alias is converted once and shared (so it cannot expand or loop)."""
    if id(node) in done:
        return done[id(node)]
    if isinstance(node, yaml.ScalarNode):
        return None if node.tag == NULL_TAG else node.value
    line = node.start_mark.line + 1
    if isinstance(node, yaml.SequenceNode):
        items = done[id(node)] = _List()
        items.line = line
        items.extend(_value(item, done) for item in node.value)
        return items
    mapping = done[id(node)] = _Map()
    mapping.line = line
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value not in mapping:
            mapping[key_node.value] = _value(value_node, done)
    return mapping


# -- checking ---------------------------------------------------------------------------------------------


@dataclass
class _Node:
    index: int  # 1-based position in requirement_nodes
    line: Optional[int]
    urn: str
    parent: Optional[str]  # the parent's urn, lower case
    assessable: bool
    ref_id: Optional[str]
    name: Optional[str]
    description: Optional[str]
    annotation: Optional[str]
    typical_evidence: Optional[str]
    questions: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.urn.lower()

    @property
    def urn_tail(self) -> str:
        return self.urn.rstrip(":").rsplit(":", 1)[-1]


class _Reader:
    """Checks the library's shape, collecting every problem with its line."""

    def __init__(self, filename: str):
        self.filename = filename
        self.problems: list[str] = []

    def error(self, where: Any, message: str) -> None:
        line = where if isinstance(where, int) else getattr(where, "line", None)
        self.problems.append(f"{self.filename}:{line}: {message}" if line else f"{self.filename}: {message}")

    def fail_if_any(self) -> None:
        if self.problems:
            extra = len(self.problems) - MAX_PROBLEMS
            shown = self.problems[:MAX_PROBLEMS]
            raise LibraryError(shown + ([f"{self.filename}: ... and {extra} more problems"] if extra > 0 else []))

    def framework(self, library: Any) -> tuple[dict, dict, list]:
        if not isinstance(library, dict):
            self.error(
                getattr(library, "line", 1),
                f"not a CISO Assistant library: expected a mapping with 'objects', got {_describe(library)}",
            )
            self.fail_if_any()
        objects = library.get("objects")
        if not isinstance(objects, dict):
            self.error(
                library,
                "not a CISO Assistant framework library: missing 'objects'"
                if objects is None
                else f"'objects' must be a mapping, got {_describe(objects)}",
            )
            self.fail_if_any()
        framework = objects.get("framework")
        if framework is None and isinstance(objects.get("frameworks"), list) and len(objects["frameworks"]) == 1:
            framework = objects["frameworks"][0]
        if framework is None:
            held = ", ".join(str(key) for key in objects) or "nothing"
            many = " (and its 'frameworks' list does not hold exactly one)" if "frameworks" in objects else ""
            self.error(
                objects,
                f"'objects' has no 'framework'{many}; this library holds: {held}. "
                "Only a framework library can be imported",
            )
        elif not isinstance(framework, dict):
            self.error(
                framework if hasattr(framework, "line") else objects,
                f"'objects.framework' must be a mapping, got {_describe(framework)}",
            )
        self.fail_if_any()
        nodes = framework.get("requirement_nodes")
        if not isinstance(nodes, list) or not nodes:
            problem = (
                "'objects.framework' has no 'requirement_nodes'"
                if nodes is None
                else "'objects.framework.requirement_nodes' is empty"
                if isinstance(nodes, list)
                else f"'objects.framework.requirement_nodes' must be a list, got {_describe(nodes)}"
            )
            self.error(nodes if hasattr(nodes, "line") else framework, problem)
            self.fail_if_any()
        return library, framework, nodes

    def nodes(self, items: list) -> list[_Node]:
        nodes: list[_Node] = []
        seen: dict[str, _Node] = {}
        previous_at_depth: dict[int, str] = {}
        for index, item in enumerate(items, start=1):
            node = self.node(index, item, previous_at_depth)
            if node is None:
                continue
            if node.key in seen:
                first = seen[node.key]
                self.error(
                    node.line,
                    f"requirement node {index} repeats the urn '{node.urn}' of node {first.index}"
                    f"{f' (line {first.line})' if first.line else ''}",
                )
                continue
            seen[node.key] = node
            nodes.append(node)
        for node in nodes:
            if node.parent is not None and node.parent not in seen:
                self.error(
                    node.line,
                    f"requirement node {node.index} ('{node.urn}'): its parent_urn "
                    f"'{node.parent}' is not a requirement node of this framework",
                )
        self.fail_if_any()
        return nodes

    def node(self, index: int, item: Any, previous_at_depth: dict[int, str]) -> Optional[_Node]:
        where = f"requirement node {index}"
        if not isinstance(item, dict):
            self.error(item, f"{where} must be a mapping, got {_describe(item)}")
            return None
        urn = self.text(item, "urn", where)
        if urn is None:
            self.error(item, f"{where} has no 'urn'")
            return None
        parent = self.text(item, "parent_urn", where)
        depth = _whole(item.get("depth"))
        if parent is None and depth is not None and depth > 1:  # a tree given by depth alone
            parent = previous_at_depth.get(depth - 1)
            if parent is None:
                self.error(
                    item,
                    f"{where} ('{urn}') has depth {depth} but no parent_urn and no node of depth {depth - 1} before it",
                )
        if depth is not None:
            for deeper in [d for d in previous_at_depth if d > depth]:
                del previous_at_depth[deeper]
            previous_at_depth[depth] = urn.lower()
        assessable = item.get("assessable", False)
        if isinstance(assessable, str) and assessable.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            assessable = assessable.strip().lower() in TRUE_WORDS
        if assessable is None:
            assessable = False
        if not isinstance(assessable, bool):
            self.error(item, f"{where} ('{urn}'): 'assessable' must be true or false, got {_describe(assessable)}")
            assessable = False
        return _Node(
            index=index,
            line=getattr(item, "line", None),
            urn=urn,
            parent=parent.lower() if parent else None,
            assessable=assessable,
            ref_id=self.text(item, "ref_id", where),
            name=self.text(item, "name", where),
            description=self.text(item, "description", where),
            annotation=self.text(item, "annotation", where),
            typical_evidence=self.text(item, "typical_evidence", where),
            questions=_question_texts(item.get("questions")),
        )

    def text(self, mapping: dict, key: str, where: str) -> Optional[str]:
        value = mapping.get(key)
        if value is None or isinstance(value, (dict, list)) and not value:
            return None
        if isinstance(value, (dict, list)):
            self.error(value, f"{where}: '{key}' must be text, got {_describe(value)}")
            return None
        text = _as_text(value).strip()
        return text or None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _scalar(value: Any) -> str:
    """A scalar's text, stripped; empty for nothing, a mapping or a list."""
    return "" if value is None or isinstance(value, (dict, list)) else _as_text(value).strip()


def _whole(value: Any) -> Optional[int]:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _question_texts(questions: Any) -> tuple[str, ...]:
    entries = questions.values() if isinstance(questions, dict) else questions if isinstance(questions, list) else ()
    texts = (entry.get("text") for entry in entries if isinstance(entry, dict))
    return tuple(t.strip() for t in texts if isinstance(t, str) and t.strip())


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return repr(_as_text(value))


def _parent_check(nodes: list[_Node], reader: _Reader) -> dict[str, _Node]:
    """Nodes by urn, once no parent chain loops."""
    by_key = {node.key: node for node in nodes}
    settled: set[str] = set()
    for node in nodes:
        path: set[str] = set()
        current: Optional[_Node] = node
        while current is not None and current.key not in settled:
            if current.key in path:
                reader.error(
                    node.line,
                    f"requirement node {node.index} ('{node.urn}'): its parent_urn chain loops back on itself",
                )
                break
            path.add(current.key)
            current = by_key.get(current.parent) if current.parent else None
        settled.update(path)
    reader.fail_if_any()
    return by_key


# -- converting -------------------------------------------------------------------------------------------


@dataclass
class _Group:
    """A standard or a domain being built: its node (None for the framework itself) and what it holds."""

    node: Optional[_Node]
    members: list


def convert_library(
    library: dict,
    set_id: str,
    version: str,
    *,
    filename: str = "<library>",
    alliance: Optional[str] = None,
    effective_from: Optional[dt.date] = None,
    title: Optional[str] = None,
) -> Imported:
    """The schema 2 standards document for a parsed library (from ``read_library`` or any YAML loader)."""
    reader = _Reader(filename)
    _check_arguments(reader, set_id, version)
    library, framework, items = reader.framework(library)
    nodes = reader.nodes(items)
    by_key = _parent_check(nodes, reader)
    criteria = [node for node in nodes if node.assessable]
    if not criteria:
        reader.error(
            framework,
            f"none of the {len(nodes)} requirement nodes is assessable ('assessable: true'): "
            "there is nothing to assess",
        )
        reader.fail_if_any()
    framework_ref = _scalar(framework.get("ref_id")) or _scalar(library.get("ref_id")) or "framework"
    framework_title = (
        _title_text(_scalar(framework.get("name"))) or _title_text(_scalar(library.get("name"))) or framework_ref
    )
    domains = _group(criteria, by_key)
    ids = _ids(criteria, domains, framework_ref)
    source = _source(library, framework)
    document: dict[str, Any] = {
        "schema": 2,
        "id": set_id,
        "version": version,
        "title": (title or "").strip() or framework_title,
        "alliance": (alliance or "").strip()
        or source.get("provider")
        or source.get("packager")
        or "Imported framework",
        "effective_from": effective_from or dt.date.today(),
        "routes": {"full": {"title": "Full membership"}},
        "source": source,
        "domains": [_domain(domain, ids, framework_title) for domain in domains],
    }
    text = "".join(f"{line}\n" for line in _header(source, set_id, version)) + yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110
    )
    return Imported(
        document=document,
        text=text,
        domains=len(domains),
        standards=sum(len(d.members) for d in domains),
        criteria=len(criteria),
    )


def import_library_file(path: str | Path, set_id: str, version: str, **options: Any) -> Imported:
    """Read and convert one library file (see ``convert_library`` for the options)."""
    return convert_library(load_library(path), set_id, version, filename=str(path), **options)


def _check_arguments(reader: _Reader, set_id: str, version: str) -> None:
    if not isinstance(set_id, str) or not SET_ID.match(set_id):
        reader.problems.append(f"--id {set_id!r}: the standards set id must be a slug of a-z, 0-9 and '-'")
    try:
        Version(version)
    except (InvalidVersion, TypeError):
        reader.problems.append(
            f'--version {version!r}: must be a version that sorts (PEP 440 or calendar style, e.g. "2026.1")'
        )
    reader.fail_if_any()


def _group(criteria: list[_Node], by_key: dict[str, _Node]) -> list[_Group]:
    """Domains of standards of criteria, each in the order of its first criterion."""
    standards: dict[Optional[str], _Group] = {}
    domains: dict[Optional[str], _Group] = {}
    for node in criteria:
        parent = by_key[node.parent] if node.parent else None
        standard = standards.get(node.parent)
        if standard is None:
            standard = standards[node.parent] = _Group(parent, [])
            top = _top(parent, by_key) if parent else None
            domain_key = top.key if top else None
            if domain_key not in domains:
                domains[domain_key] = _Group(top, [])
            domains[domain_key].members.append(standard)
        standard.members.append(node)
    return list(domains.values())


def _top(node: _Node, by_key: dict[str, _Node]) -> _Node:
    while node.parent:
        node = by_key[node.parent]
    return node


def _ids(criteria: list[_Node], domains: list[_Group], framework_ref: str) -> dict[int, str]:
    """Every criterion's, standard's and domain's id, by ``id()`` of its node or group: criteria first."""
    names = _Names()
    ids = {
        id(node): names.claim(_identifier(node.ref_id) or _identifier(node.urn_tail), f"criterion-{node.index}")
        for node in criteria
    }
    standards = [standard for domain in domains for standard in domain.members]
    for number, standard in enumerate(standards, start=1):
        node = standard.node
        base = _identifier(node.ref_id) or _identifier(node.urn_tail) if node else _identifier(framework_ref)
        ids[id(standard)] = names.claim(base, f"standard-{number}")
    for number, domain in enumerate(domains, start=1):
        node = domain.node
        base = _slug(node.ref_id) or _slug(node.urn_tail) if node else _slug(framework_ref)
        ids[id(domain)] = names.claim(base, f"domain-{number}")
    return ids


def _domain(domain: _Group, ids: dict[int, str], framework_title: str) -> dict:
    return {
        "id": ids[id(domain)],
        "title": _group_title(domain.node, framework_title),
        "standards": [
            {
                "id": ids[id(standard)],
                "title": _group_title(standard.node, framework_title),
                "criteria": [_criterion(node, ids[id(node)]) for node in standard.members],
            }
            for standard in domain.members
        ],
    }


class _Names:
    """Ids handed out so far; a taken id gets the first free ``-2``, ``-3``..."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def claim(self, base: str, fallback: str) -> str:
        base = base or fallback
        name, number = base, 1
        while name in self.taken:
            number += 1
            name = f"{base}-{number}"
        self.taken.add(name)
        return name


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(LETTERS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _identifier(text: Optional[str]) -> str:
    """``ref_id`` as an id: ASCII letters, digits, ``.``, ``_``, ``-``; a run of separators holding ``-`` is one."""
    if not text:
        return ""
    cleaned = NOT_ID.sub("-", _ascii(text))
    cleaned = SEPARATORS.sub(lambda m: "-" if "-" in m.group() else m.group()[0], cleaned).strip("._-")
    return cleaned[:ID_LENGTH].rstrip("._-")


def _slug(text: Optional[str]) -> str:
    if not text:
        return ""
    return NOT_SLUG.sub("-", _ascii(text).lower()).strip("-")[:ID_LENGTH].rstrip("-")


def _title_text(text: str) -> str:
    """One line, whitespace collapsed, no closing colon, cut at a word before TITLE_LENGTH characters."""
    first = " ".join(text.strip().splitlines()[0].split()).rstrip(" :") if text.strip() else ""
    if len(first) <= TITLE_LENGTH:
        return first
    cut = first[: TITLE_LENGTH - 1].rsplit(" ", 1)[0].rstrip(" ,;:.")
    return f"{cut}…"


def _group_title(node: Optional[_Node], framework_title: str) -> str:
    if node is None:
        return framework_title
    for text in (node.name, node.description, *node.questions, node.ref_id, node.urn_tail):
        if text and _title_text(text):
            return _title_text(text)
    return node.urn


def _criterion(node: _Node, ident: str) -> dict:
    if node.name and node.description:
        text = f"{node.name}{' ' if node.name.endswith(':') else ' — '}{node.description}"
        annotation_is_text = False
    else:
        text = node.name or node.description or " / ".join(node.questions)
        annotation_is_text = not text and bool(node.annotation)
        text = text or node.annotation or node.ref_id or node.urn_tail or node.urn
    body: dict[str, Any] = {"id": ident, "text": text, "type": "yes_partial_no", "allow_na": True}
    guidance = [f"Typical evidence: {node.typical_evidence}"] if node.typical_evidence else []
    if node.annotation and not annotation_is_text:
        guidance.append(node.annotation)
    if guidance:
        body["guidance"] = "\n\n".join(guidance)
    return body


def _source(library: dict, framework: dict) -> dict[str, str]:
    source: dict[str, str] = {}
    for key in LIBRARY_KEYS:
        value = _scalar(library.get(key)) or (_scalar(framework.get(key)) if key in ("name", "urn", "ref_id") else "")
        if value:
            source[key] = value
    framework_urn = _scalar(framework.get("urn"))
    if framework_urn and framework_urn != source.get("urn"):
        source["framework_urn"] = framework_urn
    return source


def _header(source: dict[str, str], set_id: str, version: str) -> Iterable[str]:
    described = ", ".join(
        f"{key.replace('_', ' ')} {source[key]}" for key in ("urn", "version", "provider") if key in source
    )
    yield f"# {_comment(source.get('name', 'A CISO Assistant framework library'))}"
    if described:
        yield f"# CISO Assistant library: {_comment(described)}"
    yield f"# Imported with `python cli.py standards import LIBRARY --id {set_id} --version {version}`."
    yield "# Each assessable requirement is a yes / partial / no criterion (na allowed), in a standard for its parent"
    yield "# requirement and a domain for its top-level section. Review titles, weights, the alliance and the"
    yield "# effective date before publishing."
    if "copyright" in source:
        yield "# Copyright:"
        yield from (f"#   {line}" if line else "#" for line in _comment_lines(source["copyright"]))


def _comment_lines(text: str) -> list[str]:
    return [_comment(line) for line in text.splitlines()]


def _comment(text: str) -> str:
    """Text safe on one comment line: no line breaks, no control characters."""
    flat = " ".join(text.splitlines())
    return "".join(ch for ch in flat if ch == "\t" or unicodedata.category(ch)[0] != "C").rstrip()


class _Dumper(_SafeDumper):  # type: ignore[misc, valid-type]
    """Writes text that runs over several lines as a ``|`` block, so long descriptions stay readable."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_text)
