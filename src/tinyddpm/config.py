"""JSON round trips for the frozen config dataclasses that checkpoints store."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, TypeVar

C = TypeVar("C", bound="JSONConfig")


class JSONConfig:
    """Mixin for frozen dataclasses: ``to_dict`` (tuples as lists) and a strict ``from_dict``."""

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], d: dict[str, Any]) -> C:
        known = {f.name: str(f.type) for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(d) - set(known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
        return cls(**{k: tuple(v) if known[k].startswith("tuple") and isinstance(v, list) else v for k, v in d.items()})
