"""Strict parsing of the YAML files under include/config/.

Every configuration file is read into a pydantic model that forbids unknown keys, so a typo
(`pseudonymize:` for `pseudonymise:`, `dorp:` for `drop:`) stops the DAG import with the file, the
key path and the closest known key, instead of being ignored while a column is copied in clear."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file does not match its schema; the message names file, key and fix."""


class Strict(BaseModel):
    """Base of every configuration model: unknown keys are errors, values are not coerced loosely."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _known_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys the schema accepts where an unknown key `loc[-1]` was found (best effort)."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if fields is None:
            return []
        if isinstance(part, str) and part in fields:
            current = _model_of(fields[part].annotation)
        # a dict key or list index: stay on the value model found by _model_of
    fields = getattr(current, "model_fields", None)
    if not fields:
        return []
    names = []
    for name, field in fields.items():
        names.append(field.alias or name)
    return names


def _model_of(annotation: Any) -> Any:
    """The BaseModel inside an annotation such as `dict[str, Table] | None`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _describe(model: type[BaseModel], error: dict) -> str:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    path = ".".join(str(p) for p in loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        key = str(loc[-1])
        close = difflib.get_close_matches(key, _known_keys(model, loc), n=1, cutoff=0.6)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        return f"unknown key `{path}`{hint}"
    return f"`{path}`: {error['msg']}"


def parse(model: type[M], data: Any, source: str) -> M:
    """Validate already-loaded YAML data; errors name `source` and every bad key."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = "; ".join(_describe(model, e) for e in exc.errors(include_url=False, include_input=False))
        raise ConfigError(f"{source}: {problems}") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load keeps the last of two equal keys silently: a column declared twice under
    `columns:` (once `keep`, once `drop`) would take whichever comes last."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(
                    f"key `{key}` appears twice in one mapping (lines {seen[key] + 1} and {key_node.start_mark.line + 1})"
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def load(model: type[M], path: Path) -> M:
    """Read and validate one YAML file; a key repeated in a mapping is an error, not an override."""
    try:
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse(model, data, str(path))


def close_match(name: str, candidates) -> str:
    """' (did you mean `x`?)' for the closest candidate, or ''."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""
