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

cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked "$@"
