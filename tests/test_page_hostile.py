"""The search page in Chromium with articles that trip up a browser: characters beyond U+FFFF
before the highlighted words (the API counts code points, JavaScript UTF-16 units), and ids the
browser would resolve as paths ("nos/../2021/1"). The fake model is enough: the page is tested."""

from urllib.parse import quote

import httpx
import pytest

from indexer.write.chunking import ParagraphChunker
from indexer.records import Document
from indexer.write.loading import LoadResult
from indexer.index.directory import IndexDirectory
from indexer.write.pipeline import update_index
from search.searcher import Searcher
from cli.server.app import create_app
from cli.server.settings import ServerSettings
from tests.fakes import FakeEmbedder
from tests.server import running

ASTRAL = "😀" * 12 + " 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🇳🇱"  # 23 code points, 44 UTF-16 units
EMOJI_TEXT = (f"{ASTRAL} Een inleiding over niets in het bijzonder, met 𝔘 en 🎉 erin.\n\n"
              f"{ASTRAL} De Tweede Kamer stemde vandaag over de klimaatwet van minister Jetten. "
              f"🎉🎉 Na de klimaatwet ging 𝔘𝔫𝔦 naar huis.\n\n{ASTRAL} Slot.")
QUESTION = "klimaatwet Jetten"
QUOTE_TEXT = "😀😀 𝔘𝔫𝔦 🇳🇱 Minister Kaag zei: \"De windwet komt er.\""  # fits one passage
# Each title says which id it belongs to, so a page showing another article is caught.
IDS = ["2021/1", "nos/2021/1", "nos/../2021/1", "nos/./2021/1", "nos/%2E%2E/2021/1",
       "a%2Fb", "vraag?x=1#y", "../x"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "idx"
    embedder = FakeEmbedder()
    docs = [Document("emoji/1", EMOJI_TEXT, title="Emoji", date="2021-07-01"),
            Document("emoji/2", QUOTE_TEXT, title="Citaat", date="2021-07-02")]
    docs += [Document(i, f"Artikel met id {i}.", title=f"Titel van {i}") for i in IDS]
    update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder, max_tokens=24),
                 LoadResult(documents=docs))
    with running(create_app(ServerSettings(index_dir=root),
                            Searcher(IndexDirectory(root), embedder))) as url:
        yield url


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def hit(site):
    """The API's best passage for the question, with its offsets in code points."""
    found = httpx.get(site + "/search", params={"q": QUESTION, "k": 1, "mode": "keyword"}).json()
    hit = found["results"][0]
    assert hit["doc_id"] == "emoji/1" and hit["start"] > 0  # the passage starts after emoji too
    assert {EMOJI_TEXT[s:e] for s, e in hit["highlights"]} == {"klimaatwet", "Jetten"}
    return hit


def test_the_results_bold_the_right_words_after_astral_characters(page, site, hit):
    page.goto(site + "/")
    page.locator("summary").click()
    page.get_by_label("Zoekwijze / mode").select_option("keyword")
    page.get_by_label("Vraag / question").fill(QUESTION)
    page.keyboard.press("Enter")
    passage = page.locator("#results li .passage").first
    passage.wait_for()
    assert passage.locator("b").all_inner_texts() == [EMOJI_TEXT[s:e] for s, e in hit["highlights"]]
    assert passage.locator("mark.snippet").inner_text() == hit["snippet"]


def test_the_article_marks_the_right_passage_after_astral_characters(page, site, hit):
    # the address the results link to
    page.goto(f"{site}/static/article.html?id=emoji%2F1&start={hit['snippet_start']}"
              f"&end={hit['snippet_end']}")
    page.locator("#article mark").first.wait_for()
    assert "".join(page.locator("#article mark").all_inner_texts()) == hit["snippet"]


def test_the_quote_and_its_speaker_are_marked_after_astral_characters(page, site):
    page.goto(site + "/")
    page.get_by_label("Vraag / question").fill("Wat zei Kaag over de windwet?")
    page.keyboard.press("Enter")
    item = page.locator("#results li", has_text="windwet komt er").first
    item.wait_for()
    assert item.locator("q.quote.asked").inner_text() == "De windwet komt er."
    assert item.locator("span.speaker.asked").inner_text() == "Kaag"
    assert item.locator(".speaker-name.asked").inner_text() == "Kaag"


@pytest.mark.parametrize("doc_id", IDS)
def test_the_article_page_opens_the_article_with_that_very_id(page, site, doc_id):
    page.goto(f"{site}/static/article.html?id={quote(doc_id, safe='')}")
    page.locator("#article h2").wait_for()
    assert page.locator("#article h2").inner_text() == f"Titel van {doc_id}"


@pytest.mark.parametrize("doc_id", [".", ".."])
def test_ids_a_url_cannot_hold_are_refused_not_resolved(page, site, doc_id):
    from playwright.sync_api import expect

    page.goto(f"{site}/static/article.html?id={quote(doc_id, safe='')}")
    expect(page.locator("#article")).to_have_text(
        f"Het artikel met id '{doc_id}' kan deze pagina niet openen.")
