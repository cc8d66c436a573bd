#!/usr/bin/env bash
# Runs inside `xvfb-run … dbus-run-session --`: a fresh HOME, gnome-keyring unlocked
# BEFORE anything talks to org.freedesktop.secrets (see DESKTOP_FACTS §5), then the e2e.
set -euo pipefail
export XDG_RUNTIME_DIR="$(mktemp -d)"; chmod 700 "$XDG_RUNTIME_DIR"
export HOME="$(mktemp -d)"
dbus-update-activation-environment DISPLAY XDG_RUNTIME_DIR HOME
eval "$(printf %s ci-password | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL SSH_AUTH_SOCK 2>/dev/null || true
node --test --test-concurrency=1 e2e/desktop.test.mjs
