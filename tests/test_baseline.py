"""The n-gram baseline and the memorization meter: the n-gram trained by counting from the command line,
sampled, scored, and served as the app's baseline; copies of the training text found and marked."""
from __future__ import annotations

import json
import math
import re

import pytest

import app
from rnnlm import cli, store
from rnnlm.models import MODELS
from rnnlm.models.ngram import NGramLM
from tests.support import make_tiny_checkpoints, served


@pytest.fixture(scope="module")
def four(tmp_path_factory):
    """The tiny rnn, lstm and gru, and an n-gram counted from the same play (its order chosen on validation)."""
    root = tmp_path_factory.getbasetemp() / "tiny-checkpoints"
    folders = make_tiny_checkpoints(root)
    if not (root / "ngram" / "config.json").is_file():
        assert cli.main(["train", "--model", "ngram", "--data", str(root / "play.txt"), "--out", str(root / "ngram")]) == 0
    return served(folders | {"ngram": root / "ngram"})


def test_train_by_counting_then_sample_and_score(corpus, tmp_path, capsys):
    out = tmp_path / "ngram"
    assert cli.main(["train", "--model", "ngram", "--data", str(corpus), "--out", str(out), "--no-progress"]) == 0
    assert "best val" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    curve = config["metrics"]["val_nats_per_char_by_order"]
    assert str(config["options"]["order"]) == min(curve, key=curve.get) and len(curve) == 12  # chosen by validation
    card = (out / "README.md").read_text()
    assert "counted from the training split" in card and "--model ngram --order" in card
    assert "units per layer" not in card
    model = store.load(out, inference=True)
    assert isinstance(model, NGramLM) and MODELS["ngram"].baseline
    texts = []
    for _ in range(2):
        assert cli.main(["sample", str(out), "--prompt", "BRUTUS:", "--length", "40", "--seed", "2"]) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1] and texts[0].startswith("BRUTUS:")
    assert cli.main(["score", str(out), "--text", "The night is long that never finds the day.", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bits_per_char"] < 3  # the play repeats: the counts know it
    assert [r for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if "val_loss" in r]


def test_a_fixed_order_and_the_order_flag_on_another_type(corpus, tmp_path, capsys):
    out = tmp_path / "ngram3"
    assert cli.main(["train", "--model", "ngram", "--order", "3", "--prune", "0", "--data", str(corpus),
                     "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["options"] == {"order": 3, "prune": 0}
    assert cli.main(["train", "--model", "lstm", "--order", "3", "--data", str(corpus), "--out", str(tmp_path / "x")]) == 1
    assert "--order applies to ngram models only (--model ngram), not lstm" in capsys.readouterr().err


def test_compare_adds_the_baseline_only_when_asked_on_the_same_random_stream(four):
    view = app.build_demo(four).view
    assert [m.name for m in view.baselines] == ["ngram"]
    *outputs, notes, copies = list(view.compare("BRUTUS:\n", 30, 0.8, 0, 1.0, "5"))[-1]
    texts, stats = outputs[:4], outputs[4:]
    assert texts[3] == "" and stats[3] == "not compared" and all(len(t) == 30 for t in texts[:3])
    *outputs, notes, copies = list(view.compare("BRUTUS:\n", 30, 0.8, 0, 1.0, "5", True))[-1]
    assert len(outputs[3]) == 30 and copies == ""
    alone = list(view.generate("ngram", "BRUTUS:\n", 30, 0.8, 0, 1.0, "5"))[-1][0]
    assert outputs[3] == alone  # one uniform per character, seeded alike: what generate gives (its continuation)


def test_score_shows_the_baseline_row_and_flags_a_passage_from_the_training_text(four):
    view = app.build_demo(four).view
    table, _, *labels, notes = view.score("BRUTUS:\nThe night is long that never finds the day.\n\nPORTIA:\n")
    rows = {row[0]: row for row in table}
    assert set(rows) == {"vanilla RNN", "LSTM", "GRU", "n-gram baseline"}
    assert all(math.isfinite(r[1]) for r in rows.values())
    assert "whole passage occurs in the models' training text" in notes
    _, _, *_, notes = view.score("Quantum chromodynamics explains the strong force between quarks.")
    assert "training text" not in notes


def test_copies_of_the_training_text_are_marked_in_generate_and_compare(four):
    view = app.build_demo(four).view
    *_, copies = list(view.generate("ngram", "BRUTUS:\n", 200, 0.0, 0, 1.0, "1", True))[-1]
    assert "longest copy from the training text" in copies and "<mark>" in copies  # greedy: the play, recited
    *_, copies = list(view.compare("BRUTUS:\n", 60, 0.8, 0, 1.0, "2", True, True))[-1]
    assert copies.count('class="copies"') == 4


def test_cli_marks_copied_text(four, capsys):
    folder = next(m.folder for m in four if m.name == "ngram")
    assert cli.main(["sample", str(folder), "--prompt", "BRUTUS:", "--length", "120", "--temperature", "0",
                     "--show-copied"]) == 0
    out, err = capsys.readouterr()
    assert "[[" in out and "]]" in out and "copied from the training text: longest" in err
    assert cli.main(["sample", str(folder), "--show-copied", "--data", str(folder / "missing.txt")]) == 1
    assert "corpus not found" in capsys.readouterr().err


def test_the_gallery_sets_the_networks_against_the_n_gram_by_order(four):
    g = app.build_demo(four).view.gallery
    curve = g.memory_curve()
    assert sorted(curve) == list(range(1, 13)) and curve[1] > min(curve.values())
    rows = g.memory_rows()
    assert {r["model"] for r in rows} == {"n-gram (by order)", "vanilla RNN", "LSTM", "GRU"}
    caption = g.memory_caption()
    best = min(curve, key=curve.get)
    assert f"best at order {best} ({curve[best] / math.log(2):.3f} bits/char" in caption
    assert all(label in caption for label in ("vanilla RNN (", "LSTM (", "GRU ("))


def test_score_shows_where_the_best_network_beats_the_worst_from_the_numbers(four):
    view = app.build_demo(four).view
    text = "BRUTUS:\nThe night is long that never finds the day.\n"
    table, maps, *_ = view.score(text)
    networks = {row[0]: row[1] for row in table if row[0] != "n-gram baseline"}
    best, worst = min(networks, key=networks.get), max(networks, key=networks.get)
    assert f"Where {best} beats {worst}" in maps
    saved = float(re.search(r"saves (-?[0-9.]+) bits/char", maps).group(1))
    assert saved == pytest.approx(networks[worst] - networks[best], abs=2e-3)  # the table's rounded figures
    assert maps.count("<span class=") >= 2 * len(text)  # the difference map and each model's own map
