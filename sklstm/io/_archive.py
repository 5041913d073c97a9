"""The model file's zip container: bounded reads and atomic, exclusive writes.

A model file is untrusted input. Its members' sizes and compression ratios
are read from the zip directory and checked before anything is inflated, so
a small file cannot make ``load`` allocate gigabytes. Writes go to a
temporary file created exclusively (``O_EXCL``, a random name) in the target
directory, then renamed over the target: a reader never sees half a file,
and a symlink planted at a temporary name is never followed.
"""

from __future__ import annotations

import io
import os
import pathlib
import tempfile
import zipfile
import zlib

# the largest sizes a member may inflate to, and by how much it may inflate
MEMBER_LIMITS = {
    "meta.json": 256 * 2**20,
    "pipeline.skops": 256 * 2**20,
    "weights.pt": 16 * 2**30,  # also the limit of a pipeline's model members
}
MAX_RATIO = 200  # JSON of numbers deflates ~3-10x; bombs inflate 1000x+
_SMALL = 2**20  # members below this size are not held to the ratio


def read_members(source, names: tuple[str, ...], label=None) -> dict[str, bytes]:
    """The named members' bytes, after checking them in the zip directory.

    ``source`` is a path or a binary file object; ``label`` names it in
    messages (default: ``source``). Raises ``ValueError`` (naming it) for a
    file that is not a zip archive, lacks a member, or holds an encrypted,
    oddly compressed, oversized or over-compressed member.
    """
    path = source if label is None else label
    try:
        with zipfile.ZipFile(source) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            missing = [name for name in names if name not in infos]
            if missing:
                raise ValueError(
                    f"{path} is not an sklstm model file: it has no {missing[0]}."
                )
            for name in names:
                _check_member(infos[name], path)
            return {name: archive.read(infos[name]) for name in names}
    except ValueError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise ValueError(
            f"{path} is not an sklstm model file (a zip archive written by "
            f"sklstm's save): {type(exc).__name__}: {exc}"
        ) from None
    except (RuntimeError, NotImplementedError, zlib.error) as exc:
        raise ValueError(f"{path}: unreadable zip member: {exc}") from None


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
