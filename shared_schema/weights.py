"""The weights cache contract: `<weights>/<model>/weights.json` next to the checkpoint files.

Written by `orch weights pull` (pretrained) or by tests (random-init, same on-disk layout);
read by jobs, which fail fast when it is missing and report its identity in their result.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, model_validator

from shared_schema.base import SchemaVersion, Sha256, StrictModel


class WeightsManifest(StrictModel):
    schema_version: SchemaVersion = 1
    model: str
    # pretrained: the published checkpoint (its architecture facts checked on import); custom:
    # imported files that are not it (architecture or bytes differ), never reported as the hub's model
    kind: Literal["pretrained", "random-init", "custom"]
    hub_id: str | None = None
    revision: str | None = None
    # file name (relative to the model's folder) -> sha256 of its bytes
    files: dict[str, Sha256] = Field(min_length=1)
    # what the import found comparing the files with the published facts, one line
    identity: str | None = None

    @model_validator(mode="after")
    def _pretrained_is_identified(self) -> "WeightsManifest":
        if self.kind == "pretrained" and not (self.hub_id and self.revision):
            raise ValueError("pretrained weights need hub_id and revision")
        return self


@dataclass(frozen=True)
class ArchitectureFacts:
    """What the published checkpoint of a model is, as far as its files tell, declared once per
    entry of `orchestrator.weights.PUBLISHED` and compared by `orch weights import`/`pull` and by
    the job that loads the weights. Every field is optional: an entry states what it knows.

    config_file/config: keys the config file must hold with exactly these values;
    checkpoint_file: the file whose tensors are compared with tensors (names -> shapes), or only
    with tensor_count and parameters; absent: files whose presence means another architecture;
    sha256: published file -> its sha256, where the project records it; pickle_globals: see below."""

    config_file: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    checkpoint_file: str | None = None
    tensors: Mapping[str, tuple[int, ...]] | None = None
    tensor_count: int | None = None
    parameters: int | None = None
    absent: tuple[str, ...] = ()
    sha256: Mapping[str, str] = field(default_factory=dict)
    # globals besides torch's own the checkpoint's pickle may name (the published file's): any other
    # could run code when loaded, so such a file is refused, not installed
    pickle_globals: tuple[str, ...] = ()

    def foreign_globals(self, named: Iterable[str]) -> list[str]:
        """The globals of a checkpoint's pickle that the published one does not name."""
        return sorted(set(named) - set(self.pickle_globals))

    @property
    def reads_tensors(self) -> bool:
        return self.checkpoint_file is not None and (
            self.tensors is not None or self.tensor_count is not None or self.parameters is not None
        )

    def differences(
        self,
        *,
        files: Mapping[str, str],
        config: Mapping[str, Any] | None = None,
        tensors: Mapping[str, tuple[int, ...]] | None = None,
    ) -> list[str]:
        """Each way a candidate differs from these facts, one short phrase each; [] = it matches.
        `files` maps relative names to sha256; `config` is the parsed config file; `tensors` the
        checkpoint's names -> shapes (None where it could not be read)."""
        found = [f"{name} is present (it describes another architecture)" for name in self.absent if name in files]
        found += [
            f"{name} sha256 {files[name][:12]} is not the published {digest[:12]}"
            for name, digest in self.sha256.items()
            if name in files and files[name] != digest
        ]
        if self.config_file is not None:
            given = config or {}
            found += [
                f"{self.config_file} {key} = {given.get(key)!r}, published {value!r}"
                for key, value in self.config.items()
                if _comparable(given.get(key)) != _comparable(value)
            ]
        if self.reads_tensors:
            found += self._tensor_differences(tensors)
        return found

    def _tensor_differences(self, tensors: Mapping[str, tuple[int, ...]] | None) -> list[str]:
        if tensors is None:
            return [f"the tensors of {self.checkpoint_file} could not be read"]
        found = []
        if self.tensors is not None:
            missing = sorted(set(self.tensors) - set(tensors))
            extra = sorted(set(tensors) - set(self.tensors))
            shaped = sorted(n for n in set(self.tensors) & set(tensors) if tuple(tensors[n]) != tuple(self.tensors[n]))
            for what, names in (("missing", missing), ("not published", extra), ("of another shape", shaped)):
                if names:
                    found.append(f"{len(names)} tensor(s) {what}, e.g. {names[0]}")
        count = len(tensors)
        if self.tensor_count is not None and count != self.tensor_count:
            found.append(f"{count} tensors, published {self.tensor_count}")
        total = sum(_product(shape) for shape in tensors.values())
        if self.parameters is not None and total != self.parameters:
            found.append(f"{total:,} parameters, published {self.parameters:,}")
        return found

    def summary(self) -> str:
        """What a match was checked against, for `orch weights list`."""
        parts = []
        if self.config:
            parts.append(f"{self.config_file} ({len(self.config)} keys)")
        if self.tensors is not None or self.tensor_count is not None:
            parts.append(f"{len(self.tensors) if self.tensors is not None else self.tensor_count} tensors")
        if self.parameters is not None:
            parts.append(f"{self.parameters:,} parameters")
        if self.sha256:
            parts.append("sha256")
        return ", ".join(parts) or "nothing"


def _comparable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _product(shape) -> int:
    total = 1
    for size in shape:
        total *= int(size)
    return total
