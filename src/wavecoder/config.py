"""Config as data: frozen dataclasses built strictly from YAML plus dotted `key=value` overrides.

One YAML file describes one experiment. Every stage owns a frozen `Config` dataclass (in its own
module); this module turns plain data into those dataclasses, refusing unknown keys and values of
the wrong type with a message that names the key path. Overrides are parsed as YAML scalars, so
`select.budget=0.1` is a float and `filter.blacklist=[a, b]` a list.

Secrets never live in a config: a field may name an environment variable (`api_key_env`) but a
key that looks like a secret with a literal value is refused, and so is any `*_env` value that
is not an environment-variable name (a pasted key), without echoing it; a saved config never
leaks one. A YAML mapping that repeats a key (two `select:` sections) is refused with its line.
Not here: which sections exist (`wavecoder.pipeline` lists the stages and their Config classes).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config that cannot be used: unknown key, wrong type, bad override, a literal secret."""


_SECRET_KEY = re.compile(r"(^|_)(api_?key|secret|password|token)$", re.I)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def build(cls: type[T], data: Mapping[str, Any] | None, *, where: str = "") -> T:
    """Build dataclass `cls` from `data` strictly: unknown keys or wrong types raise."""
    data = dict(data or {})
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        allowed = ", ".join(sorted(fields)) or "(none)"
        keys = ", ".join(_join(where, k) for k in unknown)
        raise ConfigError(f"unknown config key(s): {keys}; allowed here: {allowed}")
    defaults = {f.name: _default(f) for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        path = _join(where, key)
        _refuse_secret(path, key, value)
        nested = defaults.get(key)
        if isinstance(value, Mapping) and dataclasses.is_dataclass(nested):
            # a nested section starts from the field's own default, not its class's defaults
            value = {**to_data(nested), **value}
        kwargs[key] = _coerce(hints[key], value, path)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise ConfigError(f"{where or 'config'}: {exc}") from exc
    except ConfigError:
        raise
    except ValueError as exc:  # the dataclass's own checks (__post_init__)
        raise ConfigError(f"{where or 'config'}: {exc}") from exc


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _refuse_secret(path: str, key: str, value: Any) -> None:
    if key.endswith("_env") and value not in (None, ""):
        if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
            # The value is not shown: a key pasted where its variable's name belongs is a secret.
            raise ConfigError(
                f"{path}: not an environment variable name (letters, digits and _, not starting "
                f"with a digit; value not shown); name the variable that holds the secret, "
                f"e.g. {key}: OPENAI_API_KEY, and export the secret in it"
            )
        return
    if _SECRET_KEY.search(key) and value not in (None, ""):
        raise ConfigError(
            f"{path}: secrets do not belong in a config; name the environment variable that holds "
            f"it instead (e.g. {key}_env: MY_VAR)"
        )


def _coerce(tp: Any, value: Any, path: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        return _coerce_union(tp, value, path)
    if origin is Literal:
        if value not in get_args(tp):
            choices = ", ".join(repr(a) for a in get_args(tp))
            raise ConfigError(f"{path}: {value!r} is not one of {choices}")
        return value
    if origin in (tuple, list, Sequence):
        return _coerce_sequence(tp, origin, value, path)
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        kt, vt = get_args(tp) or (str, Any)
        return {_coerce(kt, k, path): _coerce(vt, v, f"{path}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        return build(typing.cast(type, tp), value, where=path)
    return _coerce_scalar(tp, value, path)


def _coerce_union(tp: Any, value: Any, path: str) -> Any:
    args = get_args(tp)
    if value is None:
        if type(None) in args:
            return None
        raise ConfigError(f"{path}: may not be null")
    errors = []
    for arg in args:
        if arg is type(None):
            continue
        try:
            return _coerce(arg, value, path)
        except ConfigError as exc:
            errors.append(str(exc))
    raise ConfigError(errors[-1] if len(errors) == 1 else f"{path}: {value!r} fits none of {tp}")


def _coerce_sequence(tp: Any, origin: Any, value: Any, path: str) -> Any:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(f"{path}: expected a list, got {value!r}")
    args = get_args(tp)
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(args) != len(value):
            raise ConfigError(f"{path}: expected {len(args)} items, got {len(value)}")
        return tuple(_coerce(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    item = args[0] if args else Any
    items = [_coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if origin is not list else items


def _coerce_scalar(tp: Any, value: Any, path: str) -> Any:
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"{path}: expected true or false, got {value!r}")
    if tp is int and isinstance(value, bool):
        raise ConfigError(f"{path}: expected an integer, got {value!r}")
    if tp is Path and isinstance(value, str):
        return Path(value)
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{path}: expected {tp.__name__}, got {value!r}")
    return value


def to_data(obj: Any) -> Any:
    """Plain data (dicts, lists, scalars) from a config dataclass, for YAML and fingerprints."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [to_data(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_data(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


# --- YAML files and dotted overrides ----------------------------------------------------------


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


class _StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key repeated in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            # `<<: *anchor` merges may be overridden by explicit keys: only those are compared
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} appears twice (lines {seen[key]} and {line}); merge them",
                    key_node.start_mark,
                )
            if isinstance(key, str | int | float | bool):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b.c=value` -> (["a", "b", "c"], value parsed as a YAML scalar or flow collection)."""
    key, sep, raw = text.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"bad override {text!r}: expected dotted.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"bad override {text!r}: {exc}") from exc
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of `data` with each `dotted.key=value` set (intermediate mappings created)."""
    out: dict[str, Any] = _deep_copy(data)
    for text in overrides:
        keys, value = parse_override(text)
        node = out
        for k in keys[:-1]:
            child = node.get(k)
            if child is None:
                child = node[k] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"bad override {text!r}: {k} is not a section")
            node = child
        node[keys[-1]] = value
    return out


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


def diff_keys(old: Any, new: Any, where: str = "") -> list[str]:
    """Dotted keys whose values differ between two plain-data configs (a key only one side has
    counts, even when its value is null: a setting added to a stage since it ran)."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys: list[str] = []
        for k in sorted(set(old) | set(new)):
            if (k in old) != (k in new):
                keys.append(_join(where, str(k)))
                continue
            keys += diff_keys(old.get(k), new.get(k), _join(where, str(k)))
        return keys
    return [] if old == new else [where or "(all)"]
