#!/usr/bin/env bash
# Install vislang and its development tools into the active Python environment.
# torch is installed first, pinned to the CPU build; the project's own range admits it,
# so the second step does not replace it with a large CUDA build.
set -euo pipefail
cd "$(dirname "$0")"
python -m pip install "torch==2.13.0"
python -m pip install -e ".[dev]"
