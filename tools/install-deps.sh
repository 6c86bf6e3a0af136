#!/bin/sh
# install-deps.sh - make sure the Debian packages memfab builds with are present.
# Checks pkg-config for each library; when something is missing, installs the
# packages with apt-get if running as root, otherwise prints the exact command.
# Environment: PKGS (pkg-config names), DEB_PACKAGES (Debian package names).
missing=""
command -v pkg-config >/dev/null 2>&1 || missing="pkg-config"
command -v cc >/dev/null 2>&1 || missing="$missing cc"
for p in $PKGS; do
    pkg-config --exists "$p" 2>/dev/null || missing="$missing $p"
done
command -v gnuplot >/dev/null 2>&1 || missing="$missing gnuplot"
[ -z "$missing" ] && exit 0
echo "memfab: missing:$missing" >&2
if [ "$(id -u)" = 0 ]; then
    echo "memfab: installing Debian packages: $DEB_PACKAGES" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq $DEB_PACKAGES >/dev/null || {
        echo "memfab: apt-get install failed" >&2; exit 1; }
else
    echo "memfab: run this, then try again:" >&2
    echo "  sudo apt-get install -y $DEB_PACKAGES" >&2
    exit 1
fi
