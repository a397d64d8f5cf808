"""McRae feature norms and THINGS concepts: the real files, written edge cases, bad rows."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from reader_files import write_image

from vislang.data.readers import read_dataset
from vislang.data.schema import AttributeNorms
from vislang.errors import DataFormatError

BANANA = {  # feature: (BR_Label, Prod_Freq), rows 240-254 of CONCS_FEATS_concstats_brm.txt
    "a_fruit": ("taxonomic", 25),
    "eaten_by_monkeys": ("function", 9),
    "eaten_by_peeling": ("function", 10),
    "grows_in_tropical_climates": ("encyclopaedic", 7),
    "grows_on_trees": ("encyclopaedic", 11),
    "has_a_skin": ("visual-form_and_surface", 5),
    "has_peel": ("visual-form_and_surface", 7),
    "is_edible": ("function", 13),
    "is_green": ("visual-colour", 7),
    "is_healthy": ("encyclopaedic", 6),
    "is_long": ("visual-form_and_surface", 9),
    "is_round": ("visual-form_and_surface", 5),
    "is_soft": ("tactile", 12),
    "is_yellow": ("visual-colour", 29),
    "tastes_good": ("taste", 9),
}


@pytest.fixture(scope="module")
def mcrae(shared_data: Path) -> AttributeNorms:
    (norms,) = read_dataset(f"mcrae:{shared_data / 'mcrae'}").records
    return norms


@pytest.fixture(scope="module")
def things(shared_data: Path) -> AttributeNorms:
    (norms,) = read_dataset(f"things:{shared_data / 'things'}").records
    return norms


def test_mcrae_sizes(mcrae: AttributeNorms) -> None:
    assert (len(mcrae.concepts), len(mcrae.attributes)) == (541, 2526)
    assert mcrae.meta["rows"] == 7259
    assert sum(len(c) for c in mcrae.positives.values()) == 7257  # 2 pairs are listed twice
    assert mcrae.concepts[0] == "accordion" and "bat_(animal)" in mcrae.concepts


def test_mcrae_banana(mcrae: AttributeNorms) -> None:
    features = {f for f, concepts in mcrae.positives.items() if "banana" in concepts}
    assert features == set(BANANA)
    assert mcrae.meta["prod_freq"]["banana"] == {f: n for f, (_, n) in BANANA.items()}
    for feature, (label, _) in BANANA.items():
        assert mcrae.knowledge_type[feature] == label
    row = mcrae.concepts.index("banana")
    column = mcrae.attributes.index("is_yellow")
    assert mcrae.matrix()[row, column]


def test_mcrae_features_with_several_knowledge_types(mcrae: AttributeNorms) -> None:
    ambiguous = mcrae.meta["br_label_by_concept"]
    assert set(ambiguous) == {
        "has_a_bell", "has_candles", "has_elevators", "has_pipes", "has_taps", "is_dark",
    }  # fmt: skip
    assert ambiguous["is_dark"]["prune"] == "visual-colour"
    assert mcrae.knowledge_type["is_dark"] == "visual-form_and_surface"  # 3 concepts to 1
    assert mcrae.knowledge_type["has_pipes"] == "encyclopaedic"  # 2 to 1
    # 1 to 1: bike (encyclopaedic, 6 participants) outweighs typewriter (visual, 5)
    assert mcrae.knowledge_type["has_a_bell"] == "encyclopaedic"
    assert mcrae.knowledge_type["has_elevators"] == "visual-form_and_surface"  # 15 to 5


def test_mcrae_duplicate_rows_keep_the_larger_frequency(mcrae: AttributeNorms) -> None:
    duplicates = {
        (d["concept"], d["feature"]): d["prod_freq"] for d in mcrae.meta["duplicate_rows"]
    }
    assert duplicates == {
        ("harpoon", "used_for_killing"): [6, 8],
        ("pen", "used_for_writing"): [5, 16],
    }
    assert mcrae.meta["prod_freq"]["pen"]["used_for_writing"] == 16


def test_mcrae_knowledge_type_counts(mcrae: AttributeNorms) -> None:
    counts = Counter(mcrae.knowledge_type.values())
    assert counts["taxonomic"] == 207 and counts["visual-colour"] == 34 and counts["smell"] == 7
    assert sum(counts.values()) == 2526


HEADER = "Concept\tFeature\tWB_Label\tBR_Label\tProd_Freq\n"


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("apple\tis_red\texternal_surface_property\tvisual-colour\tmany\n", "Prod_Freq"),
        ("apple\tis_red\texternal_surface_property\tvisual-red\t12\n", "BR_Label"),
        ("apple\t\texternal_surface_property\tvisual-colour\t12\n", "Feature"),
    ],
)
def test_mcrae_bad_rows_name_line_and_column(tmp_path: Path, row: str, field: str) -> None:
    file = tmp_path / "CONCS_FEATS_concstats_brm.txt"
    file.write_text(HEADER + "apple\ta_fruit\tsuperordinate\ttaxonomic\t20\n" + row)
    with pytest.raises(DataFormatError) as info:
        read_dataset(f"mcrae:{tmp_path}")
    assert (info.value.line, info.value.field) == (3, field)


def test_mcrae_missing_column(tmp_path: Path) -> None:
    file = tmp_path / "norms.txt"
    file.write_text("Concept\tFeature\tBR_Label\napple\ta_fruit\ttaxonomic\n")
    with pytest.raises(DataFormatError, match="column missing") as info:
        read_dataset(f"mcrae:{file}")
    assert (info.value.line, info.value.field) == (1, "Prod_Freq")


def test_mcrae_row_with_too_few_cells_can_be_skipped(tmp_path: Path) -> None:
    file = tmp_path / "norms.txt"
    file.write_text(HEADER + "apple\ta_fruit\tsuperordinate\ttaxonomic\t20\npear\tis_green\n")
    with pytest.raises(DataFormatError, match="has 2 cells") as info:
        read_dataset(f"mcrae:{file}")
    assert info.value.line == 3
    data = read_dataset(f"mcrae:{file}", on_bad_item="skip")
    assert data.records[0].concepts == ("apple",)
    assert [s.line for s in data.skipped] == [3]


def test_things_sizes_and_categories(things: AttributeNorms) -> None:
    assert (len(things.concepts), len(things.attributes)) == (1854, 53)
    assert things.attributes[:3] == ("animal", "bird", "body part")
    assert set(things.knowledge_type.values()) == {"taxonomic"}
    assert len(things.positives["animal"]) == 177
    assert len(things.positives["food"]) == 295
    assert things.meta["category_totals"]["mammal"] == 88
    assert sum(len(c) for c in things.positives.values()) == 2355


def test_things_specific_concepts(things: AttributeNorms) -> None:
    def categories(concept: str) -> set[str]:
        return {c for c, members in things.positives.items() if concept in members}

    assert categories("aardvark") == {"animal", "mammal"}
    assert categories("air conditioner") == {"electronic device", "home appliance"}
    assert categories("acorn") == set()
    assert categories("bat1") == {"animal", "mammal"}
    assert categories("bat2") == {"sports equipment", "weapon"}
    assert "bat" not in things.concepts
    assert things.meta["words"]["bat2"] == "bat"
    assert things.meta["definitions"]["bat2"] == "a club used for hitting a ball in various games"
    assert [c for c in things.concepts if c.startswith("baton")] == [
        f"baton{k}" for k in range(1, 5)
    ]


def _things_file(folder: Path, rows: list[str]) -> Path:
    header = "Word\tDefinition (from WordNet, Google, or Wikipedia)\tanimal\tfruit\n"
    file = folder / "things_concepts.tsv"
    file.write_text(header + "".join(rows), encoding="utf-8")
    return file


def test_things_bad_flag_names_line_and_category(tmp_path: Path) -> None:
    _things_file(tmp_path, ["apple\ta fruit\t\t1\n", "dog\ta dog\tyes\t\n"])
    with pytest.raises(DataFormatError) as info:
        read_dataset(f"things:{tmp_path}")
    assert (info.value.line, info.value.field) == (3, "animal")


def test_things_totals_row_is_checked(tmp_path: Path) -> None:
    _things_file(tmp_path, ["apple\ta fruit\t\t1\n", "dog\ta dog\t1\t\n", "\t\t2\t1\n"])
    with pytest.raises(DataFormatError, match="totals row says 2") as info:
        read_dataset(f"things:{tmp_path}")
    assert (info.value.line, info.value.field) == (4, "animal")


def test_things_concept_images(tmp_path: Path) -> None:
    _things_file(tmp_path, ["apple\ta fruit\t\t1\n", "dog\ta dog\t1\t\n"])
    images = tmp_path / "object_images"
    write_image(images / "apple" / "apple_01b.jpg")
    write_image(images / "apple" / "apple_02s.jpg")
    data = read_dataset(f"things:{tmp_path}", images=images)
    (norms,) = data.records
    assert [p.name for p in norms.concept_images["apple"]] == ["apple_01b.jpg", "apple_02s.jpg"]
    assert data.meta["concepts_without_images"] == ["dog"]
    assert data.missing_images == []
