"""Who said what: the attributor (indexer.write.quotes), speaker names, the questions that ask
about a speaker, the quotes table, and the marks on results (fake model, fast)."""

import json
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.attribution import score
from indexer.index.directory import IndexDirectory
from indexer.index.manifest import SEGMENT_FILES, SEGMENTS
from indexer.index.names import name_key, same_speaker
from indexer.write.chunking import ParagraphChunker
from indexer.write.pipeline import load_for_index, update_index
from indexer.write.quotes import attribute
from search.searcher import Searcher
from search.fusion import FusionWeights
from search.options import SearchOptions
from search.speakers import asked_speakers, asked_subject
from tests.conftest import write
from tests.fakes import FakeEmbedder


def said(text: str) -> list[tuple[str, str, str, str]]:
    """(kind, quoted words, speaker, the words that name him there) for every quote."""
    return [(q.kind, text[q.start:q.end], q.speaker, text[q.speaker_start:q.speaker_end])
            for q in attribute("doc", text)]


@pytest.mark.parametrize("text, quote, speaker", [
    ('"Elke dag dat we wachten, kost levens," zei Zelenski.', "Elke dag dat we wachten, kost levens", "Zelenski"),
    ("„We gaan door”, aldus Van der Schaaf.", "We gaan door", "Van der Schaaf"),
    ("«Dit is geen cyberaanval», zei topman George Kurtz.", "Dit is geen cyberaanval", "George Kurtz"),
    ("Op de vraag waarom, zei Biden: 'Ik ken geen recent voorbeeld.'", "Ik ken geen recent voorbeeld.", "Biden"),
    ("Norris zag dat anders: “Hij maakte een beweging.”", "Hij maakte een beweging.", "Norris"),
    ("Oppositieleider Frans Timmermans noemde het kabinet 'een sprong in het duister'.",
     "een sprong in het duister", "Frans Timmermans"),
    ('"It was a very good meeting," Biden said.', "It was a very good meeting", "Biden"),
    ('"We will respond," said the spokeswoman Jen Psaki.', "We will respond", "Jen Psaki"),
])
def test_a_quote_and_its_speaker(text, quote, speaker):
    assert said(text)[0][:3] == ("direct", quote, speaker)


@pytest.mark.parametrize("text, speaker", [
    # "van" + an office after a name is the office: not "Energie", not "Jetten van Klimaat"
    ("Minister Jetten van Klimaat en Energie zei woensdag dat de vergunningen sneller komen.", "Jetten"),
    ("Staatssecretaris Van der Burg van Justitie en Veiligheid zei dat er meer plekken komen.", "Van der Burg"),
    ("Minister Hoekstra van Buitenlandse Zaken zei dinsdag dat Nederland de sancties steunt.", "Hoekstra"),
    ('"We gaan door," zei minister Jetten van Klimaat en Energie.', "Jetten"),
    ("Volgens minister Jetten van Klimaat en Energie is dat niet nodig.", "Jetten"),
    # "van" before a name stays the name's particle
    ("Minister Ingrid van Engelshoven zei dat de scholen opengaan.", "Ingrid van Engelshoven"),
    ('"We gaan door," zei Jan van Dijk.', "Jan van Dijk"),
])
def test_an_office_after_the_name_is_not_the_speaker(text, speaker):
    assert [q[2] for q in said(text)] == [speaker]


def test_offsets_are_exact_and_the_name_is_written_in_full():
    text = ("De Amerikaanse president Joe Biden sprak in Genève.\n\n"
            "\"We gaan het merken,\" zei Biden. \"Over zes maanden.\"")
    quotes = attribute("doc", text)
    assert [text[q.start:q.end] for q in quotes] == ["We gaan het merken", "Over zes maanden."]
    assert {(q.speaker, q.speaker_key, text[q.speaker_start:q.speaker_end]) for q in quotes} == {
        ("Joe Biden", "joe biden", "Biden")}


def test_hij_is_the_person_named_before():
    text = ("De Russische president Vladimir Poetin ontkende alles. Dat idee beschreef de Russische president als ‘absurd’. "
            "Hij herhaalde zijn standpunt: ‘Het is belangrijk dat de VS stopt.’")
    found = said(text)
    assert [(q[1], q[2]) for q in found] == [("absurd", "Vladimir Poetin"),
                                            ("Het is belangrijk dat de VS stopt.", "Vladimir Poetin")]
    assert found[1][3] == "Hij"


def test_reported_speech_without_quote_marks():
    text = ("Volgens woordvoerder Dmitri Peskov is de doodsoorzaak onbekend. Scholz zei in Berlijn dat "
            "Duitsland een bondgenoot blijft. Het epicentrum lag bij Garrelsweer, meldt het KNMI. "
            "According to the minister Ann Smith, the plan works.")
    assert [(q[0], q[2]) for q in said(text)] == [
        ("indirect", "Dmitri Peskov"), ("indirect", "Scholz"), ("indirect", "KNMI"),
        ("indirect", "Ann Smith")]


@pytest.mark.parametrize("text", [
    "Het aantal overnachtingen mag volgens de nieuwe regels niet stijgen.",  # no one speaks
    "Ze werden in ‘de stad van de vrede’ verwelkomd.",  # a scare quote, said by nobody
    "Zo'n twintig foto’s van Navalny's dochter hingen in Alpe d'Huez.",  # apostrophes
    "Washington ontkent dat.",  # "dat" that starts no clause
    "Men dacht dat dit proces veel langer duurde.",  # capitalised at the start, not a name
    "Misschien denkt u dat er een schatkaart achter op de verklaring staat.",
])
def test_no_speaker_is_made_up(text):
    assert said(text) == []


def test_the_judged_quotes_precision_and_recall():
    """tests/data/quote_attribution.jsonl: 165 quotes in 45 articles, judged by hand."""
    result = score()
    assert result["all"]["judged"] == 165
    assert result["all"]["precision"] >= 0.95
    assert result["all"]["recall"] >= 0.85


@pytest.mark.parametrize("asked, speaker, same", [
    ("Biden", "Joe Biden", True), ("president Biden", "Joe Biden", True),
    ("Putin", "Vladimir Poetin", True), ("Zelensky", "Volodymyr Zelenski", True),
    ("Navalnaya", "Joelia Navalnaja", True), ("Van der Schaaf", "Roeland van der Schaaf", True),
    ("Joe", "Joe Biden", True),  # a question's last word is taken as the surname
    ("Biden", "Hunter Bidenko", False), ("Otto", "Otte", False), ("Poetin", "Peskov", False),
])
def test_same_speaker(asked, speaker, same):
    assert same_speaker(name_key(asked), name_key(speaker)) is same


@pytest.mark.parametrize("question, names", [
    ("Wat zei Poetin over Navalny?", [("poetin",)]),
    ("what did Biden say about cyber", [("biden",)]),
    ("Wat vindt de Europese Commissie van het plan?", [("europese", "commissie")]),
    ("Wat gebeurt er als Navalny sterft volgens Biden?", [("biden",)]),
    ("How did Biden and Putin greet each other?", [("biden",), ("putin",)]),
    ("Hoe noemde Biden Poetin na zijn aanstelling?", [("biden",)]),
    ("Wat zei de paus over vrede?", [("paus",)]),
    ("What did president Joe Biden say?", [("joe", "biden")]),
    ("how long did the Geneva meeting last", []),
    ("Wat zei minister Jetten van Klimaat en Energie over windparken?", [("jetten",)]),  # the office
    ("Wat zei Hoekstra van Buitenlandse Zaken?", [("hoekstra",)]),
    ("Wat zei Jan van Dijk over de zorg?", [("jan", "dijk")]),  # a particle, not an office
    ("Hoeveel mensen kwamen er volgens de gemeente op af?", []),
    ("Welk wapen mag Iran volgens beide leiders niet ontwikkelen?", []),
])
def test_the_speaker_a_question_asks_about(question, names):
    assert asked_speakers(question) == names


@pytest.mark.parametrize("question, subject", [
    ("Wat zei Poetin over Navalny?", "over Navalny?"),
    ("what did Biden say about cyber", "about cyber"),
    ("Wat gebeurt er als Navalny sterft volgens Biden?", "Wat gebeurt er als Navalny sterft ?"),
    ("Hoe noemde Biden Poetin na zijn aanstelling?", "na zijn aanstelling?"),
    ("Wat zei Rutte?", "?"),
    ("how long did the Geneva meeting last", ""),
])
def test_the_subject_is_the_question_without_the_words_that_ask_and_name_the_speaker(question, subject):
    assert asked_subject(question) == subject


GATED = [  # Poetin speaks on Navalny and on something else; Biden speaks on Navalny
    {"id": "greet", "date": "2021-06", "text": "\"Goedendag meneer de president,\" zei Poetin in Genève."},
    {"id": "jail", "date": "2021-06", "text": "\"Navalny heeft de wet genegeerd,\" zei Poetin in Genève."},
    {"id": "free", "date": "2021-06", "text": "\"Navalny moet vrij,\" zei Biden in Genève."},
]


@pytest.fixture
def gated(tmp_path):
    path = write(tmp_path / "articles.jsonl", "\n".join(json.dumps(a) for a in GATED))
    embedder = FakeEmbedder()
    update_index(IndexDirectory(tmp_path / "idx"), embedder, ParagraphChunker(embedder),
                 load_for_index([path]))
    searcher = Searcher(IndexDirectory(tmp_path / "idx"), embedder)
    yield searcher
    searcher.close()


def lifted(searcher, question) -> set[str]:
    """The articles whose passage the speaker boost scores higher."""
    def scores(weight):
        options = SearchOptions(k=10, group=False, weights=FusionWeights(speaker=weight))
        return {h.doc_id: h.score for h in searcher.search(question, options).hits}
    without, with_boost = scores(0.0), scores(0.1)
    assert set(without) == set(with_boost) == {"greet", "jail", "free"}
    return {d for d in with_boost if with_boost[d] > without[d]}


@pytest.mark.parametrize("question, articles", [
    # the subject's word is in the candidates: only where Poetin speaks and it is there
    ("Wat zei Poetin over Navalny?", {"jail"}),
    ("What did Putin say about Navalny?", {"jail"}),
    # no candidate holds a word of the subject (or it has none): all where Poetin speaks
    ("Wat zei Poetin over de sancties?", {"greet", "jail"}),
    ("Wat zei Poetin?", {"greet", "jail"}),
    ("Wat zei Biden over Navalny?", {"free"}),
])
def test_the_boost_lifts_where_the_speaker_speaks_on_the_subject(gated, question, articles):
    assert lifted(gated, question) == articles


ARTICLES = [
    {"id": "poetin", "date": "2021-06", "text": "Poetin sprak over Navalny.\n\n"
     "\"Navalny heeft de wet genegeerd,\" zei Poetin over Navalny in Genève."},
    {"id": "biden", "date": "2021-06", "text": "Biden sprak over Navalny.\n\n"
     "\"Navalny moet vrij,\" zei Biden over Navalny in Genève."},
]


@pytest.fixture
def index(tmp_path):
    path = write(tmp_path / "articles.jsonl", "\n".join(json.dumps(a) for a in ARTICLES))
    embedder = FakeEmbedder()
    update_index(IndexDirectory(tmp_path / "idx"), embedder, ParagraphChunker(embedder),
                 load_for_index([path]))
    return tmp_path / "idx", embedder, path


def test_results_mark_the_quotes_and_who_said_them(index):
    root, embedder, _ = index
    searcher = Searcher(IndexDirectory(root), embedder)
    try:
        result = searcher.search("Wat zei Poetin over Navalny?", k=2)
        marks = {h.doc_id: h.quotes for h in result.hits}
        text = searcher.store.get_document("poetin").text
        [mark] = marks["poetin"]
        assert text[mark.start:mark.end] == "Navalny heeft de wet genegeerd"
        assert (mark.speaker, text[mark.speaker_start:mark.speaker_end], mark.kind, mark.asked) == (
            "Poetin", "Poetin", "direct", True)
        assert [m.asked for m in marks["biden"]] == [False]
        assert result.hits[0].doc_id == "poetin"  # the two passages differ only in who speaks
        data = result.as_dict()["results"][0]
        assert set(data["quotes"][0]) == {"start", "end", "speaker", "speaker_start",
                                          "speaker_end", "kind", "asked"}
    finally:
        searcher.close()


def segment_stores(directory):
    return sorted((directory.current_version() / SEGMENTS).glob(f"*/{SEGMENT_FILES['store']}"))


def test_a_segment_without_quotes_still_searches_and_new_segments_have_them(index):
    root, embedder, path = index
    directory = IndexDirectory(root)
    for store_file in segment_stores(directory):  # as segments written before quotes were
        with sqlite3.connect(store_file) as conn:
            conn.execute("DROP TABLE quotes")
            conn.execute("DROP TABLE quote_rules")
    searcher = Searcher(directory, embedder)
    try:
        assert not searcher.store.has_quotes
        hits = searcher.search("Wat zei Poetin over Navalny?", k=2).hits
        assert {h.doc_id for h in hits} == {"poetin", "biden"} and all(h.quotes == [] for h in hits)
    finally:
        searcher.close()
    changed = [dict(a) for a in ARTICLES]
    changed[1]["text"] += " \"Nu,\" aldus Biden."
    write(path, "\n".join(json.dumps(a) for a in changed))
    report = update_index(directory, embedder, ParagraphChunker(embedder), load_for_index([path]))
    assert report.updated == 1
    searcher = Searcher(directory, embedder)
    try:  # the changed article's new segment has its quotes; its old copy's are not read
        quotes = searcher.store.quotes_of(["biden", "poetin"])
        assert [q.speaker for q in quotes["biden"]] == ["Biden", "Biden"] and quotes["poetin"] == []
    finally:
        searcher.close()


def test_a_changed_article_gives_only_its_new_quotes(index):
    root, embedder, path = index
    changed = [dict(a) for a in ARTICLES]
    changed[0]["text"] = "Poetin zweeg.\n\n\"Geen commentaar,\" zei Peskov."
    write(path, "\n".join(json.dumps(a) for a in changed))
    directory = IndexDirectory(root)
    update_index(directory, embedder, ParagraphChunker(embedder), load_for_index([path]))
    searcher = Searcher(directory, embedder)
    try:
        quotes = searcher.store.quotes_of(["poetin", "biden"])
        assert [q.speaker for q in quotes["poetin"]] == ["Peskov"]
        assert [q.speaker for q in quotes["biden"]] == ["Biden"]
    finally:
        searcher.close()


QUOTE_PIECES = ['"', "“", "”", "„", "'", "‘", "’", "«", "»", ":", ",", ". ", "\n\n", " zei ",
                " volgens ", " dat ", "Biden", "hij", "De ", "van der ", "president ", "😀", "x"]


@given(st.lists(st.sampled_from(QUOTE_PIECES) | st.text(max_size=6), max_size=40))
@settings(max_examples=300, deadline=None, derandomize=True)
def test_any_text_gives_spans_inside_it(pieces):
    text = "".join(pieces)
    for q in attribute("doc", text):
        assert 0 <= q.start < q.end <= len(text) and 0 <= q.speaker_start < q.speaker_end <= len(text)
        assert q.kind in ("direct", "indirect") and q.speaker_key


def test_optimize_gives_old_segments_their_quotes(index):
    root, embedder, _ = index
    directory = IndexDirectory(root)
    for store_file in segment_stores(directory):
        with sqlite3.connect(store_file) as conn:
            conn.execute("DROP TABLE quotes")
            conn.execute("DROP TABLE quote_rules")
    from indexer.write.maintenance import optimize_index

    optimize_index(directory)
    searcher = Searcher(directory, embedder)
    try:
        assert [q.speaker for q in searcher.store.quotes_of(["poetin"])["poetin"]] == ["Poetin"]
    finally:
        searcher.close()
