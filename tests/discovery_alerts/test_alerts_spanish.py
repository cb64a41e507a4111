"""An alert asked for in Spanish writes every message in Spanish (its times and dates too), whatever
language later requests speak; its pages follow the page's language."""

from __future__ import annotations

import httpx

from tests.discovery_alerts.conftest import PATIENT_EMAIL, World, body, link
from tests.english import english_words


def test_an_alert_asked_in_spanish_writes_its_confirmation_and_news_in_spanish(world: World) -> None:
    cancel_link = world.book()
    world.sync_now()
    world.clock.advance(minutes=1)
    asked = httpx.post(
        f"{world.discovery}/api/alerts",
        json={"email": PATIENT_EMAIL, "near": world.near(), "radius": "10mi", "from": "2026-11-25", "to": "2026-11-25"},
        headers={"Accept-Language": "es-MX,es;q=0.9"},
        timeout=30,
    )
    assert asked.status_code == 202, asked.text
    (confirmation,) = world.inbox.wait_for(1)
    assert confirmation["Subject"] == "Confirme su alerta de citas"
    text = body(confirmation)
    assert "Para activar la alerta, abra este enlace y pulse Confirmar" in text
    assert "24 de diciembre de 2026" in text
    assert not english_words(text.replace(world.discovery, "")), text

    # Confirmed from an English browser: the page is English, the alert stays Spanish.
    confirm = link(confirmation, "/confirm?token=")
    shown = httpx.get(confirm, headers={"Accept-Language": "en"}, timeout=30)
    assert "Start this alert?" in shown.text
    spanish_page = httpx.get(confirm, headers={"Accept-Language": "es"}, timeout=30)
    assert "¿Activar esta alerta?" in spanish_page.text
    token = confirm.split("token=")[1]
    assert httpx.post(confirm.split("?")[0], data={"token": token}, timeout=30).status_code == 200

    world.clock.advance(minutes=1)
    world.cancel(cancel_link)
    world.sync_now()
    news = world.inbox.wait_for(2, timeout=10)[1]
    assert news["Subject"].startswith("1 nuevo horario de cita:")
    text = body(news)
    assert "miércoles, 25 de noviembre, 10:00 a." in text  # the location's zone, in Spanish
    assert "Reservar: " in text
    assert "Esta alerta termina el 24 de diciembre de 2026." in text
    words = english_words(text.replace(world.discovery, "").replace("Test Health", ""))
    assert not words, (words, text)


def test_the_alert_pages_errors_speak_plainly_in_the_pages_language(world: World) -> None:
    form = {"near": world.near(), "email": "not-an-address"}
    english = httpx.post(f"{world.discovery}/alerts", data=form, timeout=30)
    assert english.status_code == 400
    assert "Please enter your e-mail address, like name@example.com." in english.text
    spanish = httpx.post(f"{world.discovery}/alerts", data=form, headers={"Accept-Language": "es"}, timeout=30)
    assert spanish.status_code == 400
    assert "Escriba su dirección de correo electrónico" in spanish.text
    assert "parameter" not in spanish.text
