#!/usr/bin/env bash
# Installs the Debian 12 packages fundledger builds and tests with, only those that are missing.
set -euo pipefail
packages=(build-essential cmake pkg-config librocksdb-dev libcapnp-dev capnproto libssl-dev openssl
          libspdlog-dev libfmt-dev libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev
          libicu-dev libxlsxwriter-dev zlib1g-dev libcairo2-dev libpango1.0-dev fonts-noto-cjk
          hledger poppler-utils python3-openpyxl
          # The sanitizer and fuzz build (build-asan/): clang, its ASan/UBSan/libFuzzer runtimes,
          # llvm-symbolizer for readable reports, ccache so rebuilds of both builds are cheap.
          clang libclang-rt-14-dev llvm ccache)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
