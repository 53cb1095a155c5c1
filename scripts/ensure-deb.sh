#!/usr/bin/env bash
# Make a Debian package's command available: ensure-deb.sh COMMAND PACKAGE "what needs it".
# Uses the system package manager, only when running as root, and never downloads anything else;
# otherwise it says what will be skipped. Always exits 0: the tests that need COMMAND skip with a message.
cmd=$1 pkg=$2 what=$3
if command -v "$cmd" >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing Debian's $pkg for $what (apt-get)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null) \
    || echo "!! could not install $pkg: $what will be skipped" >&2
else
  echo "!! $cmd not found and cannot be installed here: $what will be skipped" >&2
fi
exit 0
