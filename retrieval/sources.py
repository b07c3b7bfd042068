"""What to index and how to read it without trusting it.

The roots of a run are the paths it is given (the CLI's arguments, or one collection's
``KB_SOURCES`` entries): a folder (resolved, so a folder named through a link is that folder)
roots every file walking it finds, a file roots itself. A symlink is not a root: whether given
as a file or found in a folder, it is read only when its target is a path walking a root would
read (inside it, no hidden part), and it is typed by its target's name; a symlink to
``/srv/app.env`` is not a document. Walking never follows a symlinked folder, so loops end.

Only regular files are read: a named pipe would block forever and a device never ends.
At most ``limit`` bytes are read whatever ``stat`` says, because pipes, devices and ``/proc``
files all report a size of 0.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from core.errors import UnreadableFile
from retrieval.loaders import kind_of

_READ_BLOCK = 1 << 20
_FILE_TYPES = {stat.S_IFIFO: "named pipe", stat.S_IFCHR: "character device", stat.S_IFBLK: "block device",
               stat.S_IFSOCK: "socket", stat.S_IFDIR: "folder"}


@dataclass(frozen=True)
class SourceItem:
    """One thing to index: a file on disk, or text handed over in memory.

    A file is read only if it resolves to somewhere inside ``root`` (None: anywhere).
    """

    source: str
    kind: str | None
    path: Path | None = None
    data: bytes | None = None
    title: str | None = None
    root: Path | None = None

    def read(self, limit: int) -> bytes:
        """The content, at most ``limit`` bytes; UnreadableFile says why not."""
        if self.data is None:
            return read_source(self.path, self.root, limit)
        if len(self.data) > limit:
            raise UnreadableFile(too_large(len(self.data), limit))
        return self.data


@dataclass
class Discovery:
    """Files found under the paths given, and what nothing may be removed from.

    ``roots`` bound which stored documents a run may remove; ``empty`` lists roots (or
    subfolders) that yielded no indexable file or could not be listed, with the reason:
    an unmounted share looks exactly like a folder whose documents were all deleted.
    """

    items: list[SourceItem] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)
    empty: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def discover(paths: Sequence[Path]) -> Discovery:
    """Expand files and folders into source items; see the module docstring for what is read."""
    found = Discovery()
    given: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.exists():
            given.append(path)
        else:
            found.failed.append((str(raw), "no such file or folder"))
    roots = [_real(path) for path in given if path.is_dir() or not path.is_symlink()]
    for path in given:
        real = _real(path)
        found.roots.append(str(real))  # a refused link's target too: what it once indexed goes
        if real.is_dir():
            _discover_folder(real, roots, found)
        elif path.is_symlink() and not _root_of(real, roots):
            found.failed.append((str(path.absolute()), outside(real)))
        elif kind_of(real) is None:  # typed by what is read: link.md to a binary is not Markdown
            linked = f" (it links to {real})" if path.is_symlink() else ""
            found.failed.append((str(path.absolute()), f"unsupported file type {real.suffix or '(none)'}{linked}"))
        else:
            found.items.append(SourceItem(str(real), kind_of(real), path=real, root=_root_of(real, roots)))
    unique: dict[str, SourceItem] = {}  # a file named twice (`kb index docs docs/a.md`) is indexed once
    for item in found.items:
        unique.setdefault(item.source, item)
    found.items = list(unique.values())
    return found


def _discover_folder(folder: Path, roots: list[Path], found: Discovery) -> None:
    unlisted: list[tuple[str, str]] = []
    before = len(found.items)
    for file in _walk(folder, unlisted):
        target = _real(file) if file.is_symlink() else file
        root = _root_of(target, roots)
        if root is None:
            found.failed.append((str(file), outside(target)))
        elif kind_of(target) is None:
            found.ignored.append(str(file))
        else:
            found.items.append(SourceItem(str(file), kind_of(target), path=file, root=root))
    if unlisted and unlisted[0][0] == str(folder):
        found.empty.append((str(folder), f"cannot be listed ({unlisted[0][1]})"))
    elif len(found.items) == before:
        found.empty.append((str(folder), "is empty"))
    else:
        found.empty.extend((sub, f"cannot be listed ({why})") for sub, why in unlisted)


def _walk(root: Path, unlisted: list[tuple[str, str]]) -> Iterator[Path]:
    def failed(exc: OSError) -> None:
        unlisted.append((exc.filename or str(root), exc.strerror or str(exc)))

    # followlinks=False: a symlinked folder is not entered (its files, if inside a root, are walked there)
    for dirpath, dirnames, filenames in os.walk(root, onerror=failed, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _inside(real: Path, root: Path) -> bool:
    """Is ``real`` a path walking ``root`` reads: ``root`` itself, or below it with no hidden part?"""
    if real == root:
        return True
    try:
        below = real.relative_to(root)
    except ValueError:
        return False
    return not any(part.startswith(".") for part in below.parts)


def _root_of(real: Path, roots: Sequence[Path]) -> Path | None:
    return next((root for root in roots if _inside(real, root)), None)


def outside(target: Path | str) -> str:
    """The reason a symlink is not read."""
    return f"a link to a file outside the sources ({target}); not indexed"


def under(source: str, roots: Sequence[str]) -> bool:
    """Is ``source`` one of ``roots`` or inside one of them?"""
    return any(source == root or source.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def too_large(size: int | None, limit: int) -> str:
    """The reason for a file over the limit; ``size`` None when only reading found out."""
    if size is None:
        return f"too large: more than the limit of {limit / 1048576:.1f} MB (MAX_FILE_MB)"
    return f"too large: {size / 1048576:.1f} MB, the limit is {limit / 1048576:.1f} MB (MAX_FILE_MB)"


def read_source(path: Path, root: Path | None, limit: int) -> bytes:
    """Read a regular file inside ``root``, at most ``limit`` bytes, or raise UnreadableFile."""
    real = os.path.realpath(path)  # again: a link may have been changed since discovery
    if root is not None and not _inside(Path(real), root):
        raise UnreadableFile(outside(real))
    try:
        info = os.stat(real)
        _require_regular(info)  # before opening: opening a device can have side effects
        if info.st_size > limit:
            raise UnreadableFile(too_large(info.st_size, limit))
        # O_NONBLOCK: if a FIFO replaced the file since stat, open() must not wait for a writer;
        # O_NOFOLLOW: nor may the last component have become a symlink.
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from exc
    try:
        _require_regular(os.fstat(fd))
        return _read_at_most(fd, limit)
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def _require_regular(st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        what = _FILE_TYPES.get(stat.S_IFMT(st.st_mode), "special file")
        raise UnreadableFile(f"not a regular file ({what})")


def _read_at_most(fd: int, limit: int) -> bytes:
    """The whole file if it is at most ``limit`` bytes; one byte more proves it is too large."""
    parts: list[bytes] = []
    total = 0
    while total <= limit:
        part = os.read(fd, min(_READ_BLOCK, limit + 1 - total))
        if not part:
            return b"".join(parts)
        parts.append(part)
        total += len(part)
    raise UnreadableFile(too_large(None, limit))
