#!/usr/bin/env bash
# Installs what livegen needs on Debian 12, once: Debian packages for the model code and the npm
# packages. Run by `npm start` and `npm test` before they do anything; fast when all is present.
set -euo pipefail
cd "$(dirname "$0")/.."

# Model code: PyTorch and ONNX with a fast BLAS. Native addons: a C++ toolchain and libvpx.
# The browser client's tests: Chromium.
debian_packages=(python3-torch python3-onnx python3-numpy python3-scipy python3-pil libopenblas0-openmp
  g++ make python3 pkg-config libvpx-dev chromium)

missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci again only when package-lock.json changed since the last install.
stamp=node_modules/.livegen-lock
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing npm packages"
  npm_config_nodedir="${npm_config_nodedir:-/usr}" npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# The libvpx addon again when its sources are newer than its build.
addon=native/build/Release/livegen_native.node
if [ ! -f "$addon" ] || [ -n "$(find native/src native/binding.gyp -newer "$addon" 2>/dev/null | head -1)" ]; then
  echo "setup: building the libvpx addon (native/)"
  npm_config_nodedir="${npm_config_nodedir:-/usr}" npm rebuild livegen-native --loglevel=error
fi

# The browser client again when its sources are newer than its bundle.
page=client/dist/index.html
if [ ! -f "$page" ] || [ -n "$(find client/src client/index.html client/build.ts -newer "$page" 2>/dev/null | head -1)" ]; then
  echo "setup: building the browser client (client/)"
  npm run --silent build:client
fi
