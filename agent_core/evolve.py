"""``evolve(obj, **changes)``: ``dataclasses.replace`` for the fold's frozen, slotted state classes, faster.

The fold builds a new ``RunState`` for every event it applies (and a ``StepState`` for each event
about a step), live and in verify alike; the store copies the run's index twice per append.
``dataclasses.replace`` re-enters ``__init__`` with a keyword dict built field by field; copying
the slots straight into a new instance gives the same object for a class with no
``__post_init__`` and every field in ``__init__``, in about a third less time (``replay --all``
spent a fifth of its CPU in ``replace``). Any other class takes ``dataclasses.replace`` itself.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")

_PLAIN_FIELDS: dict[type, tuple[tuple[str, ...], frozenset[str]] | None] = {}


def _plain_fields(cls: type) -> tuple[tuple[str, ...], frozenset[str]] | None:
    """The class's field names, or None when copying slots would skip something ``__init__`` does."""
    if cls not in _PLAIN_FIELDS:
        fields = dataclasses.fields(cls)  # a TypeError for anything but a dataclass, as replace raises
        plain = "__slots__" in cls.__dict__ and not hasattr(cls, "__post_init__") and all(f.init for f in fields)
        names = tuple(f.name for f in fields)
        _PLAIN_FIELDS[cls] = (names, frozenset(names)) if plain else None
    return _PLAIN_FIELDS[cls]


def evolve(obj: T, **changes: Any) -> T:
    """A copy of the dataclass instance ``obj`` with ``changes``; unknown field names raise TypeError."""
    cls = type(obj)
    plain = _plain_fields(cls)
    if plain is None:
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    names, known = plain
    if not known.issuperset(changes):
        raise TypeError(f"{cls.__name__} has no field {sorted(set(changes) - known)[0]!r}")
    new = object.__new__(cls)
    set_slot = object.__setattr__
    for name in names:
        set_slot(new, name, changes[name] if name in changes else getattr(obj, name))
    return new
