"""Every hook is documented and tested (in the manner of datasette's ``tests/test_docs.py``).

For each hook declared in ``hookspecs.py``:

* ``docs/plugins.md`` has a heading whose text is the hook's full signature
  (``### jobspec_register_transformers(register)``), and the section under it mentions
  every parameter the hook's docstring documents;
* the hook's docstring documents every parameter (``:param NAME:``) and its return;
* ``test_plugins.py`` has a test named ``test_hook_<hook name>``.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from jobspec_core import hookspecs

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "plugins.md"
TEST_PLUGINS = Path(__file__).with_name("test_plugins.py")


def hooks() -> list:
    """The functions of hookspecs.py marked as hook specifications."""
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    found = [
        obj
        for name, obj in vars(hookspecs).items()
        if inspect.isfunction(obj) and hasattr(obj, marker)
    ]
    assert found, "no hookspecs found: has the marker changed?"
    return found


def signature(hook) -> str:
    return f"{hook.__name__}({', '.join(inspect.signature(hook).parameters)})"


def doc_sections() -> dict[str, str]:
    """Heading text -> the text up to the next heading of the same or a higher level."""
    sections: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in DOCS.read_text().splitlines():
        if m := re.match(r"^(#+)\s+(.*?)\s*$", line):
            level = len(m.group(1))
            stack = [(lv, h) for lv, h in stack if lv < level]
            heading = m.group(2).strip("`")
            sections[heading] = ""
            stack.append((level, heading))
        else:
            for _, heading in stack:
                sections[heading] += line + "\n"
    return sections


@pytest.mark.parametrize("hook", hooks(), ids=lambda h: h.__name__)
def test_hook_is_documented_under_its_signature(hook):
    sections = doc_sections()
    assert signature(hook) in sections, (
        f"docs/plugins.md needs a heading '### {signature(hook)}' (found: {sorted(sections)})"
    )
    body = sections[signature(hook)]
    assert len(body.split()) >= 30, f"the section for {hook.__name__} says almost nothing"
    for param in inspect.signature(hook).parameters:
        assert f"`{param}" in body, f"the section for {hook.__name__} never mentions `{param}`"


@pytest.mark.parametrize("hook", hooks(), ids=lambda h: h.__name__)
def test_hook_docstring_is_its_contract(hook):
    doc = inspect.getdoc(hook) or ""
    assert doc.splitlines() and doc.splitlines()[0].strip(), f"{hook.__name__} has no summary"
    for param in inspect.signature(hook).parameters:
        assert f":param {param}:" in doc, f"{hook.__name__} does not document {param}"
    assert ":return:" in doc, f"{hook.__name__} does not say what it returns"


@pytest.mark.parametrize("hook", hooks(), ids=lambda h: h.__name__)
def test_hook_has_a_test(hook):
    tests = TEST_PLUGINS.read_text()
    assert re.search(rf"^def test_hook_{hook.__name__}\(", tests, re.M), (
        f"test_plugins.py needs a test named test_hook_{hook.__name__}"
    )


def test_every_documented_hook_exists():
    """A heading that looks like a hook but names none is a stale page."""
    names = {h.__name__ for h in hooks()}
    for heading in doc_sections():
        if heading.startswith(f"{hookspecs.PROJECT_NAME}_"):
            assert heading.split("(")[0] in names, f"docs/plugins.md documents {heading}"


def test_page_covers_loading_disabling_and_broken_plugins():
    sections = doc_sections()
    for heading in ("How plugins are found", "Broken plugins"):
        assert heading in sections
    text = DOCS.read_text()
    for needle in (
        "[project.entry-points.jobspec]",
        "JOBSPEC_DISABLE_PLUGINS",
        "jobspec transformers",
    ):
        assert needle in text
