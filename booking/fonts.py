"""The CJK font that report PDFs embed, found on this machine.

PDF files must carry their fonts: a reader without Chinese fonts would show empty boxes. The
font must have TrueType (glyf) outlines: reportlab and matplotlib's PDF backend embed only
those, so Noto Sans CJK (OpenType with CFF outlines, Debian's fonts-noto-cjk) does not do.
Debian's fonts-wqy-microhei (WenQuanYi Micro Hei, a sans-serif face with Latin glyphs too) is
the one the project installs (scripts/system-packages.sh, Dockerfile); a few other TrueType
CJK fonts are accepted when present.
"""

from __future__ import annotations

import functools
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

CJK_FONT_PACKAGE = "fonts-wqy-microhei"

# (path, face index inside a .ttc collection), best first.
CJK_FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),  # fonts-wqy-microhei
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),  # fonts-wqy-zenhei
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),  # fonts-droid-fallback
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),  # fonts-arphic-uming
)


class CJKFontMissing(ImproperlyConfigured):
    pass


@functools.cache
def cjk_font() -> tuple[Path, int]:
    """(path, face index) of the first installed TrueType CJK font. Raises CJKFontMissing."""
    for path, index in CJK_FONT_CANDIDATES:
        if Path(path).is_file():
            return Path(path), index
    raise CJKFontMissing(
        f"No TrueType CJK font for report PDFs: install the Debian package {CJK_FONT_PACKAGE} "
        f"(scripts/system-packages.sh does). Looked for: {', '.join(p for p, _i in CJK_FONT_CANDIDATES)}."
    )


def cjk_font_path() -> Path:
    """The installed TrueType CJK font file (see cjk_font). Raises CJKFontMissing."""
    return cjk_font()[0]
