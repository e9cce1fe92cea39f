"""Every page is bilingual: each message in the code has a Welsh translation."""

import gettext
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).parent.parent
CY = ROOT / "core" / "translations" / "cy" / "LC_MESSAGES"


#: The core's catalogue, then each shipped plugin's own: (directory, babel config, where
#: its messages are extracted from).
CATALOGUES = [
    pytest.param(ROOT / "core" / "translations", "babel.cfg", ROOT, id="core"),
    *(pytest.param(p / "translations", "babel-plugin.cfg", p, id=p.name)
      for p in sorted((ROOT / "plugins").iterdir()) if (p / "__init__.py").is_file()),
]


@pytest.mark.parametrize(("directory", "config", "source"), CATALOGUES)
def test_every_message_has_a_welsh_translation(tmp_path, directory, config, source):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
         str(ROOT / config), "-k", "lazy_gettext", "-k", "_l", "-o", str(pot),
         "--no-location", "."],
        cwd=source, check=True, capture_output=True,
    )
    wanted = {m.id for m in read_po(pot.open("rb")) if m.id}
    if source == ROOT:
        assert len(wanted) > 250  # the extraction really read the code and templates
    elif not wanted:
        pytest.skip(f"{source.name} has no messages to translate")
    assert (directory / "cy" / "LC_MESSAGES" / "messages.po").is_file(), (
        f"{directory} has no Welsh catalogue: every plugin ships its own")
    catalogue = read_po((directory / "cy" / "LC_MESSAGES" / "messages.po").open("rb"))
    missing = sorted(
        str(m) for m in wanted
        if m not in catalogue or not catalogue[m].string
        or (not isinstance(catalogue[m].string, str) and not all(catalogue[m].string))
    )
    assert not missing, "untranslated (run `make translations` and translate): " + repr(missing)


@pytest.mark.parametrize(("directory", "config", "source"),
                         [c for c in CATALOGUES if c.values[0].is_dir()])
def test_the_compiled_catalogue_matches_the_po_file(directory, config, source):
    cy = directory / "cy" / "LC_MESSAGES"
    catalogue = read_po((cy / "messages.po").open("rb"))
    compiled = gettext.GNUTranslations((cy / "messages.mo").open("rb"))
    for message in catalogue:
        if message.id and isinstance(message.id, str) and not message.fuzzy:
            assert compiled.gettext(message.id) == message.string, (
                f"{message.id!r}: messages.mo is stale; run `make translations`")
