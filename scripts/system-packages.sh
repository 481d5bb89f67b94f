#!/usr/bin/env bash
# Debian packages the tests drive for real, by group (default: browser):
#   browser  headless Chromium opens the HTML report;
#   slurm    a single-node SLURM with accounting (scripts/slurm-local.sh runs it): slurmctld,
#            slurmd and the client tools (what the slurm-wlm metapackage pulls in), slurmdbd,
#            munge, and MariaDB for slurmdbd's accounting database.
#   scripts/system-packages.sh [browser] [slurm] ...
# Installs only what is missing (judged by each package's command); needs root (CI runs as
# root) or sudo. scripts/slurm-local.sh runs daemons of its own, on its own sockets and ports,
# whether or not apt started the packages' services.
set -euo pipefail

groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(browser)

declare -A COMMAND_OF=()
for group in "${groups[@]}"; do
    case "$group" in
        browser) COMMAND_OF+=([chromium]=chromium) ;;
        slurm) COMMAND_OF+=(
            [slurmctld]=slurmctld [slurmd]=slurmd [slurm-client]=sbatch [slurmdbd]=slurmdbd
            [munge]=munged [mariadb-server]=mariadbd) ;;
        *) echo "system-packages: unknown group '$group' (known: browser, slurm)" >&2; exit 2 ;;
    esac
done

# Daemons live in /usr/sbin, which a non-root PATH may lack.
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
missing=()
for package in "${!COMMAND_OF[@]}"; do
    have "${COMMAND_OF[$package]}" || missing+=("$package")
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
