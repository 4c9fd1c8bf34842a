#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those missing. Idempotent.
#   chromium          headless browser for the end-to-end tests (driven by Playwright)
#   poppler-utils     pdftotext / pdffonts / pdftoppm: the tests read the PDFs we generate
#   fonts-wqy-microhei  TrueType CJK font embedded (subset) in the PDFs
#   libpango*         WeasyPrint's text layout
#   postgresql-client pg_dump / pg_restore for the form server's backup command on PostgreSQL
#   wrk               HTTP load generator for `make bench` (form server throughput)
#   python3-venv      Debian's optimised python3 makes the virtualenv (see PYTHON in the Makefile)
set -euo pipefail
packages=(chromium poppler-utils fonts-wqy-microhei libpango-1.0-0 libpangoft2-1.0-0 fontconfig postgresql-client wrk python3-venv)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "==> Debian packages: all present (${packages[*]})"
  exit 0
fi
echo "==> Installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
