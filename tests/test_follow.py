"""`vraagbaak follow`: RSS and Atom feeds and their pages, served from 127.0.0.1 by the test."""

from __future__ import annotations

import json
import time
from email.utils import formatdate
from html import escape

import pytest

from indexer.write.loading import MAX_ID_LENGTH, document_from_record
from tests.feed_site import endless, serving, slow

# --- feeds and pages ----------------------------------------------------------------------

ARTICLES = {
    "geneve": ("Biden en Poetin praten in Genève",
               ["De Amerikaanse president Joe Biden en de Russische president Vladimir Poetin "
                "hebben woensdag in Genève ruim drie uur met elkaar gesproken over cyberaanvallen.",
                "Biden zei na afloop dat hij Poetin een lijst van zestien sectoren heeft gegeven "
                "die verboden terrein zijn voor hackers, zoals energie en water.",
                "Poetin noemde het gesprek constructief, maar zei dat Rusland geen schuld heeft "
                "aan de aanvallen op Amerikaanse bedrijven en ziekenhuizen."]),
    "dijken": ("Waterschappen versterken de dijken langs de Waal",
               ["De waterschappen in Gelderland beginnen deze zomer aan de versterking van "
                "veertig kilometer dijk langs de Waal tussen Nijmegen en Tiel.",
                "Volgens de dijkgraaf zijn de werkzaamheden nodig omdat hoogwater vaker en hoger "
                "komt; de kosten bedragen ruim driehonderd miljoen euro.",
                "Bewoners langs de dijk krijgen in het najaar een brief over omleidingen en "
                "tijdelijke afsluitingen van de dijkweg."]),
    "tulpen": ("Tulpenkwekers klagen over de droogte in de Noordoostpolder",
               ["Tulpenkwekers in de Noordoostpolder maken zich zorgen over de aanhoudende "
                "droogte; de bollen blijven klein en de oogst valt tegen.",
                "De kwekers mogen van het waterschap beperkt beregenen, maar dat is volgens hen "
                "niet genoeg om de schade aan de bollen te beperken.",
                "De sector verwacht dat de prijzen van tulpenbollen dit najaar stijgen."]),
    "trein": ("Storing legt treinverkeer rond Utrecht urenlang plat",
              ["Door een storing in de seinen reden dinsdagochtend urenlang geen treinen van en "
               "naar Utrecht Centraal; reizigers strandden op de perrons.",
               "ProRail zegt dat een kapotte kabel de oorzaak was van de storing in de "
               "beveiliging; monteurs hebben de kabel vervangen.",
               "De NS zette bussen in tussen Utrecht en Amersfoort en raadde reizigers aan om "
               "later te reizen."]),
    "kaas": ("Goudse kaasmarkt trekt recordaantal toeristen",
             ["De kaasmarkt in Gouda heeft deze zomer meer bezoekers getrokken dan ooit; op "
              "donderdagen stonden duizenden toeristen op de Markt.",
              "De kaasboeren verkochten volgens de organisatie twintig procent meer kaas dan "
              "vorig jaar, vooral jong belegen en oude kaas.",
              "De gemeente overweegt de markt ook op zaterdag te houden."]),
}
DATES = {"geneve": "Wed, 16 Jun 2021 18:30:00 +0000", "dijken": "Thu, 17 Jun 2021 08:00:00 +0000",
         "tulpen": "2021-06-18T09:15:00Z", "trein": "2021-06-19T07:00:00Z",
         "kaas": "Sun, 20 Jun 2021 12:00:00 +0000"}


def paragraphs_html(key: str) -> str:
    return "".join(f"<p>{escape(p)}</p>" for p in ARTICLES[key][1])


def page(key: str, extra: str = "") -> str:
    title, _ = ARTICLES[key]
    return (f"<!DOCTYPE html><html lang='nl'><head><meta charset='utf-8'><title>{escape(title)} | "
            "Nieuwssite</title></head><body><header><nav><a href='/'>Home</a> <a href='/sport'>"
            "Sport</a> <a href='/weer'>Weer</a></nav></header><main><article>"
            f"<h1>{escape(title)}</h1>{paragraphs_html(key)}{extra}</article></main>"
            "<footer><p>Copyright Nieuwssite. Alle rechten voorbehouden.</p></footer></body></html>")


def rss(site, items: list[dict], title: str = "Nieuwssite - Algemeen") -> str:
    out = []
    for item in items:
        parts = [f"<title>{escape(item['title'])}</title>"]
        if "link" in item:
            parts.append(f"<link>{escape(item['link'])}</link>")
        if "guid" in item:
            parts.append(f"<guid isPermaLink='false'>{escape(item['guid'])}</guid>")
        if "date" in item:
            parts.append(f"<pubDate>{item['date']}</pubDate>")
        if "description" in item:
            parts.append(f"<description>{escape(item['description'])}</description>")
        if "content" in item:
            parts.append(f"<content:encoded><![CDATA[{item['content']}]]></content:encoded>")
        out.append("<item>" + "".join(parts) + "</item>")
    return ("<?xml version='1.0' encoding='UTF-8'?><rss version='2.0' "
            "xmlns:content='http://purl.org/rss/1.0/modules/content/'><channel>"
            f"<title>{escape(title)}</title><link>{site.base}/</link>"
            f"<description>Het laatste nieuws</description>{''.join(out)}</channel></rss>")


def atom(site, entries: list[dict], title: str = "Regionaal Nieuws") -> str:
    out = []
    for entry in entries:
        parts = [f"<id>{escape(entry['id'])}</id>", f"<title>{escape(entry['title'])}</title>",
                 f"<updated>{entry['date']}</updated>", f"<link href='{escape(entry['link'])}'/>"]
        if "summary" in entry:
            parts.append(f"<summary>{escape(entry['summary'])}</summary>")
        if "content" in entry:
            parts.append(f"<content type='html'>{escape(entry['content'])}</content>")
        out.append("<entry>" + "".join(parts) + "</entry>")
    return ("<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            f"<title>{escape(title)}</title><id>{site.base}/atom</id>"
            f"<updated>2021-06-20T00:00:00Z</updated>{''.join(out)}</feed>")


def rss_item(site, key: str, full: bool, **extra) -> dict:
    item = {"title": ARTICLES[key][0], "link": site.url(f"/nieuws/{key}.html"),
            "guid": f"nieuwssite-{key}", "date": DATES[key],
            "description": ARTICLES[key][1][0][:120]}
    if full:
        item["content"] = paragraphs_html(key)
    return item | extra


def atom_entry(site, key: str, full: bool) -> dict:
    entry = {"id": f"tag:regio.example,2021:{key}", "title": ARTICLES[key][0],
             "link": site.url(f"/regio/{key}"), "date": DATES[key],
             "summary": ARTICLES[key][1][0][:100]}
    if full:
        entry["content"] = paragraphs_html(key)
    return entry


LAST_MODIFIED = formatdate(1624176000, usegmt=True)


@pytest.fixture
def site():
    with serving() as s:
        yield s


@pytest.fixture
def news(site):
    """An RSS feed (ETag) with a full-text entry and a teaser, an Atom feed (Last-Modified)
    likewise, and the teasers' pages."""
    site.set("/rss", rss(site, [rss_item(site, "geneve", True), rss_item(site, "dijken", False)]),
             "application/rss+xml", etag='"rss-1"')
    site.set("/atom", atom(site, [atom_entry(site, "tulpen", True), atom_entry(site, "trein", False)]),
             "application/atom+xml", last_modified=LAST_MODIFIED)
    site.set("/nieuws/dijken.html", page("dijken"))
    site.set("/regio/trein", page("trein"))
    return site


def follow(run, fake_model, tmp_path, *feeds, json_out=True):
    args = ["follow", *feeds, "--once", "--index", tmp_path / "idx", "--model", fake_model]
    result = run(*args, *(["--json"] if json_out else []))
    assert "Traceback" not in result.output
    report = json.loads(result.stdout.strip().splitlines()[-1]) if json_out and result.stdout.strip() else None
    return result, report


def search(run, tmp_path, question: str, k: int = 3) -> list[dict]:
    result = run("search", question, "--index", tmp_path / "idx", "-k", k, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["results"]


def article_ids(tmp_path) -> dict:
    from indexer.index.directory import IndexDirectory
    from indexer.index.version import IndexVersion

    opened = IndexVersion.open(IndexDirectory(tmp_path / "idx").current_version(), keywords=False)
    try:
        return {d.document.doc_id: d.document for d in opened.store.documents()}
    finally:
        opened.close()


# --- the tests ----------------------------------------------------------------------------

def test_rss_and_atom_entries_with_and_without_full_text_are_indexed_and_searchable(
        run, fake_model, tmp_path, news):
    result, report = follow(run, fake_model, tmp_path, news.url("/rss"), news.url("/atom"))
    assert result.exit_code == 0, result.output
    assert report | {"time": None, "seconds": None, "version": None} == {
        "time": None, "feeds": 2, "read": 2, "not_modified": 0, "failed_feeds": 0, "new": 4,
        "updated": 0, "unchanged": 0, "failed": 0, "published": True, "version": None,
        "articles": 4, "seconds": None, "problems": []}
    assert report["version"]
    # the teasers' pages were read, once each; the full-text entries' pages never
    assert news.hits["/nieuws/dijken.html"] == 1 and news.hits["/regio/trein"] == 1
    assert news.hits["/nieuws/geneve.html"] == 0 and news.hits["/regio/tulpen"] == 0

    docs = article_ids(tmp_path)
    by_title = {d.title: d for d in docs.values()}
    dijken = by_title[ARTICLES["dijken"][0]]
    assert dijken.doc_id.startswith("127.0.0.1/")  # the feed's host, for a guid that is no URL
    assert dijken.date == "2021-06-17" and dijken.url == news.url("/nieuws/dijken.html")
    assert dijken.source == "Nieuwssite - Algemeen"
    # the page's article, paragraph by paragraph, without its menu or footer
    assert dijken.text == "\n\n".join(ARTICLES["dijken"][1])
    trein = by_title[ARTICLES["trein"][0]]
    assert trein.text == "\n\n".join(ARTICLES["trein"][1]) and trein.date == "2021-06-19"
    assert trein.source == "Regionaal Nieuws"
    geneve = by_title[ARTICLES["geneve"][0]]
    assert geneve.text == "\n\n".join(ARTICLES["geneve"][1]) and geneve.date == "2021-06-16"
    for doc in docs.values():  # every id passes the loader's own rules
        assert len(doc.doc_id) <= MAX_ID_LENGTH
        assert document_from_record({"id": doc.doc_id, "text": "x"}).doc_id == doc.doc_id

    hits = search(run, tmp_path, "versterking van de dijk langs de Waal bij Nijmegen")
    assert hits[0]["doc_id"] == dijken.doc_id and hits[0]["date"] == "2021-06-17"
    hits = search(run, tmp_path, "storing seinen Utrecht Centraal kabel ProRail")
    assert hits[0]["doc_id"] == trein.doc_id


def test_a_second_poll_fetches_no_page_again_and_asks_the_feeds_conditionally(
        run, fake_model, tmp_path, news):
    first, _ = follow(run, fake_model, tmp_path, news.url("/rss"), news.url("/atom"))
    assert first.exit_code == 0, first.output
    version = (tmp_path / "idx" / "CURRENT").read_text()
    pages = news.hits["/nieuws/dijken.html"], news.hits["/regio/trein"]

    again, report = follow(run, fake_model, tmp_path, news.url("/rss"), news.url("/atom"))
    assert again.exit_code == 0, again.output
    assert (report["read"], report["not_modified"], report["new"], report["updated"],
            report["unchanged"], report["published"]) == (0, 2, 0, 0, 4, False)
    assert (news.hits["/nieuws/dijken.html"], news.hits["/regio/trein"]) == pages
    # RSS by its ETag, Atom by its Last-Modified: both answered 304
    assert news.conditional["/rss"] == 1 and news.not_modified["/rss"] == 1
    assert news.conditional["/atom"] == 1 and news.not_modified["/atom"] == 1
    assert (tmp_path / "idx" / "CURRENT").read_text() == version  # no new version

    # A feed that changed only elsewhere is read again; its known entries are not fetched again.
    news.set("/rss", rss(news, [rss_item(news, "geneve", True), rss_item(news, "dijken", False)],
                         title="Nieuwssite - Algemeen"), "application/rss+xml", etag='"rss-2"')
    third, report = follow(run, fake_model, tmp_path, news.url("/rss"), news.url("/atom"))
    assert (report["read"], report["new"], report["unchanged"], report["published"]) == (1, 0, 4, False)
    assert (news.hits["/nieuws/dijken.html"], news.hits["/regio/trein"]) == pages

    # The plain output: one line per poll
    fourth, _ = follow(run, fake_model, tmp_path, news.url("/rss"), news.url("/atom"),
                       json_out=False)
    assert fourth.exit_code == 0
    assert "poll: 0 of 2 feeds read, 2 not modified, 0 failed; entries: 0 new, 0 updated, " \
           "4 unchanged, 0 failed; no new version; the index holds 4 articles" in fourth.stdout


def test_a_changed_entry_updates_its_article_and_a_new_one_is_added(run, fake_model, tmp_path, news):
    follow(run, fake_model, tmp_path, news.url("/rss"))
    before = article_ids(tmp_path)
    changed = ARTICLES["geneve"][1] + ["Later op de avond maakte het Witte Huis bekend dat "
                                       "ambassadeurs terugkeren naar Moskou en Washington."]
    news.set("/rss", rss(news, [rss_item(news, "geneve", True,
                                         content="".join(f"<p>{p}</p>" for p in changed)),
                                rss_item(news, "dijken", False), rss_item(news, "kaas", False)]),
             "application/rss+xml", etag='"rss-2"')
    news.set("/nieuws/kaas.html", page("kaas"))
    result, report = follow(run, fake_model, tmp_path, news.url("/rss"))
    assert result.exit_code == 0, result.output
    assert (report["new"], report["updated"], report["unchanged"], report["published"]) == (1, 1, 1, True)
    assert news.hits["/nieuws/dijken.html"] == 1  # unchanged entry: its page not read again
    after = article_ids(tmp_path)
    assert set(after) - set(before) and set(before) < set(after)  # same ids, one more
    geneve = next(d for d in after.values() if d.title == ARTICLES["geneve"][0])
    assert "ambassadeurs terugkeren naar Moskou" in geneve.text
    hits = search(run, tmp_path, "ambassadeurs terugkeren naar Moskou en Washington", k=1)
    assert hits[0]["doc_id"] == geneve.doc_id


def test_broken_feeds_and_pages_are_reported_and_the_rest_is_indexed(run, fake_model, tmp_path, site):
    site.set("/rss", rss(site, [rss_item(site, "geneve", False), rss_item(site, "dijken", False),
                                rss_item(site, "tulpen", False), rss_item(site, "kaas", False)]),
             "application/rss+xml", etag='"v1"')
    site.set("/nieuws/geneve.html", page("geneve"))
    site.set("/nieuws/dijken.html", "kapot", status=500)
    site.set("/nieuws/tulpen.html", b"%PDF-1.4 ...", "application/pdf")
    site.set("/nieuws/kaas.html", "<html><body><nav><a href='/'>Home</a></nav></body></html>")
    site.set("/homepage", page("trein"))  # a web page given as a feed
    site.set("/kapot.xml", "<rss><channel><item><title>x", "application/rss+xml", status=503)
    result, report = follow(run, fake_model, tmp_path, site.url("/rss"), site.url("/homepage"),
                            site.url("/kapot.xml"), site.url("/nergens"), "geen-feed.rss",
                            json_out=False)
    assert result.exit_code == 3, result.output
    assert "1 of 5 feeds read, 0 not modified, 4 failed; entries: 1 new, 0 updated, 0 unchanged, " \
           "3 failed; published version" in result.stdout
    errors = result.stderr
    assert f"{site.url('/rss')}: entry {ARTICLES['dijken'][0]!r}: the page " \
           f"{site.url('/nieuws/dijken.html')} answered HTTP 500" in errors
    assert "is application/pdf, not HTML" in errors
    assert "no article was found on the page (only 4 characters of text" in errors
    assert errors.count("it is tried again at the next poll") == 3
    assert f"the feed {site.url('/homepage')} is a web page (text/html), not an RSS or Atom " \
           "feed (give the feed's own URL" in errors
    assert f"the feed {site.url('/kapot.xml')} answered HTTP 503" in errors
    assert f"the feed {site.url('/nergens')} answered HTTP 404" in errors
    assert "the feed geen-feed.rss: no such file" in errors
    assert "Traceback" not in result.output and "WARNING" not in result.output
    assert "trafilatura" not in result.output.lower()
    assert [d.title for d in article_ids(tmp_path).values()] == [ARTICLES["geneve"][0]]

    # The failed entries are tried again: the feed is read whole (no 304), their pages fetched
    site.set("/nieuws/dijken.html", page("dijken"))
    again, report = follow(run, fake_model, tmp_path, site.url("/rss"))
    assert again.exit_code == 3
    assert site.not_modified["/rss"] == 0 and site.hits["/nieuws/dijken.html"] == 2
    assert site.hits["/nieuws/geneve.html"] == 1  # indexed before: not fetched again
    assert (report["new"], report["unchanged"], report["failed"]) == (1, 1, 2)


def test_when_no_feed_can_be_read_the_exit_code_is_1_and_no_index_is_made(run, fake_model, tmp_path,
                                                                           site):
    result, report = follow(run, fake_model, tmp_path, site.url("/nergens"), "ftp://example.org/x",
                            "notes.txt")
    assert result.exit_code == 1
    assert report["failed_feeds"] == 3 and report["published"] is False
    messages = " ".join(p["message"] for p in report["problems"])
    assert "answered HTTP 404" in messages
    assert "'ftp://example.org/x' is neither an http(s) URL nor a file" in messages
    assert "notes.txt: no such file" in messages
    assert not (tmp_path / "idx").exists()


def test_a_local_feed_file_is_followed_and_its_pages_read(run, fake_model, tmp_path, site):
    site.set("/nieuws/dijken.html", page("dijken"))
    feed = tmp_path / "nieuws.rss"
    feed.write_text(rss(site, [rss_item(site, "geneve", True), rss_item(site, "dijken", False)]),
                    encoding="utf-8")
    result, report = follow(run, fake_model, tmp_path, feed)
    assert result.exit_code == 0, result.output
    assert report["new"] == 2 and site.hits["/nieuws/dijken.html"] == 1
    again, report = follow(run, fake_model, tmp_path, feed)
    assert (report["unchanged"], report["published"]) == (2, False)
    assert site.hits["/nieuws/dijken.html"] == 1
    wrong = tmp_path / "nieuws.txt"
    wrong.write_text("x")
    result, report = follow(run, fake_model, tmp_path, wrong)
    assert result.exit_code == 1
    assert "is not .xml, .rss, .atom" in report["problems"][0]["message"]


def test_hostile_feeds_and_pages_are_bounded(run, fake_model, tmp_path, site, monkeypatch):
    import indexer.write.fetch as fetch
    from indexer.write import follow as following

    monkeypatch.setattr(fetch, "TIMEOUT", 1.0)
    long_text = "<p>" + "Dit is een zin die zich eindeloos herhaalt. " * 6000 + "</p>"
    script = "<script>alert('x')</script><p onclick='evil()'>Klik</p>" + paragraphs_html("kaas")
    site.set("/rss", rss(site, [
        rss_item(site, "geneve", False, link=site.url("/eindeloos")),
        rss_item(site, "dijken", False, link=site.url("/traag")),
        rss_item(site, "tulpen", False, link=site.url("/doorsturen")),
        rss_item(site, "trein", True, content=long_text),
        rss_item(site, "kaas", True, content=script),
        {"title": "Een lokaal bestand", "guid": "lokaal", "link": "file:///etc/passwd",
         "description": "kort"},
        {"title": "Zonder id of link", "description": "niets"},
    ]), "application/rss+xml")
    site.set("/eindeloos", endless)
    site.set("/traag", slow(3.0))
    site.set("/doorsturen", b"", status=302, headers=(("Location", "file:///etc/passwd"),))
    laughs = ("<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY a 'hahahahahahahahahaha'>"
              + "".join(f"<!ENTITY {chr(98 + i)} '{('&' + chr(97 + i) + ';') * 10}'>"
                        for i in range(9))
              + "]><rss version='2.0'><channel><title>&j;</title><item><title>&j;</title>"
                "<guid>lach</guid><description>&j;</description></item></channel></rss>")
    site.set("/lach", laughs, "application/rss+xml")
    site.set("/enorm", endless, "application/rss+xml")
    started = time.monotonic()
    result, report = follow(run, fake_model, tmp_path, site.url("/rss"), site.url("/lach"),
                            site.url("/enorm"), json_out=False)
    assert time.monotonic() - started < 30
    assert result.exit_code == 3, result.output
    errors = result.stderr
    assert f"the page {site.url('/eindeloos')} is more than the {following.MAX_PAGE_BYTES:,} bytes" in errors
    assert f"the page {site.url('/traag')} could not be read (no answer within 1 s)" in errors \
        or f"the page {site.url('/traag')} could not be reached (no answer within 1 s)" in errors
    assert "redirects to 'file:///etc/passwd', which is not an http or https URL" in errors
    assert f"more than the {following.MAX_ARTICLE_CHARS:,} an article may have" in errors
    assert "no http(s) link to read the article from" in errors
    assert "has neither an id (guid) nor a link" in errors
    assert f"the feed {site.url('/enorm')} is more than the" in errors
    assert "Traceback" not in result.output
    docs = article_ids(tmp_path)
    kaas = next(d for d in docs.values() if d.title == ARTICLES["kaas"][0])
    assert "alert" not in kaas.text and "evil" not in kaas.text and kaas.text.startswith("Klik")
    # the entity bomb is not expanded: at most a bounded article, never megabytes
    assert all(len(d.text) < 10_000 for d in docs.values())


def test_a_running_app_answers_with_a_new_article_after_a_poll_without_restart(tmp_path, news):
    from fastapi.testclient import TestClient

    from cli.server.app import create_app
    from cli.server.settings import ServerSettings
    from indexer.index.directory import IndexDirectory
    from indexer.write.chunking import ParagraphChunker
    from indexer.write.follow import FollowState, poll
    from search.searcher import Searcher
    from tests.fakes import FakeEmbedder

    embedder = FakeEmbedder()
    root = IndexDirectory(tmp_path / "idx")
    state = FollowState.load(root)
    poll(root, [news.url("/rss")], embedder, ParagraphChunker(embedder), state)
    searcher = Searcher(IndexDirectory(tmp_path / "idx"), embedder)
    app = create_app(ServerSettings(index_dir=tmp_path / "idx"), searcher)
    question = {"q": "Goudse kaasmarkt toeristen kaasboeren", "k": 1}
    try:
        with TestClient(app) as client:
            first = client.get("/search", params=question).json()["results"][0]
            assert first["title"] != ARTICLES["kaas"][0]
            news.set("/rss", rss(news, [rss_item(news, "kaas", False), rss_item(news, "geneve", True),
                                        rss_item(news, "dijken", False)]),
                     "application/rss+xml", etag='"rss-2"')
            news.set("/nieuws/kaas.html", page("kaas"))
            started = time.monotonic()
            report = poll(root, [news.url("/rss")], embedder, ParagraphChunker(embedder), state)
            assert report.new == 1 and report.published
            hit = client.get("/search", params=question).json()["results"][0]
            assert time.monotonic() - started < 10  # searchable within seconds of being seen
            assert hit["title"] == ARTICLES["kaas"][0] and hit["date"] == "2021-06-20"
    finally:
        searcher.close()


def test_every_polls_until_interrupted_and_ends_cleanly(run, fake_model, tmp_path, news, monkeypatch):
    naps = []

    def nap(seconds):
        naps.append(seconds)
        if len(naps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("cli.follow_cmd._sleep", nap)
    result = run("follow", news.url("/rss"), "--every", 7, "--index", tmp_path / "idx",
                 "--model", fake_model, "--json")
    assert result.exit_code == 0, result.output
    polls = [json.loads(line) for line in result.stdout.splitlines()]
    assert naps == [7, 7] and [p["new"] for p in polls] == [2, 0] and len(polls) == 2
    assert polls[1]["not_modified"] == 1


def test_once_and_every_together_are_refused(run, fake_model, tmp_path):
    result = run("follow", "feed.xml", "--once", "--every", 5, "--index", tmp_path / "idx")
    assert result.exit_code == 2
    assert "give --once (one poll) or --every SECONDS" in result.stderr


def test_article_ids_are_stable_readable_and_valid():
    from indexer.write.feeds import article_id

    a = article_id("https://www.nos.nl/artikel/2390123-biden-en-poetin.html", "feed")
    assert a == article_id("https://www.nos.nl/artikel/2390123-biden-en-poetin.html", "other")
    assert a.startswith("nos.nl/2390123-biden-en-poetin-") and len(a.rsplit("-", 1)[1]) == 12
    assert article_id("nieuwssite-42", "example.org").startswith("example.org/nieuwssite-42-")
    hostile = article_id("http://" + "x" * 300 + ".nl/" + "é\x00\n" * 200, "feed")
    assert len(hostile) <= MAX_ID_LENGTH
    assert document_from_record({"id": hostile, "text": "x"}).doc_id == hostile
    assert article_id("guid-1", "h") != article_id("guid-2", "h")


def test_a_damaged_state_file_is_reported_and_the_poll_goes_on(run, fake_model, tmp_path, news):
    follow(run, fake_model, tmp_path, news.url("/rss"))
    (tmp_path / "idx" / "follow-state.json").write_text("{kapot")
    result = run("follow", news.url("/rss"), "--once", "--index", tmp_path / "idx",
                 "--model", fake_model)
    assert result.exit_code == 0, result.output
    assert "follow state" in result.stderr and "cannot be read" in result.stderr
    assert "0 new, 0 updated, 2 unchanged" in result.stdout  # pages fetched again, nothing added


@pytest.mark.model
def test_follow_with_the_real_model_answers_a_dutch_question(run, tmp_path, news, use_real_embedder):
    result = run("follow", news.url("/rss"), news.url("/atom"), "--once", "--index",
                 tmp_path / "idx", "--json")
    assert result.exit_code == 0, result.output
    hits = search(run, tmp_path, "Waarom reden er geen treinen in Utrecht?", k=1)
    assert hits[0]["title"] == ARTICLES["trein"][0]
    hits = search(run, tmp_path, "What did Biden give Putin about hackers?", k=1)
    assert hits[0]["title"] == ARTICLES["geneve"][0]
