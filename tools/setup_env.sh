#!/usr/bin/env bash
# Create (or bring up to date) the project's virtual environment.
#
# Idempotent: a stamp file records a hash of the requirement files and of this
# script; when it matches, the script exits at once.  mmcv 2.1.0 is built from
# its source release with its C++ ops (about 9 minutes on 2 cores) once, and
# the wheel is cached OUTSIDE the clone, so fresh clones (CI) reuse it:
#   ${AL_PLUGIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/al_plugin}
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
CACHE=${AL_PLUGIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/al_plugin}
TORCH_VERSION=2.13.0
MMCV_VERSION=2.1.0
MMDET_VERSION=3.3.0
# torch 2.13 needs setuptools >= 77.0.3; mmcv's setup.py imports pkg_resources,
# which setuptools >= 81 no longer ships.
BUILD_DEPS=("setuptools>=77.0.3,<81" wheel ninja numpy==2.4.6)

stamp_of() {
    cat tools/setup_env.sh requirements/*.txt setup.cfg | sha256sum | cut -c1-16
}
STAMP="$VENV/.al_plugin-env-$(stamp_of)"
if [ -f "$STAMP" ]; then
    exit 0
fi

echo "[setup_env] creating $VENV (cache: $CACHE)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install "torch==$TORCH_VERSION" "${BUILD_DEPS[@]}"

mkdir -p "$CACHE"
wheel=$(ls "$CACHE"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
    echo "[setup_env] building mmcv $MMCV_VERSION with ops (about 9 min on 2 cores)"
    tmp=$(mktemp -d "$CACHE/build.XXXXXX")
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} "${PIP[@]}" wheel --no-deps \
        --no-build-isolation "mmcv==$MMCV_VERSION" -w "$tmp"
    built=$(ls "$tmp"/mmcv-*.whl)
    mv "$built" "$CACHE/"            # same file system: atomic
    rm -rf "$tmp"
    wheel="$CACHE/$(basename "$built")"
fi
"${PIP[@]}" install -r requirements/runtime.txt -r requirements/tests.txt
"${PIP[@]}" install --no-deps "$wheel" "mmdet==$MMDET_VERSION"
"${PIP[@]}" install --no-deps --no-build-isolation -e .
"$VENV/bin/python" -c "import mmcv.ops, mmdet, al_plugin; print('[setup_env] ok: mmcv', mmcv.__version__, 'mmdet', mmdet.__version__)"
rm -f "$VENV"/.al_plugin-env-*
touch "$STAMP"
