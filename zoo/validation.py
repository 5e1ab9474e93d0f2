"""Turn pydantic validation errors into one line a person can act on.

pydantic reports *where* (a location tuple) and *what* (a message); a person also needs *which
file* and *what would be valid*. For an unknown key we list the valid keys of the table it sits
in, found by walking the schema along the error's location (discriminated-union tags included).
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, ValidationError

from zoo.errors import ZooError


def dotted(location: tuple[str | int, ...], root: type[BaseModel] | None = None) -> str:
    """``("model", "stages", 0, "block")`` → ``model.stages[0].block`` (union tags dropped)."""
    text = ""
    for part, model in _walk(location, root):
        if model is _TAG:
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


MISSING = frozenset({"missing", "missing_argument", "missing_keyword_only_argument"})
"""pydantic's error types for a required key (in a model, or an argument of a validated call)."""


def describe(error: dict[str, Any], root: type[BaseModel] | None = None) -> str:
    """One pydantic error as ``key.path: what is wrong; what is valid``."""
    location = tuple(error["loc"])
    where = dotted(location, root) or "(top level)"
    if error["type"] == "extra_forbidden":
        parent = _model_at(location[:-1], root)
        valid = ", ".join(parent.model_fields) if parent is not None else ""
        return f"{where}: unknown key" + (f"; valid keys: {valid}" if valid else "")
    if error["type"] in MISSING:
        return f"{where}: missing required key"
    return f"{where}: {_message(error)}{_got(error)}"


def _message(error: dict[str, Any]) -> str:
    return error["msg"].removeprefix("Value error, ")


GOT_WIDTH = 60
"""The longest value quoted in a message; a longer one (a tensor, a long list) is named by type,
so the message stays one line."""


def _got(error: dict[str, Any]) -> str:
    """`` (got 2)`` for a value; nothing for a whole table, which would bury the message."""
    value = error.get("input")
    if isinstance(value, dict):
        return ""
    text = repr(value)
    if len(text) > GOT_WIDTH or "\n" in text:
        text = f"a {type(value).__name__}"
    return f" (got {text})"


def first_problem(exc: ValidationError, root: type[BaseModel] | None = None) -> tuple[str, str]:
    """(key path, message) of the first problem. Where a union gives several errors for one key,
    their messages are joined with "or"; further problems are counted."""
    errors = exc.errors()
    where = dotted(tuple(errors[0]["loc"]), root)
    same = [e for e in errors if dotted(tuple(e["loc"]), root) == where]
    message = describe(same[0], root)
    if len(same) > 1 and not {e["type"] for e in same} & (MISSING | {"extra_forbidden"}):
        alternatives = ", or ".join(_message(e) for e in same)
        message = f"{where or '(top level)'}: {alternatives}{_got(same[0])}"
    others = len(errors) - len(same)
    if others:
        message += f" (and {others} more problem{'s' if others > 1 else ''})"
    return where, message


def raise_for(
    exc: ValidationError, source: str, root: type[BaseModel] | None = None, joiner: str = ": "
) -> None:
    """Re-raise ``exc`` as a :class:`ZooError` naming ``source`` (a file, a thing, or — joined
    with ``"."`` — the key path the validated table sits at)."""
    raise ZooError(f"{source}{joiner}{first_problem(exc, root)[1]}") from exc


def keyword_options(factory: Callable[..., Any], exclude: Iterable[str] = ()) -> list[str] | None:
    """The keyword-only parameters of a factory, or None when it takes ``**kwargs``."""
    parameters = inspect.signature(factory).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    skip = set(exclude)
    return [
        p.name
        for p in parameters
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in skip
    ]


def check_keywords(
    factory: Callable[..., Any], given: Iterable[str], where: str, fixed: Iterable[str] = ()
) -> None:
    """Refuse a key the factory does not take, listing the valid ones (``fixed`` first)."""
    fixed = list(fixed)
    known = keyword_options(factory, exclude=fixed)
    if known is None:
        return
    for key in given:
        if key not in known:
            raise ZooError(f"{where}.{key}: unknown key; valid keys: {', '.join(fixed + known)}")


_TAG = object()


def _walk(location: tuple[str | int, ...], root: type[BaseModel] | None):
    """Yield ``(part, model_or_TAG_or_None)`` along ``location``, following field annotations."""
    current: Any = root
    for part in location:
        options = _models_in(current)
        union = len(options) > 1
        if isinstance(part, str) and union and not any(part in m.model_fields for m in options):
            yield part, _TAG  # a discriminated-union tag, not a key the user wrote
            continue
        if isinstance(part, str) and _is_leaf(current):
            yield part, _TAG  # a union member's tag under a plain value ("bool", "literal[…]")
            continue
        yield part, current
        current = _step(options, current, part)


def _model_at(
    location: tuple[str | int, ...], root: type[BaseModel] | None
) -> type[BaseModel] | None:
    current: Any = root
    for part, model in _walk(location, root):
        if model is _TAG:
            continue
        current = _step(_models_in(current), current, part)
    models = _models_in(current)
    return models[0] if len(models) == 1 else None


def _step(options: list[type[BaseModel]], current: Any, part: str | int) -> Any:
    if isinstance(part, int):
        args = typing.get_args(_unwrap(current))
        return args[0] if args else None
    for model in options:
        if part in model.model_fields:
            return model.model_fields[part].annotation
    return None


def _is_leaf(annotation: Any) -> bool:
    """A value annotation (bool, str, a Literal, a union of them), not a table or a list."""
    if annotation is None or _models_in(annotation):
        return False
    return typing.get_origin(_unwrap(annotation)) not in (dict, list, tuple, typing.Annotated)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation
