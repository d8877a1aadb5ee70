"""Every command of README.md, run as written.

The README's ```bash blocks run in the order they appear, each in its own
`bash -euo pipefail`, in one temporary copy of the repository (its tracked files and the untracked
ones git does not ignore, as in a fresh clone; `.venv` is linked in, `.venv/bin` comes first on
PATH). So `make`, `flowenedet`, `flowenedet_node`, `config/...` and `runs/...` resolve as they do
for a user who cloned the repository and ran `make venv`; later blocks see what earlier ones
wrote. The environment adds a ROS domain of its own and `FLOWENEDET_CACHE` in the temporary folder
(a cold cache, as on a fresh machine).

Convention: a block whose first line is

    # skip-in-test: REASON

is not run; its test case is skipped with REASON (shown by `pytest -rs`, which setup.cfg turns
on). The README marks a block so only when it needs what a test run cannot have: the real data in
../shared, a GPU or TensorRT, a ROS install's CLI (`ros2`, `colcon`, `rosdep`), minutes of CPU
(`make demo`, training), or `make test` itself (which runs this test). Every other block must
exit 0; a failing block fails its own test case and the blocks after it still run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from ros_harness import REPO, ros_environment

pytestmark = pytest.mark.ros

SKIP_MARK = re.compile(r"#\s*skip-in-test:\s*(?P<reason>.+)")
BLOCK_TIMEOUT_S = 600


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence in README.md
    text: str

    @property
    def skip_reason(self) -> str | None:
        first = self.text.lstrip().splitlines()[0] if self.text.strip() else ""
        match = SKIP_MARK.fullmatch(first.strip())
        return match["reason"].strip() if match else None


def bash_blocks(markdown: str) -> list[Block]:
    blocks, lines = [], markdown.splitlines()
    index = 0
    while index < len(lines):
        if lines[index].strip() == "```bash":
            end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == "```")
            blocks.append(Block(index + 1, "\n".join(lines[index + 1:end])))
            index = end
        index += 1
    return blocks


BLOCKS = bash_blocks((REPO / "README.md").read_text())


def fresh_copy(destination: Path) -> None:
    """The repository as a clone has it: files git tracks or would track, without build outputs."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # deleted in the working tree: not in a clone made from it
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    (destination / ".venv").symlink_to(REPO / ".venv")


class Runner:
    """Runs the blocks in README order, each at most once, whichever test asks first."""

    def __init__(self, root: Path) -> None:
        self.root = root / "flowenedet"
        self.root.mkdir()
        fresh_copy(self.root)
        environment = ros_environment()
        environment["PATH"] = f"{REPO / '.venv' / 'bin'}{os.pathsep}{environment['PATH']}"
        environment["FLOWENEDET_CACHE"] = str(root / "cache")
        self.environment = environment
        self.results: dict[int, subprocess.CompletedProcess | None] = {}

    def result(self, position: int) -> subprocess.CompletedProcess | None:
        for earlier in range(position + 1):
            if earlier not in self.results:
                self.results[earlier] = self._run(BLOCKS[earlier])
        return self.results[position]

    def _run(self, block: Block) -> subprocess.CompletedProcess | None:
        if block.skip_reason:
            return None
        try:
            return subprocess.run(["bash", "-euo", "pipefail", "-c", block.text], cwd=self.root,
                                  env=self.environment, capture_output=True, text=True,
                                  timeout=BLOCK_TIMEOUT_S)
        except subprocess.TimeoutExpired as error:
            return subprocess.CompletedProcess(error.cmd, 124, str(error.stdout or ""),
                                               f"timed out after {BLOCK_TIMEOUT_S} s")


@pytest.fixture(scope="module")
def runner(tmp_path_factory) -> Runner:
    return Runner(tmp_path_factory.mktemp("readme"))


def test_the_readme_has_commands_and_marks_the_ones_it_cannot_run():
    assert len(BLOCKS) >= 10
    assert any(block.skip_reason is None for block in BLOCKS)
    for block in BLOCKS:
        assert block.text.strip(), f"README.md:{block.line}: empty bash block"


@pytest.mark.parametrize("position", range(len(BLOCKS)),
                         ids=[f"line{block.line}" for block in BLOCKS])
def test_readme_block_runs_as_written(runner, position):
    block = BLOCKS[position]
    if block.skip_reason:
        pytest.skip(f"README.md:{block.line}: {block.skip_reason}")
    result = runner.result(position)
    assert result.returncode == 0, (
        f"README.md:{block.line} exited {result.returncode}:\n{block.text}\n"
        f"--- stdout (end)\n{result.stdout[-4000:]}\n--- stderr (end)\n{result.stderr[-4000:]}")


def test_blocks_are_found_and_skip_marks_read():
    blocks = bash_blocks("text\n```bash\n# skip-in-test: needs a GPU\nnvidia-smi\n```\n"
                         "```bash\necho hi\n```\n```\nnot bash\n```\n")
    assert [(b.line, b.skip_reason) for b in blocks] == [(2, "needs a GPU"), (6, None)]
