#!/usr/bin/env bash
# Makes every icon size Tauri and the bundles need from icons/source.svg (rsvg-convert from librsvg2-bin, Debian imagemagick
# + librsvg). tauri-build wants RGBA PNGs (PNG32). macOS .icns: run `cargo tauri icon
# icons/icon.png` once tauri-cli is installed (ImageMagick cannot write .icns).
set -euo pipefail
cd "$(dirname "$0")"
CONVERT=/usr/bin/convert
rsvg-convert -w 1024 -h 1024 source.svg -o icon-1024.png
for s in 32 64 128 256 512; do $CONVERT icon-1024.png -resize ${s}x${s} PNG32:${s}x${s}.png; done
cp 256x256.png 128x128@2x.png
cp 512x512.png icon.png
$CONVERT icon-1024.png -resize 22x22 PNG32:tray.png
$CONVERT icon-1024.png -define icon:auto-resize=256,128,64,48,32,16 icon.ico
rm icon-1024.png
