"""The weights cache contract: `<weights>/<model>/weights.json` next to the checkpoint files.

Written by `orch weights pull` (pretrained) or by tests (random-init, same on-disk layout);
read by jobs, which fail fast when it is missing and report its identity in their result.
"""

from typing import Literal

from pydantic import Field, model_validator

from shared_schema.base import SchemaVersion, Sha256, StrictModel


class WeightsManifest(StrictModel):
    schema_version: SchemaVersion = 1
    model: str
    kind: Literal["pretrained", "random-init"]
    hub_id: str | None = None
    revision: str | None = None
    # file name (relative to the model's folder) -> sha256 of its bytes
    files: dict[str, Sha256] = Field(min_length=1)

    @model_validator(mode="after")
    def _pretrained_is_identified(self) -> "WeightsManifest":
        if self.kind == "pretrained" and not (self.hub_id and self.revision):
            raise ValueError("pretrained weights need hub_id and revision")
        return self
