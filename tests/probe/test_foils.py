"""The foil probe on hand-built score tables: acc_r per phenomenon and category with strict
comparisons, the match-head scores, and what is left out."""

from __future__ import annotations

import pytest
from score_tables import TableScorer

from vislang.data.schema import FoilExample
from vislang.errors import ConfigError
from vislang.probe.foils import foil_table_scores, probe_foils


def test_acc_r_per_phenomenon_and_category_counts_strict_wins() -> None:
    phenomena = ["counting"] * 4 + ["existence"] * 2 + ["noun_replacement"] * 2 + ["coref"]
    caption = [0.9, 0.5, 0.3, 0.4, 0.2, 0.8, 0.7, 0.7, 0.1]
    foil = [0.1, 0.5, 0.6, 0.2, 0.1, 0.9, 0.1, 0.9, 0.0]
    probe = foil_table_scores(phenomena, caption, foil)
    # counting: wins 0.9>0.1, 0.4>0.2; the tie 0.5=0.5 fails
    assert probe.phenomena["counting"].acc_r == pytest.approx(2 / 4)
    assert probe.phenomena["existence"].acc_r == pytest.approx(1 / 2)
    assert probe.phenomena["noun_replacement"].acc_r == pytest.approx(1 / 2)
    assert probe.phenomena["coref"].items == 1
    # object pools existence and noun replacement; coreference has no category
    assert probe.categories["object"].acc_r == pytest.approx(2 / 4)
    assert probe.categories["attribute"].acc_r == pytest.approx(2 / 4)
    assert "relation" not in probe.categories
    assert probe.overall.acc_r == pytest.approx(5 / 9) and probe.overall.items == 9
    assert probe.overall.p_c is None and probe.overall.auroc is None


def test_match_probabilities_give_p_c_p_f_acc_and_auroc() -> None:
    caption = [0.9, 0.6, 0.4, 0.8]
    foil = [0.2, 0.7, 0.3, 0.5]
    probe = foil_table_scores(["counting"] * 4, caption, foil, score_type="match")
    scores = probe.phenomena["counting"]
    assert scores.p_c == pytest.approx(3 / 4)  # 0.9, 0.6, 0.8 > 0.5
    assert scores.p_f == pytest.approx(3 / 4)  # 0.2, 0.3, 0.5 <= 0.5
    assert scores.acc == pytest.approx(3 / 4)
    # AUROC: share of (caption, foil) pairs ranked right: 13 of 16
    assert scores.auroc == pytest.approx(13 / 16)
    assert scores.acc_r == pytest.approx(3 / 4)


def test_mismatched_table_is_refused() -> None:
    with pytest.raises(ValueError, match="2 phenomena, 3 caption scores"):
        foil_table_scores(["a", "b"], [1, 2, 3], [1, 2, 3])


def _item(name: str, image, phenomenon: str, valid: bool = True) -> FoilExample:
    return FoilExample(
        id=name,
        image=image,
        caption=f"{name} caption",
        foil=f"{name} foil",
        phenomenon=phenomenon,
        language="en",
        source="test",
        valid=valid,
    )


def test_probe_scores_caption_and_foil_against_the_image_and_reports_what_it_left_out(
    tmp_path,
) -> None:
    for name in ("a.png", "b.png", "broken.png"):
        (tmp_path / name).write_bytes(b"")
    items = [
        _item("one", tmp_path / "a.png", "counting"),
        _item("two", tmp_path / "b.png", "counting"),
        _item("three", tmp_path / "a.png", "spatial_relation"),
        _item("invalid", tmp_path / "a.png", "counting", valid=False),
        _item("absent", tmp_path / "missing.png", "counting"),
        _item("bad", tmp_path / "broken.png", "counting"),
    ]
    table = {
        ("a.png", "one caption"): 2.0,
        ("a.png", "one foil"): 1.0,
        ("b.png", "two caption"): 1.0,
        ("b.png", "two foil"): 3.0,
        ("a.png", "three caption"): 5.0,
        ("a.png", "three foil"): 4.0,
    }
    scorer = TableScorer(table)
    probe = probe_foils(scorer, items)
    assert scorer.calls == [8]  # four items kept, two texts each, in one call
    assert probe.phenomena["counting"].acc_r == pytest.approx(0.5)
    assert probe.phenomena["spatial_relation"].acc_r == 1.0
    assert probe.categories["relation"].items == 1
    assert probe.left_out == {"invalid": 1, "missing_image": 1, "undecodable_image": 1}
    assert probe.failed_images[0][0].endswith("broken.png")
    as_dict = probe.to_dict()
    assert as_dict["chance_acc_r"] == 0.5 and as_dict["overall"]["items"] == 3


def test_text_only_scores_keep_items_without_images() -> None:
    items = [_item("one", None, "counting"), _item("two", None, "counting")]
    scorer = TableScorer(
        {
            (None, "one caption"): -1.0,
            (None, "one foil"): -2.0,
            (None, "two caption"): -3.0,
            (None, "two foil"): -2.5,
        },
        score_type="text_loglik",
        needs_images=False,
    )
    probe = probe_foils(scorer, items)
    assert probe.overall.acc_r == pytest.approx(0.5) and probe.left_out == {}


def test_nothing_to_score_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="1 invalid"):
        probe_foils(TableScorer({}), [_item("x", tmp_path / "a.png", "counting", valid=False)])


def test_acc_r_against_chance_by_hand() -> None:
    probe = foil_table_scores(["counting"] * 10, [1] * 8 + [0] * 2, [0] * 10)
    numbers = probe.to_dict()["phenomena"]["counting"]
    assert numbers["acc_r"] == pytest.approx(0.8)
    # P(X >= 8) for X ~ Binomial(10, 0.5): (45 + 10 + 1) / 1024
    assert numbers["p_above_chance"] == pytest.approx(56 / 1024)
    # Wilson: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), z = 1.96
    low, high = numbers["acc_r_ci95"]
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
