"""Every message a patient can meet has its Spanish translation, and every translation is of a
message still in use (`web.i18n`).

The messages are extracted from each package's templates and Python code as Babel would
(`{% trans %}`, `_()`, `N_()`); a gap fails with the missing entries written as `.po` text, ready to
translate into the package's catalogue.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import slotlinks

PACKAGES = ("slotlinks.web", "slotlinks.discovery", "slotlinks.provider")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}


def _folder(package: str) -> Path:
    return Path(str(resources.files(package)))


def extracted(package: str) -> dict[str, list[str]]:
    """Each message `package` marks, with where it is (`file:line`)."""
    found: dict[str, list[str]] = {}
    for filename, line, message, _comments, _context in extract_from_dir(
        _folder(package), METHODS, keywords=KEYWORDS, options_map=OPTIONS, strip_comment_tags=True
    ):
        ids = message if isinstance(message, tuple) else (message,)
        if ids and ids[0]:
            found.setdefault(ids[0], []).append(f"{filename}:{line}")
    return found


def catalogue(package: str, language: str) -> Catalog:
    """Every `.po` of `package`'s folder for `language`, as one catalogue."""
    merged = Catalog(locale=language)
    folder = _folder(package) / "locale" / language / "LC_MESSAGES"
    for path in sorted(folder.glob("*.po")) if folder.is_dir() else []:
        with path.open("rb") as text:
            for message in read_po(text, locale=language):
                if message.id:
                    merged[message.id] = message
    return merged


def _po(message: str, places: list[str]) -> str:
    quoted = message.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'#: {" ".join(places[:3])}\nmsgid "{quoted}"\nmsgstr ""\n'


@pytest.mark.parametrize("package", PACKAGES)
def test_every_message_has_its_spanish_translation(package: str) -> None:
    spanish = catalogue(package, "es")
    missing = [
        _po(message, places)
        for message, places in sorted(extracted(package).items())
        if message not in spanish
        or spanish[message].fuzzy
        or not all(spanish[message].string if isinstance(spanish[message].string, tuple) else [spanish[message].string])
    ]
    assert not missing, f"{package}: {len(missing)} messages lack a Spanish translation:\n\n" + "\n".join(missing)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_translation_is_of_a_message_in_use(package: str) -> None:
    in_use = extracted(package)
    # A plural's id is its (singular, plural) pair; it is extracted under its singular.
    ids = [message.id[0] if isinstance(message.id, tuple) else message.id for message in catalogue(package, "es")]
    unused = sorted(message for message in ids if message and message not in in_use)
    assert not unused, f"{package}: translations of messages no longer in use: {unused}"


@pytest.mark.parametrize("package", PACKAGES)
def test_translations_keep_the_named_values(package: str) -> None:
    """A translation names the same `%(value)s`s as its message, or the page would fail or lose them."""
    named = re.compile(r"%\((\w+)\)s")
    wrong = []
    for message in catalogue(package, "es"):
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(named.findall(ids[0]))
        wrong += [(ids[0], s) for s in strings if set(named.findall(s)) != wanted]
    assert not wrong, wrong


def test_the_packages_checked_are_those_with_pages() -> None:
    with_pages = {
        f"slotlinks.{path.parent.relative_to(Path(slotlinks.__file__).parent)}".replace("/", ".")
        for path in Path(slotlinks.__file__).parent.rglob("templates")
    }
    assert with_pages <= set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_each_message_is_translated_in_one_file_only(package: str) -> None:
    """A message two areas share is translated once, so the two can never drift apart."""
    folder = _folder(package) / "locale" / "es" / "LC_MESSAGES"
    seen: dict[str, str] = {}
    twice = []
    for path in sorted(folder.glob("*.po")) if folder.is_dir() else []:
        with path.open("rb") as text:
            for message in read_po(text, locale="es"):
                key = message.id[0] if isinstance(message.id, tuple) else message.id
                if key and key in seen:
                    twice.append((key, seen[key], path.name))
                elif key:
                    seen[key] = path.name
    assert not twice, twice


@pytest.mark.parametrize("package", PACKAGES)
def test_every_file_of_a_catalogue_counts_plurals_alike(package: str) -> None:
    """The files of a catalogue are merged into one, which keeps one plural rule: a file counting
    otherwise would pick forms its neighbours do not have (and show English)."""
    folder = _folder(package) / "locale" / "es" / "LC_MESSAGES"
    rules = set()
    for path in sorted(folder.glob("*.po")) if folder.is_dir() else []:
        with path.open("rb") as text:
            rules.add(read_po(text, locale="es").plural_forms)
    assert rules <= {"nplurals=2; plural=(n != 1);"}, rules
