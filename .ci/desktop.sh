#!/usr/bin/env bash
# The desktop part of CI: system packages, tauri-driver, the UI build, the Rust shell tests
# (bindings current + IPC), the debug app, and the GUI end-to-end run under Xvfb with a
# private D-Bus session and an unlocked gnome-keyring. Self-contained and idempotent;
# `.ci/run` calls `bash .ci/desktop.sh`. Artifacts (screenshots, logs): target/e2e-artifacts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
T0=$SECONDS
step() { echo "== desktop: $* ($((SECONDS - T0)) s)"; }

step "system packages"
PKGS=(build-essential pkg-config file curl libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev
  libjavascriptcoregtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libssl-dev
  xvfb xauth dbus dbus-x11 at-spi2-core webkit2gtk-driver gnome-keyring libsecret-tools keyutils
  imagemagick python3-openpyxl nodejs npm)
MISSING=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || MISSING+=("$p"); done
# nodejs/npm may come from elsewhere (e.g. a preinstalled Node); only install what is absent.
if command -v node >/dev/null && command -v npm >/dev/null; then
  MISSING=($(printf '%s\n' "${MISSING[@]}" | grep -vx -e nodejs -e npm || true))
fi
if ((${#MISSING[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${MISSING[@]}"
fi

step "tauri-driver"
export PATH="$HOME/.cargo/bin:$PATH"
command -v tauri-driver >/dev/null || cargo install tauri-driver --locked

step "ui: npm ci + vite build"
# `npm ci` refuses this registry's lock (npm 11 records only this platform's rollup/esbuild
# optional packages); then install from the same lock without rewriting it.
( cd ui && { npm ci --no-audit --no-fund --loglevel=error 2>/dev/null || npm install --no-save --no-audit --no-fund --loglevel=error; } && npm run build )

if [ -z "${CROSSWALK_CI_SHELL_TESTS_DONE:-}" ]; then
  step "cargo test -p crosswalk-desktop (bindings current, IPC through mock runtime)"
  cargo test -p crosswalk-desktop
fi

step "cargo build (app + simulator)"
cargo build -p crosswalk-desktop -p crosswalk-simulators

step "GUI end-to-end under Xvfb + D-Bus + gnome-keyring"
export ARTIFACTS="$ROOT/target/e2e-artifacts"
rm -rf "$ARTIFACTS"; mkdir -p "$ARTIFACTS"
export APP_BIN="$ROOT/target/debug/crosswalk-desktop" SIM_BIN="$ROOT/target/debug/crosswalk-sim"
xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash e2e/session.sh
step "done; screenshots in $ARTIFACTS"
