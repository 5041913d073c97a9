"""The zip container of every sklstm file: one policy for bounded reads, and
atomic, exclusive writes.

Every file sklstm reads is untrusted input, and so is every zip inside it
(a pipeline file holds a skops archive and model files, a skops archive
holds ``.npy`` arrays and perhaps ``.npz`` archives). One policy covers all
of them, at every nesting level, before any library reads a member:

- member names are unique (a duplicate would let the last entry win);
- members are stored or deflated, never encrypted;
- each member's declared size is within its limit, and a member above
  ``_SMALL`` bytes inflates at most ``MAX_RATIO``-fold;
- a :class:`Budget` of inflated bytes is shared by every read of one
  ``load``, nested reads included: the whole file may inflate to
  ``MAX_RATIO`` times its size (plus a small allowance), however deep the
  nesting, so a ratio kept at each level cannot multiply across levels;
- an ``.npy`` member's header (dtype and shape) is read from its first bytes
  and must describe exactly the data the member holds, and hold no objects.

Writes go to a temporary file created exclusively (``O_EXCL``, a random
name) in the target directory, then renamed over the target: a reader never
sees half a file, and a symlink planted at a temporary name is never followed.
"""

from __future__ import annotations

import io
import math
import os
import pathlib
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Mapping

import numpy as np

# the largest sizes a member may inflate to, and by how much it may inflate
MEMBER_LIMITS = {
    "meta.json": 256 * 2**20,
    "schema.json": 256 * 2**20,
    "pipeline.skops": 256 * 2**20,
    "weights.pt": 16 * 2**30,  # also the limit of a pipeline's model members
}
MAX_RATIO = 200  # JSON of numbers deflates ~3-10x; bombs inflate 1000x+
_SMALL = 2**20  # members below this size are not held to the ratio
# inflated bytes any file may use beyond MAX_RATIO times its size: room for
# the small members of a small file
_ALLOWANCE = 8 * 2**20
_NPY_HEADER_MAX = 2**16  # numpy writes headers of about 128 bytes
_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError)


class Budget:
    """The bytes one ``load`` may inflate, across every nesting level.

    Parameters
    ----------
    limit : int
        Bytes that may be inflated in all.
    label : str
        The file, for messages.
    """

    def __init__(self, limit: int, label: str) -> None:
        self.limit, self.label, self.used = int(limit), label, 0

    @classmethod
    def of(cls, source, label=None) -> Budget:
        """The budget of a file: ``MAX_RATIO`` times its size, plus an allowance.

        ``source`` is a path or a seekable binary file object.
        """
        label = str(source if label is None else label)
        try:
            if isinstance(source, (str, os.PathLike)):
                size = os.stat(source).st_size
            else:
                here = source.tell()
                size = source.seek(0, io.SEEK_END)
                source.seek(here)
        except (OSError, AttributeError, ValueError):
            size = 0  # read_members names the problem with the file itself
        return cls(MAX_RATIO * size + _ALLOWANCE, label)

    def charge(self, nbytes: int, what: str) -> None:
        """Count ``nbytes`` more inflated bytes (for ``what``); ``ValueError``
        once the file would inflate beyond its budget."""
        self.used += int(nbytes)
        if self.used > self.limit:
            raise ValueError(
                f"{self.label}: {what} would bring the bytes inflated from this "
                f"file to {self.used:,}, more than {MAX_RATIO} times its size "
                f"({self.limit:,} in all, nested members included); refused as "
                "a decompression bomb."
            )


def read_members(
    source, names: tuple[str, ...], label=None, *, budget: Budget | None = None
) -> dict[str, bytes]:
    """The named members' bytes, after checking them in the zip directory.

    ``source`` is a path or a binary file object; ``label`` names it in
    messages (default: ``source``); ``budget`` is shared by the reads of
    one ``load`` (default: a budget for ``source`` alone). Raises
    ``ValueError`` (naming it) for a file that is not a zip archive, lacks
    a member, repeats a member name, or holds an encrypted, oddly
    compressed, oversized or over-compressed member.
    """
    path = source if label is None else label
    if budget is None:
        budget = Budget.of(source, path)
    try:
        with zipfile.ZipFile(source) as archive:
            infos = checked_infos(archive, path)
            missing = [name for name in names if name not in infos]
            if missing:
                raise ValueError(
                    f"{path} is not an sklstm model file: it has no {missing[0]}."
                )
            for name in names:
                budget.charge(infos[name].file_size, f"member {name}")
            return {name: archive.read(infos[name]) for name in names}
    except ValueError:
        raise
    except _ERRORS as exc:
        if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise ValueError(
            f"{path} is not an sklstm model file (a zip archive written by "
            f"sklstm's save): {type(exc).__name__}: {exc}"
        ) from None
    except (RuntimeError, NotImplementedError, zlib.error) as exc:
        raise ValueError(f"{path}: unreadable zip member: {exc}") from None


def checked_infos(archive: zipfile.ZipFile, path) -> dict[str, zipfile.ZipInfo]:
    """Every member of ``archive`` by name, each checked (see module doc)."""
    infos = archive.infolist()
    by_name = {info.filename: info for info in infos}
    if len(by_name) != len(infos):
        counts = Counter(info.filename for info in infos)
        twice = next(name for name, n in counts.items() if n > 1)
        raise ValueError(
            f"{path}: the member name {twice!r} occurs more than once; sklstm "
            "never writes duplicate names."
        )
    for info in infos:
        _check_member(info, path)
    return by_name


def _check_member(info: zipfile.ZipInfo, path) -> None:
    name = info.filename
    if info.flag_bits & 0x1:
        raise ValueError(f"{path}: member {name} is encrypted; sklstm never is.")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ValueError(
            f"{path}: member {name} uses compression method {info.compress_type}; "
            "sklstm writes stored or deflated members only."
        )
    limit = MEMBER_LIMITS.get(name, MEMBER_LIMITS["weights.pt"])
    if info.file_size > limit:
        raise ValueError(
            f"{path}: member {name} declares {info.file_size:,} bytes, above the "
            f"limit of {limit:,}."
        )
    if info.file_size > _SMALL and info.file_size > MAX_RATIO * info.compress_size:
        ratio = info.file_size / max(info.compress_size, 1)
        raise ValueError(
            f"{path}: member {name} inflates {ratio:.0f}-fold "
            f"({info.compress_size:,} to {info.file_size:,} bytes); refused as a "
            "decompression bomb."
        )


def check_nested_archive(
    data: bytes,
    path,
    budget: Budget,
    reads: Mapping[str, int] | None = None,
    *,
    outer: bool = True,
) -> None:
    """Check every member of a zip inside a file (a skops archive and its
    ``.npz`` arrays, torch's ``weights.pt``) before a library reads it.

    ``reads`` says how many times the reader will inflate each member (skops
    reads an array once per reference to it); each member is charged to
    ``budget`` that many times (at least once). ``.npy`` members must have a
    header that describes exactly their data; ``.npz`` members of an
    ``outer`` archive are checked the same way, one level down (numpy never
    reads deeper).
    """
    reads = reads or {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name, info in checked_infos(archive, path).items():
                count = max(1, int(reads.get(name, 1)))
                budget.charge(count * info.file_size, f"member {name} ({count}x)")
                if name.endswith(".npy"):
                    with archive.open(info) as member:
                        head = member.read(min(info.file_size, _NPY_HEADER_MAX))
                    check_npy_header(head, info.file_size, f"{path}[{name}]")
                elif name.endswith(".npz") and outer:
                    inner = archive.read(info)
                    check_nested_archive(inner, f"{path}[{name}]", budget, outer=False)
    except ValueError:
        raise
    except (*_ERRORS, RuntimeError, NotImplementedError, zlib.error) as exc:
        raise ValueError(f"{path}: unreadable zip archive: {exc}") from None


def check_npy_header(head: bytes, size: int, where: str) -> None:
    """The ``.npy`` header at the start of ``head`` holds no objects and
    declares exactly the ``size`` bytes of its member (read with numpy's
    header readers on the bytes; no array is built)."""
    stream = io.BytesIO(head)
    try:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise ValueError(f"format version {version}")
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    except (ValueError, TypeError, SyntaxError, EOFError, OverflowError) as exc:
        raise ValueError(f"{where}: not a valid .npy array header ({exc}).") from None
    if any(n < 0 for n in shape):
        raise ValueError(f"{where}: the array header declares shape {shape}.")
    if dtype.hasobject:
        raise ValueError(f"{where}: an array of Python objects; refused.")
    declared = stream.tell() + math.prod(shape) * dtype.itemsize
    if declared != size:
        raise ValueError(
            f"{where}: the array header declares {dtype.str} values of shape "
            f"{shape} ({declared:,} bytes with the header) but the member holds "
            f"{size:,} bytes."
        )


def pack_members(members: list[tuple[str, bytes, int]]) -> bytes:
    """``(name, data, compression)`` members as the bytes of a zip archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, compression in members:
            archive.writestr(name, data, compression)
    return buffer.getvalue()


def write_members(path, members: list[tuple[str, bytes, int]]) -> pathlib.Path:
    """Write ``(name, data, compression)`` members to ``path`` atomically."""
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent if str(path.parent) else ".",
        prefix=f".{path.name}.",
        suffix=".tmp",
    )
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w") as archive:
            for name, data, compression in members:
                archive.writestr(name, data, compression)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    return path
