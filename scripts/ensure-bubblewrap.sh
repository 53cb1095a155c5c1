#!/usr/bin/env bash
# Debian's bubblewrap (bwrap): the homework grader runs each submission in it, and its tests need it.
exec bash "$(dirname "$0")/ensure-deb.sh" bwrap bubblewrap "the sandboxed homework tests"
