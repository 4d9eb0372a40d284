"""Tensor names and shapes of a checkpoint file, read without torch and without running anything
the file names (standard library only): a safetensors header is JSON; a torch zip checkpoint's
`data.pkl` is read by an unpickler whose every global is an inert stand-in (tensors become their
shapes, storages are never loaded). `orch weights import` on the host and the jobs that load
weights compare what this finds with the published facts (shared_schema.weights.ArchitectureFacts).
"""

import io
import json
import pickle
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_HEADER_BYTES = 100 << 20
TENSOR_REBUILDERS = {"_rebuild_tensor_v2", "_rebuild_tensor", "_rebuild_parameter", "_rebuild_parameter_with_state"}


class UnreadableCheckpoint(ValueError):
    """The file is not a checkpoint this reader understands (one-line reason)."""


@dataclass(frozen=True)
class Layout:
    """What a checkpoint holds: name -> shape of each tensor (a Lightning checkpoint's `state_dict`),
    and the globals its pickle names that are not torch's own (none for safetensors)."""

    tensors: dict[str, tuple[int, ...]]
    foreign_globals: frozenset[str]


def read_layout(path: Path) -> Layout:
    """The layout of a .safetensors file or a torch (Lightning) checkpoint. Raises UnreadableCheckpoint."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return Layout(_safetensors_shapes(path), frozenset())
    return _torch_zip_layout(path)


def tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    return read_layout(path).tensors


def is_torch_global(name: str) -> bool:
    """A global torch.save itself writes: tensor rebuilders, storage types, OrderedDict, Size."""
    module, _, attribute = name.rpartition(".")
    return (
        name in ("collections.OrderedDict", "torch.Size")
        or (module == "torch._utils" and attribute in TENSOR_REBUILDERS)
        or (module == "torch" and attribute.endswith("Storage"))
    )


def _safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    with open(path, "rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        if not 1 < size <= MAX_HEADER_BYTES:
            raise UnreadableCheckpoint(f"{path}: no safetensors header")
        try:
            header = json.loads(handle.read(size))
        except (ValueError, UnicodeDecodeError):
            raise UnreadableCheckpoint(f"{path}: safetensors header is not JSON") from None
    if not isinstance(header, dict):
        raise UnreadableCheckpoint(f"{path}: safetensors header is not a table")
    return {
        name: tuple(int(size) for size in entry["shape"])
        for name, entry in header.items()
        if name != "__metadata__" and isinstance(entry, dict) and isinstance(entry.get("shape"), list)
    }


class _Shape(tuple):
    """A tensor, as its shape."""


class _Inert:
    """Any other global the pickle names: accepts whatever it is given, does nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> "_Inert":
        return _Inert()

    def __setstate__(self, state: Any) -> None:
        pass


def _rebuild_tensor(storage: Any, offset: Any, size: Any, *rest: Any) -> _Shape:
    return _Shape(int(s) for s in size)


def _rebuild_parameter(data: Any, *rest: Any) -> Any:
    return data


class _ShapeUnpickler(pickle.Unpickler):
    def __init__(self, file: Any):
        super().__init__(file)
        self.named: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.named.add(f"{module}.{name}")
        if module == "collections" and name == "OrderedDict":
            return dict
        if module == "torch._utils" and name in TENSOR_REBUILDERS:
            return _rebuild_parameter if "parameter" in name else _rebuild_tensor
        return _Inert  # a class or function from the file is never imported, let alone called

    def persistent_load(self, pid: Any) -> None:
        return None  # a storage: its bytes stay in the zip


def _torch_zip_layout(path: Path) -> Layout:
    try:
        with zipfile.ZipFile(path) as archive:
            pickled = [name for name in archive.namelist() if name.endswith("/data.pkl")]
            if not pickled:
                raise UnreadableCheckpoint(f"{path}: not a torch checkpoint (no data.pkl)")
            payload = archive.read(pickled[0])
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableCheckpoint(f"{path}: not a torch checkpoint ({exc})") from None
    unpickler = _ShapeUnpickler(io.BytesIO(payload))
    try:
        loaded = unpickler.load()
    except Exception as exc:  # any damage in the pickle stream
        raise UnreadableCheckpoint(f"{path}: its pickle cannot be read ({type(exc).__name__})") from None
    state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict):
        raise UnreadableCheckpoint(f"{path}: holds no state_dict")
    tensors = {str(name): tuple(shape) for name, shape in _tensors(state)}
    return Layout(tensors, frozenset(name for name in unpickler.named if not is_torch_global(name)))


def _tensors(state: dict) -> Iterator[tuple[str, _Shape]]:
    for name, value in state.items():
        if isinstance(value, _Shape):
            yield name, value
