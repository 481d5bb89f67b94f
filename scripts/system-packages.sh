#!/usr/bin/env bash
# Debian packages the tests drive for real: headless Chromium opens the HTML report.
# Installs only what is missing; needs root (CI runs as root) or sudo.
set -euo pipefail

declare -A COMMAND_OF=([chromium]=chromium)
missing=()
for package in "${!COMMAND_OF[@]}"; do
    command -v "${COMMAND_OF[$package]}" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    run=()
elif command -v sudo >/dev/null 2>&1; then
    run=(sudo)
else
    echo "system-packages: ${missing[*]} missing and neither root nor sudo: install them with apt-get" >&2
    exit 1
fi
echo "system-packages: installing ${missing[*]}" >&2
"${run[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
