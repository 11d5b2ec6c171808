"""Chapter names and the errors a wrong one gives."""

import pytest

from lablib import chapters
from lablib.errors import LabError


def test_chapters_are_discovered_in_order():
    numbers = [ch.number for ch in chapters.all_chapters()]
    assert numbers and numbers == sorted(numbers) and numbers[0] == "00"


@pytest.mark.parametrize("given", ["0", "00", 0, "ch00", "00_setup"])
def test_forms_of_a_chapter(given):
    assert chapters.get(given).number == "00"


def test_unknown_chapter_lists_the_real_ones():
    with pytest.raises(LabError, match=r"^no chapter 99; chapters are 00"):
        chapters.get("99")


def test_nonsense_is_rejected():
    with pytest.raises(LabError, match="'banana' is not a chapter number"):
        chapters.get("banana")


def test_a_chapter_in_parts_selects_every_part_in_order():
    names = [ch.name for ch in chapters.parts("03")]
    assert len(names) > 1 and names == sorted(names)
    assert [ch.part for ch in chapters.parts("03")] == [n[2] for n in names]
    assert {ch.number for ch in chapters.parts("3")} == {"03"}


def test_one_part_by_its_letter_or_its_name():
    first = chapters.parts("03")[0]
    assert chapters.get(f"03{first.part}") == first
    assert chapters.get(first.name) == first
    assert chapters.normalise(first.name) == "03"


def test_get_asks_for_a_part_when_a_chapter_has_several():
    with pytest.raises(LabError, match=r"^chapter 03 comes in parts \(03a_"):
        chapters.get("03")


def test_an_unknown_part_is_named():
    with pytest.raises(LabError, match=r"^no chapter 03z; chapters are 00"):
        chapters.parts("03z")


def test_select_keeps_course_order_and_drops_repeats():
    picked = [ch.name for ch in chapters.select(["03", "00", "03a"])]
    assert picked[0].startswith("00_") and picked[1:] == [ch.name for ch in chapters.parts("03")]
