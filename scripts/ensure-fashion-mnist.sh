#!/usr/bin/env bash
# Debian's dataset-fashion-mnist: the four FashionMNIST IDX files in /usr/share/datasets/fashion-mnist/, read offline
# by regviz.load_dataset("fashion_mnist"). Installed with apt-get when root; otherwise the chapters say where they looked.
dir=/usr/share/datasets/fashion-mnist
if [ -f "$dir/t10k-labels-idx1-ubyte.gz" ] || [ -f "$dir/t10k-labels-idx1-ubyte" ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing Debian's dataset-fashion-mnist for the FashionMNIST chapters (apt-get)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
    || echo "!! could not install dataset-fashion-mnist: set REGVIZ_DATA to a folder with the four IDX files" >&2
else
  echo "!! FashionMNIST not in $dir and apt-get is not usable here: set REGVIZ_DATA to a folder with the four IDX files" >&2
fi
exit 0
