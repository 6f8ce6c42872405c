"""Loose keywords into options objects: the one merge rule behind ``optimize(..., time_limit=30)`` and friends.

:func:`riskbudget.optimization.options.route_options`,
:func:`riskbudget.bayes.options.route_options` and the report's options all
accept a frozen options object *and* its fields as loose keywords. They share
this rule: a keyword equal to the field's default leaves the object as it is,
and a field set differently both ways is an error naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from .exceptions import RiskBudgetError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["same", "merge_options"]

Options = TypeVar("Options", bound="DataclassInstance")


def same(a: Any, b: Any) -> bool:
    """``a == b`` for values that may be arrays or DataFrames (whose ``==`` is elementwise)."""
    if a is b:
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def merge_options(where: str, given: Options, keywords: Mapping[str, Any], argument: str) -> Options:
    """``given`` with the keywords set; a field set differently both ways is an error.

    Parameters
    ----------
    where : str
        The verb, named in errors.
    given : frozen dataclass
        The options object the caller passed (or a default one).
    keywords : mapping
        Loose keywords, each a field of ``given``'s class.
    argument : str
        The name of the object's parameter (``"solver"``), named in errors.
    """
    if not keywords:
        return given
    base = type(given)()
    loose = replace(base, **keywords)  # normalised and checked like the object itself
    changes: dict[str, Any] = {}
    for name in keywords:
        value, mine, default = getattr(loose, name), getattr(given, name), getattr(base, name)
        if same(value, default):
            continue
        if not same(mine, default) and not same(mine, value):
            raise RiskBudgetError(
                f"{where}: {name} is given twice, as {name}={value!r} and in {argument}= ({mine!r}); give it once"
            )
        changes[name] = value
    return replace(given, **changes) if changes else given  # type: ignore[type-var]
