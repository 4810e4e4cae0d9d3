"""The upload store: evidence files' bytes on disk, and nothing else (their Evidence rows, and when a
stored file is kept or removed, belong to ``app.services.evidence``).

Files live under ``UPLOAD_DIR`` (default ``instance/uploads``) under random
storage keys, never under a name a member chose, so an upload can neither
overwrite another nor escape the directory. Only document and image types an
assessor can open are accepted, checked by extension, declared content type
and the file's first bytes, up to ``UPLOAD_MAX_BYTES`` (default 10 MB).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Optional, Union

from .db import ROOT
from .wording import size_text, with_article

DEFAULT_DIR = ROOT / "instance" / "uploads"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
CHUNK = 64 * 1024
KEY = re.compile(r"[0-9a-f]{32}\Z")

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"


@dataclass(frozen=True)
class FileType:
    content_type: str
    label: str
    magic: tuple[bytes, ...] = ()  # the file must start with one of these; () = text
    aliases: tuple[str, ...] = ()  # other content types browsers send for it


_OOXML = "application/vnd.openxmlformats-officedocument."
TYPES: dict[str, FileType] = {
    ".pdf": FileType("application/pdf", "PDF", (b"%PDF-",)),
    ".png": FileType("image/png", "PNG image", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": FileType("image/jpeg", "JPEG image", (b"\xff\xd8\xff",), ("image/jpg", "image/pjpeg")),
    ".jpeg": FileType("image/jpeg", "JPEG image", (b"\xff\xd8\xff",), ("image/jpg", "image/pjpeg")),
    ".docx": FileType(_OOXML + "wordprocessingml.document", "Word document", (_ZIP,)),
    ".xlsx": FileType(_OOXML + "spreadsheetml.sheet", "Excel workbook", (_ZIP,)),
    ".pptx": FileType(_OOXML + "presentationml.presentation", "PowerPoint presentation", (_ZIP,)),
    ".doc": FileType("application/msword", "Word 97-2003 document", (_OLE,)),
    ".xls": FileType("application/vnd.ms-excel", "Excel 97-2003 workbook", (_OLE,)),
    ".odt": FileType("application/vnd.oasis.opendocument.text", "OpenDocument text", (_ZIP,)),
    ".ods": FileType("application/vnd.oasis.opendocument.spreadsheet", "OpenDocument spreadsheet", (_ZIP,)),
    ".csv": FileType(
        "text/csv",
        "CSV file",
        (),
        ("text/plain", "application/csv", "application/vnd.ms-excel", "text/comma-separated-values"),
    ),
    ".txt": FileType("text/plain", "text file"),
}
GENERIC_TYPES = ("", "application/octet-stream", "binary/octet-stream", "application/x-download")


class UploadRefused(Exception):
    """An upload the store will not keep, with the reason for the member."""


@dataclass(frozen=True)
class StoredFile:
    key: str
    filename: str
    content_type: str
    size: int
    sha256: str


def clean_filename(filename: str) -> str:
    """The name to show for an upload: no directories, no control characters, at most 255 characters."""
    name = unicodedata.normalize("NFC", filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = ("." + ext.lower()) if dot else ""
    stem = stem[: 255 - len(ext)] or "upload"
    return stem + ext


def allowed_extensions() -> str:
    return ", ".join(sorted(TYPES))


class UploadStore:
    """Evidence files on local disk."""

    def __init__(self, root: Union[str, Path, None] = None, max_bytes: Optional[int] = None):
        self.root = Path(root or os.environ.get("UPLOAD_DIR") or DEFAULT_DIR).resolve()
        self.max_bytes = int(max_bytes or os.environ.get("UPLOAD_MAX_BYTES") or DEFAULT_MAX_BYTES)

    def path(self, key: str) -> Path:
        if not isinstance(key, str) or not KEY.match(key):
            raise UploadRefused(f"{key!r} is not a storage key")
        return self.root / key[:2] / key

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def open(self, key: str) -> BinaryIO:
        try:
            return self.path(key).open("rb")
        except FileNotFoundError:
            raise UploadRefused(f"the file {key} is no longer in the upload store") from None

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def save(self, data: Union[bytes, BinaryIO], filename: str, content_type: Optional[str] = None) -> StoredFile:
        """Check and store an upload; refused with the reason (type, size, content) otherwise."""
        name = clean_filename(filename)
        ext = Path(name).suffix.lower()
        kind = TYPES.get(ext)
        if kind is None:
            raise UploadRefused(f"{name}: files of this type cannot be uploaded (allowed: {allowed_extensions()})")
        declared = (content_type or "").split(";", 1)[0].strip().lower()
        if declared not in GENERIC_TYPES and declared != kind.content_type and declared not in kind.aliases:
            raise UploadRefused(f"{name}: the file says it is {declared}, which does not match a {ext} file")
        key = secrets.token_hex(16)
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(final.name + ".part")
        digest, size, head = hashlib.sha256(), 0, b""
        try:
            with partial.open("xb") as out:
                for chunk in _chunks(data):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise UploadRefused(f"{name}: larger than the {size_text(self.max_bytes)} limit")
                    if len(head) < 8192:
                        head += chunk[: 8192 - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0:
                raise UploadRefused(f"{name}: the file is empty")
            problem = _content_problem(kind, head)
            if problem:
                raise UploadRefused(f"{name}: {problem}")
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)
        return StoredFile(key=key, filename=name, content_type=kind.content_type, size=size, sha256=digest.hexdigest())


def _chunks(data: Union[bytes, BinaryIO]):
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        for start in range(0, len(view), CHUNK):
            yield bytes(view[start : start + CHUNK])
        return
    while True:
        chunk = data.read(CHUNK)
        if not chunk:
            return
        yield chunk


def _content_problem(kind: FileType, head: bytes) -> Optional[str]:
    if kind.magic:
        if not any(head.startswith(magic) for magic in kind.magic):
            return f"the content is not {with_article(kind.label)}"
        return None
    if b"\x00" in head:
        return f"the content is not {with_article(kind.label)} (it holds binary data)"
    return None


def default_store() -> UploadStore:
    return UploadStore()
