"""Atomic writes and file hashing, shared by the host, the jobs and compose/run.py (standard
library only): a reader never sees half a file, whoever wrote it."""

import errno
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """`write(tmp)` writes a temp file in the same folder (a library writer such as
    pyarrow's); it is fsynced, then renamed over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file normal permissions
        os.close(fd)
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def chown_tree(folder: Path, uid: int, gid: int) -> None:
    """Give a folder tree to uid:gid (a job's staging folder lent to the job's user, and taken back)."""
    for root, dirs, files in os.walk(folder):
        os.chown(root, uid, gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def refuse_links(folder: Path) -> None:
    """ValueError when `folder`, or anything below it, is a symbolic link: a run's folder holds its
    own files, and a link a job planted would make the host read (or copy) whatever it points at."""
    folder = Path(folder)
    if folder.is_symlink():
        raise ValueError(f"{folder} is a symbolic link (to {os.readlink(folder)}); not followed")
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root, name)
            if path.is_symlink():
                raise ValueError(f"{path} is a symbolic link (to {os.readlink(path)}); not followed")


def read_own_file(path: Path) -> bytes:
    """The bytes of a regular file, opened without following a link at its last component
    (O_NOFOLLOW), so a link swapped in after a check is refused too. OSError otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return handle.read()


def refuse_link(path: Path) -> None:
    """OSError (ELOOP) when `path` is a symbolic link: the store's own folders are never reached through one."""
    if Path(path).is_symlink():
        raise OSError(errno.ELOOP, f"a symbolic link (to {os.readlink(path)}), not followed", str(path))


def copy_own_file(source: Path, target: Path) -> None:
    """Copy a regular file, refusing a link at `source` (OSError, ELOOP) as `read_own_file` does;
    atomic, and the copy is never readable by more than the source was."""
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(source))
        mode = stat.S_IMODE(info.st_mode) & 0o666 & ~_UMASK

        def write(tmp: str) -> None:
            with open(tmp, "wb") as out:
                shutil.copyfileobj(handle, out)
            os.chmod(tmp, mode)

        atomic_write(target, write)
