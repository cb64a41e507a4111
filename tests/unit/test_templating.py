"""Every page of both servers shows publishers' text without bidirectional controls or invisible
characters, and still escapes it."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from slotlinks.web.templating import page_templates, visible_text


@pytest.mark.parametrize("package", ["slotlinks.provider", "slotlinks.discovery"])
def test_every_printed_value_is_shown_as_it_reads(package: str) -> None:
    template = page_templates(package).from_string('<p title="{{ name }}">{{ name }} · {{ count }}</p>')
    html = template.render(name="<b>Clinic</b> \u202egnp.exe\u202c\u200b\u2066\ufeff", count=3)
    assert html == '<p title="&lt;b&gt;Clinic&lt;/b&gt; gnp.exe">&lt;b&gt;Clinic&lt;/b&gt; gnp.exe · 3</p>'


def test_text_keeps_its_letters_and_markup_stays_markup() -> None:
    assert visible_text("Clínica San José") == "Clínica San José"
    assert visible_text("عيادة\u200f") == "عيادة"
    assert visible_text(None) is None
    shown = visible_text(Markup("<em>a\u200bb</em>"))
    assert isinstance(shown, Markup)
    assert shown == Markup("<em>ab</em>")
