"""One config scheme: frozen dataclasses with a strict, typed JSON round trip.

Every config that a checkpoint or a run folder stores (``ScheduleConfig``, ``UNetConfig``,
``TrainConfig``, the auxiliary models' configs) derives from :class:`Config`:

- ``to_dict()`` gives plain JSON values (tuples as lists, nested configs as dicts);
- ``from_dict(d)`` is strict: an unknown key is an error naming the key, a value of the wrong
  type is an error naming the field, missing keys take the field's default, and nested configs
  and tuples are rebuilt from their JSON form.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Demo(Config):
...     size: int = 3
...     scale: float = 1.0
>>> Demo.from_dict({"size": 4}).to_dict()
{'size': 4, 'scale': 1.0}
>>> Demo.from_dict({"sise": 4})
Traceback (most recent call last):
...
ValueError: unknown Demo field 'sise' (known: scale, size)
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar, Union

from .options import check_choice

C = TypeVar("C", bound="Config")


def _to_json(v: Any) -> Any:
    if isinstance(v, Config):
        return v.to_dict()
    if isinstance(v, tuple | list):
        return [_to_json(e) for e in v]
    if isinstance(v, dict):
        return {k: _to_json(e) for k, e in v.items()}
    return v


def _convert(tp: Any, v: Any, where: str) -> Any:
    """Check ``v`` against the annotation ``tp`` and rebuild tuples and nested configs."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if v is None and type(None) in args:
            return None
        errors = []
        for a in (a for a in args if a is not type(None)):
            try:
                return _convert(a, v, where)
            except (TypeError, ValueError) as e:
                errors.append(str(e))
        raise TypeError(errors[0] if errors else f"{where}: got {v!r}")
    if origin is typing.Literal:
        return check_choice(v, tp, where)
    if origin is tuple:
        if not isinstance(v, list | tuple):
            raise TypeError(f"{where}: expected a list, got {type(v).__name__}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], e, where) for e in v)
        if len(args) != len(v):
            raise TypeError(f"{where}: expected {len(args)} values, got {len(v)}")
        return tuple(_convert(a, e, where) for a, e in zip(args, v))
    if origin is dict or tp is dict:
        if not isinstance(v, dict):
            raise TypeError(f"{where}: expected an object, got {type(v).__name__}")
        return dict(v)
    if isinstance(tp, type) and issubclass(tp, Config):
        if isinstance(v, tp):
            return v
        if not isinstance(v, dict):
            raise TypeError(f"{where}: expected an object, got {type(v).__name__}")
        return tp.from_dict(v)
    if tp is bool:
        if not isinstance(v, bool):
            raise TypeError(f"{where}: expected true or false, got {v!r}")
        return v
    if tp is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{where}: expected an integer, got {v!r}")
        return v
    if tp is float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise TypeError(f"{where}: expected a number, got {v!r}")
        return float(v)
    if tp is str:
        if not isinstance(v, str):
            raise TypeError(f"{where}: expected a string, got {v!r}")
        return v
    return v


class Config:
    """Mixin for frozen dataclasses: ``to_dict`` and a strict, typed ``from_dict``."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _to_json(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[C], d: dict[str, Any]) -> C:
        if not isinstance(d, dict):
            raise TypeError(f"{cls.__name__}: expected an object, got {type(d).__name__}")
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
        for key in d:
            if key not in names:
                raise ValueError(f"unknown {cls.__name__} field {key!r} (known: {', '.join(sorted(names))})")
        return cls(**{k: _convert(hints[k], v, f"{cls.__name__}.{k}") for k, v in d.items()})
