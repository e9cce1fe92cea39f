"""Keep docs/plugin_hooks.md in step with the hookspec docstrings of core/hookspecs.py.

Each hook has a section ``## <hook name>`` in the reference. Right after that title, the
generator puts the hookspec's docstring, dedented and verbatim, as a block quote
between two marker comments::

    <!-- hookspec:commonwatch_watch_types -->
    **What the core promises** (its docstring in `core/hookspecs.py`):

    > Return the watch types (interests) this plugin contributes.
    <!-- /hookspec -->

Everything outside the markers is written by hand and left alone. Run it with
``python -m core.hookdocs`` (or ``make hook-docs``) after changing a hookspec:
it rewrites the reference in place, and reports hooks that have no section (it adds
none) and marked blocks of hooks that no longer exist (it removes them). With
``--check`` it changes nothing and fails when the file is out of step.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core import hookspecs

DOCS = Path(__file__).parent.parent / "docs" / "plugin_hooks.md"
HOOK_PREFIX = "commonwatch_"
HEADING = "**What the core promises** (its docstring in `core/hookspecs.py`):"
END_MARKER = "<!-- /hookspec -->"
#: A generated block, with the blank line that follows it.
BLOCK = re.compile(r"<!-- hookspec:(?P<name>[^ ]+) -->\n.*?<!-- /hookspec -->\n\n?", re.DOTALL)


@dataclass
class Rendered:
    """The reference as the generator would write it, and what it could not do."""

    text: str
    #: Hooks in core/hookspecs.py without a ``## <name>`` section (no block was added).
    missing: list[str] = field(default_factory=list)
    #: Hooks whose marked block was removed because core/hookspecs.py no longer has them.
    removed: list[str] = field(default_factory=list)


def hook_docstrings(module: types.ModuleType = hookspecs) -> dict[str, str]:
    """Every hookspec of ``module`` (functions named ``commonwatch_...``) in the order
    they are defined, mapped to its docstring dedented with :func:`inspect.cleandoc`
    (an empty string for a hookspec without one)."""
    specs = [
        obj for name, obj in vars(module).items()
        if name.startswith(HOOK_PREFIX) and inspect.isfunction(obj)
        and obj.__module__ == module.__name__
    ]
    specs.sort(key=lambda spec: spec.__code__.co_firstlineno)
    return {spec.__name__: inspect.cleandoc(spec.__doc__ or "") for spec in specs}


def block(name: str, docstring: str) -> str:
    """The marked block for hook ``name``: a heading and ``docstring`` as a block quote,
    each line kept as it is (blank lines become a bare ``>``)."""
    quoted = "\n".join(f"> {line}".rstrip() for line in docstring.splitlines())
    return f"<!-- hookspec:{name} -->\n{HEADING}\n\n{quoted}\n{END_MARKER}\n"


def render(doc: str, docstrings: Mapping[str, str]) -> Rendered:
    """``doc`` with every marked block removed, then a fresh block for each hook of
    ``docstrings`` placed after its ``## <name>`` title and a blank line.

    Rendering its own output again gives the same text."""
    removed = sorted({m["name"] for m in BLOCK.finditer(doc)} - set(docstrings))
    text = BLOCK.sub("", doc)
    missing = []
    for name, docstring in docstrings.items():
        title = re.compile(rf"^## {re.escape(name)}[ \t]*\n(?:[ \t]*\n)?", re.MULTILINE)
        found = list(title.finditer(text))
        if not found:
            missing.append(name)
            continue
        end = found[0].end()
        heading = found[0].group(0).rstrip("\n")
        # Exactly one blank line after the title, then the block and a blank line.
        text = text[: found[0].start()] + f"{heading}\n\n{block(name, docstring)}\n" + text[end:]
    return Rendered(text, missing, removed)


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite the hook reference in place (or, with ``--check``, only compare); report
    hooks without a section and removed blocks on standard error. Returns the exit
    status: 0 when every hook has a section (and, with ``--check``, the file is in
    step), 1 otherwise."""
    parser = argparse.ArgumentParser(
        prog="python -m core.hookdocs",
        description="Put each hookspec's docstring into its section of the hook reference.",
    )
    parser.add_argument("--check", action="store_true",
                        help="Change nothing; fail when the file is out of step.")
    parser.add_argument("--file", type=Path, default=DOCS, help="The hook reference.")
    args = parser.parse_args(argv)
    doc = args.file.read_text(encoding="utf-8")
    result = render(doc, hook_docstrings())
    for name in result.missing:
        print(f"{args.file}: no section '## {name}' for hook {name}", file=sys.stderr)
    for name in result.removed:
        print(f"{args.file}: removed the block of {name}, which is no longer a hook",
              file=sys.stderr)
    if args.check:
        if result.text != doc:
            print(f"{args.file} is out of step with core/hookspecs.py: run make hook-docs",
                  file=sys.stderr)
            return 1
    elif result.text != doc:
        args.file.write_text(result.text, encoding="utf-8")
        print(f"rewrote {args.file}", file=sys.stderr)
    return 1 if result.missing else 0


if __name__ == "__main__":
    sys.exit(main())
