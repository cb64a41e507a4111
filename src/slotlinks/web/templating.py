"""The Jinja2 set-up every server-rendered page shares (the portal, the staff pages, the discovery
client): autoescaping on for every template and undefined names as errors, so a page can neither
emit unescaped input nor silently render a missing value; and the `tel` filter for `tel:` links."""

from __future__ import annotations

import re

from jinja2 import Environment, PackageLoader, StrictUndefined

__all__ = ["page_templates", "tel_digits"]

_NOT_DIALLED = re.compile(r"[^0-9+]")


def tel_digits(phone: object) -> str:
    """A phone number as a `tel:` URL takes it: ASCII digits and `+` only."""
    return _NOT_DIALLED.sub("", str(phone))


def page_templates(package: str) -> Environment:
    """The environment for the templates in `package`'s `templates` folder."""
    env = Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tel"] = tel_digits
    return env
