#!/usr/bin/env bash
# Debian packages EduShare needs beyond Python: gettext (translations), CJK fonts, Chromium +
# its driver (browser tests). Used by CI and mirrored in the Dockerfile. The report PDFs embed
# fonts-wqy-microhei (TrueType outlines: PDF embedding needs them, and Noto CJK's are CFF);
# fonts-noto-cjk is the face the site's pages ask for (templates/home.html) in browser tests.
# Skips quietly when everything is present; needs root (or sudo) to install.
set -euo pipefail
PACKAGES="${EDUSHARE_SYSTEM_PACKAGES:-gettext chromium chromium-driver fonts-noto-cjk fonts-wqy-microhei}"
missing=()
for p in $PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages present: $PACKAGES"
  exit 0
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
