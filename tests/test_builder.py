"""solutions/ -> labs/: answers stubbed, outputs cleared, staleness detected."""

import nbformat
import pytest

from lablib import chapters, notebooks
from lablib.calibration import LIMIT_CU
from lablib.errors import LabError


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"lab": {"chapter": "99", "budget_cu": 2}, "papermill": {"x": 1}}
    for i, cell in enumerate(cells):
        cell["id"] = f"c{i}"
        nb.cells.append(cell)
    return nb


def test_code_region_becomes_stub_keeping_indent():
    src = "x = 1\nif True:\n    # BEGIN SOLUTION\n    y = secret()\n    # END SOLUTION\nprint(x)"
    out = notebooks.strip_code(src)
    assert "secret" not in out
    assert "    # TODO: your turn" in out
    assert '    raise NotImplementedError("your turn' in out
    assert out.startswith("x = 1\n") and out.endswith("print(x)")


def test_stub_lines_are_the_starting_code():
    src = "# BEGIN SOLUTION\n# STUB: answer = None  # your DataFrame\nanswer = compute()\n# END SOLUTION"
    out = notebooks.strip_code(src)
    assert "answer = None  # your DataFrame" in out
    assert "compute" not in out and "NotImplementedError" not in out


def test_unclosed_region_is_an_error():
    with pytest.raises(LabError, match="no '# END SOLUTION'"):
        notebooks.strip_code("# BEGIN SOLUTION\nx = 1\n")


def test_markdown_answer_hidden():
    md = "Question?\n<!-- BEGIN SOLUTION -->\nBecause of **shuffles**.\n<!-- END SOLUTION -->\nNext."
    out = notebooks.strip_markdown(md)
    assert "shuffles" not in out and "*Your answer here.*" in out and out.endswith("Next.")


def test_lab_has_no_outputs_and_normalised_metadata():
    code = nbformat.v4.new_code_cell("# BEGIN SOLUTION\nz = 2\n# END SOLUTION", execution_count=3,
                                     outputs=[nbformat.v4.new_output("stream", text="2")],
                                     metadata={"tags": ["keep"], "papermill": {"duration": 1}})
    lab = notebooks.to_lab(_nb(code, nbformat.v4.new_markdown_cell("hi")))
    cell = lab.cells[0]
    assert cell.outputs == [] and cell.execution_count is None
    assert cell.metadata == {"tags": ["keep"]}
    assert "papermill" not in lab.metadata and lab.metadata["lab"]["budget_cu"] == 2
    nbformat.validate(lab)


def test_committed_labs_are_current():
    # the same test as `lab build --check`, which CI also runs
    assert notebooks.stale_labs() == []


def test_stale_lab_is_named(tmp_path, monkeypatch):
    solutions, labs = tmp_path / "solutions", tmp_path / "labs"
    solutions.mkdir()
    labs.mkdir()
    nb = _nb(nbformat.v4.new_code_cell("# BEGIN SOLUTION\nz = 2\n# END SOLUTION"))
    nbformat.write(nb, solutions / "42_topic.ipynb")
    monkeypatch.setattr(chapters, "SOLUTIONS", solutions)
    monkeypatch.setattr(chapters, "LABS", labs)
    assert notebooks.stale_labs() == ["42_topic.ipynb"]
    notebooks.build_all()
    assert notebooks.stale_labs() == []
    (labs / "42_topic.ipynb").write_text((labs / "42_topic.ipynb").read_text().replace("your turn", "edited"))
    assert notebooks.stale_labs() == ["42_topic.ipynb"]
    (labs / "07_orphan.ipynb").write_text("{}")
    assert "07_orphan.ipynb (no solution)" in notebooks.stale_labs()


def test_every_solution_declares_a_budget_and_parameters():
    for ch in chapters.all_chapters():
        nb = nbformat.read(ch.solution, as_version=4)
        meta = nb.metadata.get("lab", {})
        assert meta.get("chapter") == ch.number, ch.name
        assert 0 < float(meta.get("budget_cu", 0)) <= LIMIT_CU, ch.name  # calibration units (lablib.calibration)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and "SCALE" in tagged[0].source, ch.name


def test_solutions_carry_no_absolute_paths_or_host_names():
    import os
    import re
    import socket

    paths = [str(chapters.SOLUTIONS.parent), os.path.expanduser("~"), "/tmp"]
    host = socket.gethostname()
    for ch in chapters.all_chapters():
        # base64 images left out: their payloads hold "/tmp/" or a short host name like "vm" by chance
        words = _without_images(ch.solution)
        for needle in paths:
            assert needle + "/" not in words and f"'{needle}'" not in words, (ch.name, needle)
        # a host name as a whole word (a short one like "vm" also sits inside "jvm")
        assert not re.search(rf"(?<![\w.-]){re.escape(host)}(?![\w-])", words), (ch.name, host)


def _without_images(path) -> str:
    """A notebook's text with the base64 payloads of its images left out."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for mime in list(out.get("data", {})):
                if mime.startswith("image/") and mime != "image/svg+xml":
                    out["data"][mime] = ""
    return nbformat.writes(nb)


def test_images_are_left_out_but_printed_text_is_not(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(host)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="on /tmp/x\n"),
                    nbformat.v4.new_output("display_data", data={"image/png": "iVBvm/tmp/A=", "text/plain": "fig"})]
    nb.cells = [cell]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    words = _without_images(path)
    assert "on /tmp/x" in words and "print(host)" in words and "iVBvm" not in words
