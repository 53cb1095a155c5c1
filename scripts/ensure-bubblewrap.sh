#!/usr/bin/env bash
# Make Debian's bubblewrap (bwrap) available: the homework grader runs each submission in it, and its tests
# need it. Uses the system package manager, and only when running as root. Otherwise the sandboxed
# homework tests skip with a message saying how to install bubblewrap.
if command -v bwrap >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing Debian's bubblewrap for the homework sandbox (apt-get)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null) \
    || echo "!! could not install bubblewrap: the sandboxed homework tests will be skipped" >&2
else
  echo "!! bubblewrap not found and cannot be installed here: the sandboxed homework tests will be skipped" >&2
fi
exit 0
