"""The search page in a real headless Chromium (Debian's), against a real server and the real
model: a Dutch and an English question, the answer highlighted, the article opened in place."""

import os
from pathlib import Path

import pytest

from indexer.index.directory import IndexDirectory
from search.searcher import Searcher
from cli.server.app import create_app
from cli.server.settings import ServerSettings
from tests.server import running

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def site(real_index, real_embedder):
    app = create_app(ServerSettings(index_dir=real_index),
                     Searcher(IndexDirectory(real_index), real_embedder))
    with running(app) as url:
        yield url


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    page.goto(site + "/")
    yield page
    context.close()


def ask(page, question):
    page.get_by_label("Vraag / question").fill(question)
    page.keyboard.press("Enter")  # the form works from the keyboard
    page.locator("#results li .passage").first.wait_for()


def test_dutch_question_highlights_the_answer(page):
    ask(page, "Wat zei Poetin over Navalny?")
    first = page.locator("#results li").first
    assert "opsluiting van de belangrijkste oppositiepoliticus" in first.locator("mark.snippet").inner_text()
    assert "Navalny" in first.locator("b").all_inner_texts()
    assert "2021-06" in first.locator(".meta").first.inner_text()


def test_the_quote_and_its_speaker_are_marked(page):
    ask(page, "what did Biden say about cyber")
    first = page.locator("#results li").first
    asked = first.locator("q.quote.asked")
    assert asked.count() >= 1
    assert asked.first.get_attribute("title") == "citaat van Joe Biden"
    assert first.locator(".speakers .speaker-name.asked").first.inner_text() == "Joe Biden"


def test_english_question_and_open_the_article(page):
    ask(page, "how long did the Geneva meeting last")
    first = page.locator("#results li").first
    assert "3 uur en 21 minuten" in first.locator("mark.snippet").inner_text()
    first.get_by_role("link", name="Open het artikel met deze passage").click()
    mark = page.locator("#article mark")
    mark.first.wait_for()
    assert "3 uur en 21 minuten" in " ".join(mark.all_inner_texts())
    assert page.evaluate("document.activeElement.id") == "passage"
    assert mark.first.is_visible()


def test_date_filter(page):
    page.locator("summary").click()
    page.get_by_label("Vanaf / since").fill("2021-12")
    ask(page, "Wat bespraken Biden en Poetin?")
    dates = page.locator("#results li .meta").all_inner_texts()
    assert dates and all("2021-12" in d for d in dates)
    assert "dates: from December 2021 on (from --since/--until)" in page.locator("#status").inner_text()


def test_every_control_has_a_label(page):
    unlabeled = page.evaluate("""[...document.querySelectorAll('input, select')]
        .filter(el => !document.querySelector(`label[for="${el.id}"]`)).map(el => el.id)""")
    assert unlabeled == []
    assert page.locator("html").get_attribute("lang") == "nl"


def test_screenshots(browser, site, tmp_path):
    """docs/screenshot-*.png come from here: `make screenshots` sets VRAAGBAAK_SCREENSHOTS=docs."""
    folder = Path(os.environ.get("VRAAGBAAK_SCREENSHOTS", tmp_path))
    for name, viewport in (("desktop", {"width": 1000, "height": 1100}),
                           ("phone", {"width": 390, "height": 844})):
        context = browser.new_context(viewport=viewport, device_scale_factor=1)
        page = context.new_page()
        page.goto(site + "/")
        ask(page, "Wat zei Poetin over Navalny?")
        page.screenshot(path=str(folder / f"screenshot-{name}.png"))
        context.close()
        assert (folder / f"screenshot-{name}.png").stat().st_size > 10_000
    # a phone-wide page must not scroll sideways
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(site + "/")
    ask(page, "Wat zei Poetin over Navalny?")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()
