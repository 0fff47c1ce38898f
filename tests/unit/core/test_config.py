from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from wavecoder.config import (
    ConfigError,
    apply_overrides,
    build,
    diff_keys,
    load_yaml,
    parse_override,
    to_data,
)


@dataclass(frozen=True)
class Inner:
    rank: int = 8
    targets: tuple[str, ...] = ("q_proj",)


@dataclass(frozen=True)
class Section:
    budget: int | float = 100
    metric: Literal["euclidean", "cosine"] = "euclidean"
    name: str = "x"
    ratio: float = 0.5
    enabled: bool = True
    api_key_env: str = "OPENAI_API_KEY"
    inner: Inner = field(default_factory=Inner)


def test_override_values_are_typed_yaml() -> None:
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("a=0.25") == (["a"], 0.25)
    assert parse_override("a=[x, y]") == (["a"], ["x", "y"])
    assert parse_override("a=true") == (["a"], True)
    assert parse_override("a=hello world") == (["a"], "hello world")


@pytest.mark.parametrize("bad", ["novalue", "=3", "a..b=1"])
def test_bad_override_is_an_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="bad override"):
        parse_override(bad)


def test_apply_overrides_nests_and_does_not_mutate() -> None:
    base = {"select": {"budget": 10}}
    out = apply_overrides(base, ["select.budget=20", "embed.backend=hashing"])
    assert out == {"select": {"budget": 20}, "embed": {"backend": "hashing"}}
    assert base == {"select": {"budget": 10}}


def test_build_strict_and_typed() -> None:
    cfg = build(
        Section,
        {"budget": 0.1, "metric": "cosine", "ratio": 1, "inner": {"targets": ["a", "b"]}},
        where="select",
    )
    assert cfg.budget == 0.1 and cfg.metric == "cosine" and cfg.ratio == 1.0
    assert cfg.inner.targets == ("a", "b")
    assert to_data(cfg)["inner"] == {"rank": 8, "targets": ["a", "b"]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"budgett": 3}, r"unknown config key\(s\): select.budgett"),
        ({"inner": {"rnk": 3}}, r"select.inner.rnk"),
        ({"metric": "manhattan"}, r"select.metric: 'manhattan' is not one of"),
        ({"enabled": "yes"}, r"select.enabled: expected true or false"),
        ({"ratio": "half"}, r"select.ratio"),
        ({"inner": {"rank": True}}, r"select.inner.rank: expected an integer"),
    ],
)
def test_build_errors_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(Section, data, where="select")


@dataclass(frozen=True)
class Checked:
    low: int = 0
    high: int = 10

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError("need low <= high")


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(default_factory=lambda: Inner(rank=64))
    checked: Checked = field(default_factory=Checked)


def test_nested_section_starts_from_the_fields_default() -> None:
    """Setting one key of a nested section keeps the other keys of the field's default."""
    assert build(Outer, {"inner": {"targets": ["v"]}}).inner == Inner(rank=64, targets=("v",))
    assert build(Outer, {}).inner.rank == 64


def test_dataclass_checks_become_config_errors_with_the_location() -> None:
    with pytest.raises(ConfigError, match=r"eval.checked: need low <= high"):
        build(Outer, {"checked": {"low": 11}}, where="eval")


def test_literal_secret_is_refused_but_env_name_is_fine() -> None:
    @dataclass(frozen=True)
    class Llm:
        api_key: str = ""
        api_key_env: str = "OPENAI_API_KEY"

    assert build(Llm, {"api_key_env": "MY_KEY"}).api_key_env == "MY_KEY"
    with pytest.raises(ConfigError, match="secrets do not belong in a config"):
        build(Llm, {"api_key": "sk-live-123"})


def test_yaml_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("select:\n  budget: [1, 2\n")
    with pytest.raises(ConfigError, match=r"x.yaml:\d+: invalid YAML"):
        load_yaml(path)


def test_diff_keys() -> None:
    assert diff_keys({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3, "d": 0}}) == ["a.c", "a.d"]
    # a setting added since the stage ran, with a null default, is a change to name
    assert diff_keys({"llm": {"model": "m"}}, {"llm": {"model": "m", "new": None}}) == ["llm.new"]


def test_one_cache_root_for_every_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from wavecoder.evals.benchmarks.sources import download_dir
    from wavecoder.llm.cache import default_cache_path
    from wavecoder.paths import cache_dir

    monkeypatch.delenv("WAVECODER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "wavecoder"
    monkeypatch.setenv("WAVECODER_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_path() == tmp_path / "mine" / "llm.sqlite"
    assert download_dir() == tmp_path / "mine" / "benchmarks"
