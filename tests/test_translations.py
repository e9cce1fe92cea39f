"""Every page is bilingual: each message in the code has a Welsh translation."""

import gettext
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).parent.parent
CY = ROOT / "core" / "translations" / "cy" / "LC_MESSAGES"


def test_every_message_has_a_welsh_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "lazy_gettext", "-k", "_l", "-o", str(pot), "--no-location", "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    wanted = {m.id for m in read_po(pot.open("rb")) if m.id}
    assert len(wanted) > 250  # the extraction really read the code and templates
    catalogue = read_po((CY / "messages.po").open("rb"))
    missing = sorted(
        str(m) for m in wanted
        if m not in catalogue or not catalogue[m].string
        or (not isinstance(catalogue[m].string, str) and not all(catalogue[m].string))
    )
    assert not missing, "untranslated (run `make translations` and translate): " + repr(missing)


def test_the_compiled_catalogue_matches_the_po_file():
    catalogue = read_po((CY / "messages.po").open("rb"))
    compiled = gettext.GNUTranslations((CY / "messages.mo").open("rb"))
    for message in catalogue:
        if message.id and isinstance(message.id, str) and not message.fuzzy:
            assert compiled.gettext(message.id) == message.string, (
                f"{message.id!r}: messages.mo is stale; run `make translations`")
