"""The README and docs cannot drift from the code: every command shown in a ```bash block
parses with the command's own parser (lipmotion subcommands in-process, through
``build_parser()``: cheap, no subprocess per command), every script it runs exists, and every
relative link and image points to a file (and heading) that exists."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shlex
from pathlib import Path

import pytest

from lipmotion_tf.cli.main import build_parser

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "export" / "README.md"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
OPERATORS = {";", "&&", "||", "|", "&", ">", ">>", "<", "2>", "(", ")"}


def _name(path: Path) -> str:
    return str(path.relative_to(REPO))


def bash_blocks(path: Path) -> list[str]:
    return [body for lang, body in FENCE.findall(path.read_text()) if lang == "bash"]


def simple_commands(block: str) -> list[list[str]]:
    """The simple commands of a bash block: continuation lines joined, comments dropped,
    split at shell operators. The docs' option notation is read as a user would type it:
    ``[--flag value]`` as ``--flag value`` and ``a|b|c`` (no spaces) as ``a``."""
    text = block.replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        line = line.replace("[", " ").replace("]", " ")
        line = re.sub(r"(?<=[\w.])\|[\w.|]+", "", line)  # float16|dynamic|int8 -> float16
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        for token in lexer:
            if token in OPERATORS:
                if current:
                    commands.append(current)
                current = []
            else:
                current.append(token)
        if current:
            commands.append(current)
    return commands


def documented_commands() -> list[tuple[str, list[str]]]:
    found = []
    for path in DOCS:
        for block in bash_blocks(path):
            for command in simple_commands(block):
                found.append((_name(path), command))
    return found


def lipmotion_commands() -> list[tuple[str, list[str]]]:
    """(document, arguments after ``lipmotion``) for every lipmotion command shown."""
    return [(doc, command[1:]) for doc, command in documented_commands()
            if command[0] == "lipmotion" or command[0].endswith("/lipmotion")]


def _parse(arguments: list[str], parser=None) -> tuple[int | None, str]:
    """Exit code of parsing (None: parsed) and what the parser printed."""
    parser = parser or build_parser()
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            parser.parse_args(arguments)
    except SystemExit as exit_info:
        return exit_info.code, out.getvalue()
    return None, out.getvalue()


def _subcommand_path(arguments: list[str]) -> list[str]:
    """The subcommand words (``generate``, ``export tflite``) at the start of ``arguments``."""
    path = []
    for word in arguments:
        if word.startswith("-"):
            break
        path.append(word)
        if word != "export":
            break
    return path


def test_the_docs_show_lipmotion_commands():
    # The README shows the main subcommands; a broken extraction would make the tests below
    # pass on nothing.
    shown = {" ".join(_subcommand_path(arguments)) for _, arguments in lipmotion_commands()}
    for name in ("generate", "dub", "adapt", "prepare", "train", "evaluate", "serve",
                 "export saved-model", "export tflite", "export checkpoint", "pack"):
        assert name in shown, name


def test_every_subcommand_shown_answers_help():
    parser = build_parser()
    subcommands = {tuple(_subcommand_path(arguments)) for _, arguments in lipmotion_commands()}
    for path in sorted(subcommands):
        code, output = _parse([*path, "--help"], parser)
        assert code == 0, f"lipmotion {' '.join(path)} --help: {output}"
        assert "usage: lipmotion" in output


def _id(value) -> str:
    return " ".join(value)[:60] if isinstance(value, list) else value


@pytest.mark.parametrize("doc,arguments", lipmotion_commands(), ids=_id)
def test_every_lipmotion_command_shown_parses(doc, arguments):
    code, output = _parse(arguments)
    assert code is None, f"{doc}: lipmotion {shlex.join(arguments)}\n{output}"


def test_scripts_shown_exist_and_example_arguments_parse():
    makefile = (REPO / "Makefile").read_text()
    for doc, command in documented_commands():
        program, *arguments = command
        if program in ("python", "python3", ".venv/bin/python") and arguments:
            script, *arguments = arguments
            assert (REPO / script).is_file(), f"{doc}: {script} does not exist"
            if script.startswith("examples/"):
                spec = importlib.util.spec_from_file_location(Path(script).stem, REPO / script)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                if hasattr(module, "parse_args"):
                    code, output = _parse(arguments, type("P", (), {
                        "parse_args": staticmethod(module.parse_args)})())
                    assert code is None, f"{doc}: python {script} {shlex.join(arguments)}\n{output}"
                elif script == "examples/export_saved_model.py":
                    code, output = _parse(["export", "saved-model", *arguments])
                    assert code is None, f"{doc}: python {script} {shlex.join(arguments)}\n{output}"
        elif program.startswith(("training/", "benchmarks/", "examples/")):
            assert (REPO / program).is_file(), f"{doc}: {program} does not exist"
        elif program == "make":
            for target in arguments:
                assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), \
                    f"{doc}: make {target}: no such target"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]", lambda m: "_" if m.group() == "_" else "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    anchors, seen = set(), {}
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE):
        slug = _slug(heading)
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def test_every_relative_link_and_image_exists():
    broken = []
    for path in DOCS:
        text = FENCE.sub("", path.read_text())
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{_name(path)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{_name(path)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_readme_is_short_and_keeps_the_motion_section():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 350
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    generate = headings.index("Generate a video")
    assert headings[generate + 1] == "The motion-first model (default)"
