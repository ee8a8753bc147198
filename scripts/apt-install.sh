#!/bin/sh
# Install the Debian packages given as arguments, but only those that are not installed yet.
# `apt-get update` runs once, and only when something is missing. Needs root (or sudo).
set -eu
exec 1>&2   # progress on stderr (keeps `eval "$(make -s env)"` clean)
missing=""
for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "apt: installing${missing}"
$sudo apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
