"""Option strings: the ``Literal`` types that several layers share, and the one validator.

Every option a user passes as a string (a method, a precision, a loss, a schedule kind, ...) is
typed as a ``Literal`` where it is defined (``denoise.Method``, ``samplers.SampleMethod``,
``precision.Precision``, ``schedules.ScheduleKind``, ``noise_level.SigmaMethod``, the trainer's
``TSampling``, ``Weighting`` and ``Objective``, and ``Norm`` here), checked by
:func:`check_choice` in the function or config that receives it, and offered by the CLI as
``choices=typing.get_args(...)``: one list of values per option, in one place.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

Norm = Literal["l2", "l1"]  # the loss on eps: squared error (Ho et al.'s L_simple) or absolute error


def check_choice(value: Any, options: Any, name: str) -> Any:
    """``value`` if it is one of the values of the ``Literal`` type ``options``, else a
    ``ValueError`` that names ``name`` and the choices: the package's one validator of option
    strings (methods, precisions, losses, schedules, ...), used by configs, functions and the CLI.

    >>> check_choice("l1", Literal["l2", "l1"], "loss")
    'l1'
    >>> check_choice("l3", Literal["l2", "l1"], "loss")
    Traceback (most recent call last):
    ...
    ValueError: unknown loss 'l3' (expected one of 'l2', 'l1')
    """
    allowed = get_args(options)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"unknown {name} {value!r} (expected one of {', '.join(map(repr, allowed))})")
    return value
