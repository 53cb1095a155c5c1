#!/usr/bin/env bash
# Make Debian's chromium available for the browser tests. Never downloads a browser build of its own:
# it uses the system package manager, and only when running as root. Otherwise the browser test skips
# with a message saying how to install chromium.
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing Debian's chromium for the browser test (apt-get)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "!! could not install chromium: the browser test will be skipped" >&2
else
  echo "!! chromium not found and cannot be installed here: the browser test will be skipped" >&2
fi
exit 0
