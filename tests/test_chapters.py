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
