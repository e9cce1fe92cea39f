"""A third-party plugin package to start from: what ``commonwatch new-plugin NAME`` writes.

The package's files are templates under ``core/skeleton/files/``, shipped in the wheel.
Every file there ends in ``.tmpl`` (so neither ruff, pytest nor Babel mistakes it for
the core's own code); ``@@word@@`` placeholders in file names and contents are replaced
by the plugin's names (:class:`PluginNames`). Two things are worked out when the package
is written rather than kept in the templates: the core revision the plugin's first
migration depends on (the core's head at that moment), and the compiled Welsh catalogue.
"""

from __future__ import annotations

import io
import keyword
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from alembic.script import ScriptDirectory
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

FILES = Path(__file__).parent / "files"
CORE_MIGRATIONS = Path(__file__).parent.parent / "migrations"
TEMPLATE_SUFFIX = ".tmpl"
#: Lower-case words of letters and digits joined by single underscores.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
#: Longest name: the package's code stays within the line length of Commonwatch's
#: checks, and names built from it within PostgreSQL's 63 characters.
MAX_NAME_LENGTH = 30
#: Names a plugin cannot take: ``core`` is the core's own Alembic branch and registry owner.
RESERVED_NAMES = frozenset({"core"})
PLACEHOLDER = re.compile(r"@@(\w+)@@")
CATALOGUE = Path("translations") / "cy" / "LC_MESSAGES"


class SkeletonError(ValueError):
    """The plugin cannot be written: a bad name, or its directory exists already."""


@dataclass(frozen=True)
class PluginNames:
    """Every name of a new plugin, derived from its plugin name (``bee_watch``)."""

    #: The plugin's name: entry point, prefix of everything it registers, branch label.
    name: str

    @property
    def package(self) -> str:
        """The importable package: ``commonwatch_bee_watch``."""
        return f"commonwatch_{self.name}"

    @property
    def slug(self) -> str:
        """The name with hyphens, for URLs: ``bee-watch``."""
        return self.name.replace("_", "-")

    @property
    def distribution(self) -> str:
        """The distribution (and directory) name: ``commonwatch-bee-watch``."""
        return f"commonwatch-{self.slug}"

    @property
    def title(self) -> str:
        """What people read: ``Bee Watch``."""
        return " ".join(word.capitalize() for word in self.name.split("_"))

    @property
    def model(self) -> str:
        """The model class of the plugin's table: ``BeeWatchNote``."""
        return "".join(word.capitalize() for word in self.name.split("_")) + "Note"

    @property
    def table(self) -> str:
        """The plugin's table: ``bee_watch_note``."""
        return f"{self.name}_note"


def check_name(name: str) -> PluginNames:
    """Return the names derived from ``name``, or raise :class:`SkeletonError` saying why
    ``name`` cannot be a plugin's name (it must be a lower_snake_case Python identifier
    of at most :data:`MAX_NAME_LENGTH` characters, not a keyword nor reserved)."""
    example = "for example bee_watch"
    if not NAME_PATTERN.fullmatch(name):
        raise SkeletonError(
            f"{name!r} is not a valid plugin name: use lower_snake_case, a Python identifier "
            f"of lower-case letters, digits and single underscores starting with a letter "
            f"({example})"
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise SkeletonError(f"{name!r} is not a valid plugin name: it is a Python keyword")
    if name in RESERVED_NAMES:
        raise SkeletonError(f"{name!r} is not a valid plugin name: it is reserved by the core")
    if len(name) > MAX_NAME_LENGTH:
        raise SkeletonError(
            f"{name!r} is not a valid plugin name: use at most {MAX_NAME_LENGTH} characters"
        )
    return PluginNames(name)


def core_head() -> str:
    """The revision id of the core's latest migration, read from the core's revision
    files now (so a new plugin depends on whatever the core's head is today)."""
    heads = ScriptDirectory(str(CORE_MIGRATIONS)).get_heads()
    if len(heads) != 1:
        raise SkeletonError(f"the core's migrations have {len(heads)} heads, expected one")
    return heads[0]


def _core_version() -> str:
    try:
        return metadata.version("commonwatch")
    except metadata.PackageNotFoundError:  # running from a source tree never installed
        return "0"


def placeholders(names: PluginNames) -> dict[str, str]:
    """The value of each ``@@word@@`` placeholder of the templates for ``names``; the
    migration's revision id is new (random, as Alembic makes them) on every call."""
    return {
        "name": names.name,
        "package": names.package,
        "slug": names.slug,
        "distribution": names.distribution,
        "title": names.title,
        "model": names.model,
        "table": names.table,
        "revision": uuid.uuid4().hex[:12],
        "core_head": core_head(),
        "core_version": _core_version(),
        "date": datetime.now(UTC).date().isoformat(),
    }


def _fill(text: str, values: dict[str, str], where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise SkeletonError(f"{where}: unknown placeholder {match.group(0)}")
        return values[match.group(1)]

    return PLACEHOLDER.sub(replace, text)


def _compile_catalogue(directory: Path) -> None:
    # Read the filled-in catalogue, write it back in Babel's normal form (so a msgid
    # repeated by the plugin's title appears once) and compile it.
    po_path = directory / "messages.po"
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale="cy", domain="messages")
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=88, omit_header=False, sort_output=False)
    po_path.write_bytes(buffer.getvalue())
    with (directory / "messages.mo").open("wb") as fh:
        write_mo(fh, catalog)


def write_files(names: PluginNames, destination: Path) -> list[Path]:
    """Write the plugin package for ``names`` into the existing, empty directory
    ``destination`` and compile its Welsh catalogue; return the files written."""
    values = placeholders(names)
    written = []
    for template in sorted(FILES.rglob("*" + TEMPLATE_SUFFIX)):
        relative = template.relative_to(FILES)
        target = destination / _fill(str(relative), values, str(relative))
        target = target.with_name(target.name.removesuffix(TEMPLATE_SUFFIX))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_fill(template.read_text(encoding="utf-8"), values, str(relative)),
                          encoding="utf-8")
        written.append(target)
    catalogue = destination / names.package / CATALOGUE
    _compile_catalogue(catalogue)
    written.append(catalogue / "messages.mo")
    return sorted(written)


def generate_plugin(name: str, parent: Path | str = ".") -> Path:
    """Create ``commonwatch-<name with hyphens>/`` in the existing directory ``parent``,
    holding a complete plugin package named ``name``, and return its path.

    Raises :class:`SkeletonError` (and writes nothing) when ``name`` is not a valid
    plugin name or the directory exists already. The package is written beside its
    destination first and moved into place at the end, so a failure leaves nothing
    half-written.
    """
    names = check_name(name)
    parent = Path(parent)
    if not parent.is_dir():
        raise SkeletonError(f"{parent} is not a directory")
    destination = parent / names.distribution
    if destination.exists() or destination.is_symlink():
        raise SkeletonError(
            f"{destination} already exists: choose another name or directory "
            f"(nothing was written)"
        )
    # Made with mkdir rather than mkdtemp, so the directory gets the usual permissions.
    scratch = parent / f".{names.distribution}-{uuid.uuid4().hex[:8]}"
    scratch.mkdir()
    try:
        write_files(names, scratch)
        try:
            os.rename(scratch, destination)
        except OSError as exc:
            raise SkeletonError(f"{destination} could not be created: {exc}") from exc
    finally:
        if scratch.exists():
            shutil.rmtree(scratch)
    return destination
