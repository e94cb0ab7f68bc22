"""The price table and the sample workspace."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent_core.errors import ConfigError
from agent_core.events import Usage
from agent_core.pricing import PriceTable, default_prices
from agent_core.providers import DEFAULT_MODELS
from agent_core.workspace import SAMPLE_WORKSPACE, list_workspace, seed_workspace


def test_default_models_are_priced_and_dated_names_match() -> None:
    prices = default_prices()
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    for model in DEFAULT_MODELS.values():
        assert prices.lookup(model) is not None, model
    assert prices.price("claude-sonnet-4-5-20250929", usage) == (18.0, True)
    assert prices.price("gpt-4.1-mini-2025-04-14", usage) == (2.0, True)
    assert prices.price("offline-rules-v1", usage) == (0.0, True)


def test_an_unknown_model_is_not_guessed() -> None:
    prices = default_prices()
    assert prices.price("gpt-5.4-mini", Usage(input_tokens=10, output_tokens=10)) == (0.0, False)
    assert prices.price("llama3.1:8b", Usage(input_tokens=10)) == (0.0, False)
    assert prices.price("llama3.1:8b", Usage()) == (0.0, True)


def test_the_table_is_an_editable_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  my-model: {input: 2, output: 4}\n")
    table = PriceTable.load(path)
    assert table.models() == ["my-model"]
    assert table.price("my-model", Usage(input_tokens=500_000, output_tokens=250_000)) == (2.0, True)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("models: [", "not valid YAML"),
        ("prices: {}", "needs a top-level 'models:'"),
        ("models:\n  m: {input: 1}", "model 'm': expected {input: number, output: number}"),
        ("models:\n  m: {input: x, output: 1}", "model 'm'"),
    ],
)
def test_a_malformed_table_says_what_to_fix(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment.replace("{", r"\{").replace("}", r"\}").replace("[", r"\[")):
        PriceTable.load(path)
    with pytest.raises(ConfigError, match="cannot read"):
        PriceTable.load(tmp_path / "missing.yaml")


def test_seed_copies_the_samples_once_and_never_touches_an_existing_workspace(tmp_path: Path) -> None:
    target = tmp_path / "workspace"
    assert seed_workspace(target) is True
    assert list_workspace(target) == list_workspace(SAMPLE_WORKSPACE)
    (target / "notes.txt").write_text("mine")
    assert seed_workspace(target) is False
    assert (target / "notes.txt").read_text() == "mine"


def test_processes_seeding_one_new_folder_at_once_leave_one_copy_and_none_fails(tmp_path: Path) -> None:
    """A worker and the CLI starting together on a new workspace used to race in copytree (FileExistsError)."""
    target = tmp_path / "workspace"
    script = (
        "import sys, time; from pathlib import Path; from agent_core.workspace import seed_workspace\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "print(seed_workspace(Path(sys.argv[1])))"
    )
    start = str(time.time() + 1.0)  # every process is started by then: they seed at the same moment
    root = Path(__file__).resolve().parents[2]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(target), start], cwd=root, stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    outputs = [child.communicate(timeout=60)[0].strip() for child in children]
    assert all(child.returncode == 0 for child in children), outputs
    assert outputs.count("True") == 1 and outputs.count("False") == 5, outputs
    assert list_workspace(target) == list_workspace(SAMPLE_WORKSPACE)
    assert [p.name for p in tmp_path.iterdir()] == ["workspace"]  # no copy left half made beside it


def test_the_sample_documents_are_short_and_varied() -> None:
    files = list_workspace(SAMPLE_WORKSPACE)
    assert "notes.txt" in files and 5 <= len(files) <= 7
    for name in files:
        words = len((SAMPLE_WORKSPACE / name).read_text().split())
        assert 300 <= words <= 700, (name, words)


def test_list_workspace_skips_hidden_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.md").write_text("x")
    (tmp_path / ".env").write_text("SECRET=1")
    assert list_workspace(tmp_path) == ["a/b.md"]
    assert list_workspace(tmp_path / "missing") == []
