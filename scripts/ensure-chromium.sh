#!/usr/bin/env bash
# Debian's chromium for the browser tests (never a browser download of its own).
exec bash "$(dirname "$0")/ensure-deb.sh" chromium chromium "the browser test"
