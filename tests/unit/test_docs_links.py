"""The documentation holds together: every relative link in README.md and docs/*.md reaches a
file that exists and, when it names an `#anchor`, a heading of that page; and the README
stays short enough to read on a screen or three (the depth lives in docs/).

Pure: reads Markdown files, nothing else."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README_MAX_LINES = 300

# [text](target) and ![alt](target); the target ends at whitespace or the closing parenthesis
# (an optional "title" after it is ignored).
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`+[^`]*`+")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _prose_lines(text: str):
    """(line number, line) outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text without Markdown, lower-cased, every
    character but letters, digits, '_', '-' and spaces dropped, spaces made hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").lower()
    text = "".join(ch for ch in text if ch.isalnum() or ch in "_- ")
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor on a page, repeats numbered as GitHub numbers them (-1, -2...)."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _prose_lines(page.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> list[tuple[int, str]]:
    """(line number, target) of every link and image on a page, outside code."""
    out = []
    for number, line in _prose_lines(page.read_text(encoding="utf-8")):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            out.append((number, match.group(1)))
    return out


def broken_links(page: Path) -> list[str]:
    problems = []
    for number, target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # http(s), mailto: not this test's business
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        where = f"{page.relative_to(ROOT)}:{number}: {target}"
        if not destination.exists():
            problems.append(f"{where}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            problems.append(f"{where}: no heading with the anchor #{anchor} in {destination.relative_to(ROOT)}")
    return problems


def test_given_the_readme_and_docs_when_every_relative_link_is_followed_then_each_file_and_anchor_exists():
    # Given README.md and every page in docs/
    assert (ROOT / "docs").is_dir()
    # When every relative link and image is followed
    problems = [problem for page in pages() for problem in broken_links(page)]
    # Then each reaches a file, and each #anchor a heading of that page
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_given_the_readme_then_it_fits_in_three_hundred_lines():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move the depth to docs/ and link it")


def test_given_headings_when_slugged_then_the_anchors_are_githubs():
    assert slug("The `timeline` command") == "the-timeline-command"
    assert slug("HTTP API (v1)") == "http-api-v1"
    assert slug("Follow / unfollow") == "follow--unfollow"
    assert slug("Hot keys: where the load lands (issue 23)") == "hot-keys-where-the-load-lands-issue-23"


def test_given_a_page_when_its_links_are_read_then_code_is_not_taken_for_links(tmp_path):
    # Given a page with a link, an image, a link inside inline code and one inside a code block
    page = tmp_path / "page.md"
    page.write_text("# Title\n\nSee [a](other.md#x) and ![img](pic.png).\n"
                    "Not `[code](nowhere.md)`.\n\n```\n[block](nowhere.md)\n```\n", encoding="utf-8")
    # When its links are read, then only the prose's two are found
    assert links(page) == [(3, "other.md#x"), (3, "pic.png")]
    assert anchors(page) == {"title"}
