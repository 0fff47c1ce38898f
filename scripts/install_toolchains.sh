#!/usr/bin/env bash
# Install the compilers and test libraries that `wavecoder eval` needs to run HumanEvalPack in all
# six languages, from Debian 12 packages and npm only (no other network access is assumed).
#
#   python      the interpreter running wavecoder (nothing to install)
#   javascript  nodejs + npm, and the npm package js-md5 (JavaScript/162) in $WAVECODER_TOOLCHAIN_DIR/node
#   java        openjdk-17-jdk-headless (javac, java)
#   cpp         g++, libboost-dev (CPP/22, CPP/137 include boost/any.hpp), libssl-dev (md5 in CPP/162)
#   go          golang-go, golang-github-stretchr-testify-dev (GOPATH mode, /usr/share/gocode)
#   rust        rustc + cargo, librust-{rand,regex,md5}-dev (sources under /usr/share/cargo/registry;
#               wavecoder builds them once into rlibs on first use, offline)
#
# Idempotent: a tool that is already on PATH (rustup's rustc, nodesource's node ...) is kept.
# Must run as root (apt-get). Usage: scripts/install_toolchains.sh [--no-apt-update]
set -euo pipefail

TOOLCHAIN_DIR="${WAVECODER_TOOLCHAIN_DIR:-/opt/wavecoder}"
JS_MD5_VERSION="0.8.3"

if [[ "$(id -u)" != "0" ]]; then
  echo "install_toolchains.sh: must run as root (it calls apt-get)" >&2
  exit 1
fi

have() { command -v "$1" >/dev/null 2>&1; }

pkgs=(ca-certificates g++ libboost-dev libssl-dev golang-go golang-github-stretchr-testify-dev
      librust-rand-dev librust-regex-dev librust-md5-dev
      librust-aho-corasick-dev librust-memchr-dev)
have javac || pkgs+=(openjdk-17-jdk-headless)
have rustc || pkgs+=(rustc)
have cargo || pkgs+=(cargo)
have node || pkgs+=(nodejs)
have npm || pkgs+=(npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  [[ "${1:-}" == "--no-apt-update" ]] || apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "Debian packages: all present"
fi

# js-md5 for JavaScript/162, in a fixed prefix that the sandbox exposes through NODE_PATH.
if [[ ! -f "$TOOLCHAIN_DIR/node/node_modules/js-md5/package.json" ]]; then
  mkdir -p "$TOOLCHAIN_DIR/node"
  npm install --prefix "$TOOLCHAIN_DIR/node" --no-audit --no-fund --silent "js-md5@$JS_MD5_VERSION"
fi
chmod -R a+rX "$TOOLCHAIN_DIR"

echo "toolchains:"
for t in g++ javac java node rustc cargo; do
  if have "$t"; then printf '  %-6s %s\n' "$t" "$("$t" --version 2>&1 | head -n1)"; else printf '  %-6s MISSING\n' "$t"; fi
done
go version 2>/dev/null | sed 's/^/  /' || true
echo "  js-md5 $TOOLCHAIN_DIR/node/node_modules/js-md5"
