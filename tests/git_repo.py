"""Real git repositories for tests and benchmarks, built with the git command line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


class GitRepo:
    def __init__(self, path: Path, default_branch: str = "master") -> None:
        self.path = path
        self._tick = 1_700_000_000
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", f"--initial-branch={default_branch}")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, stdin: str | None = None) -> str:
        self._tick += 60
        date = f"{self._tick} +0000"
        env = {
            **os.environ,
            **_ENV,
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_DATE": date,
            "HOME": str(self.path),
        }
        done = subprocess.run(
            ["git", "-C", str(self.path), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr}")
        return done.stdout.strip()

    def commit(self, message: str, file: str = "file.txt") -> str:
        target = self.path / file
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a") as handle:
            handle.write(message.splitlines()[0] + "\n")
        self.git("add", file)
        self.git("commit", "--quiet", "-m", message)
        return self.head()

    def head(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", ref)

    def checkout(self, branch: str, new: bool = False, start: str | None = None) -> None:
        self.git("checkout", "--quiet", *(["-b", branch] if new else [branch]), *([start] if start else []))

    def merge_request(self, project: str, iid: int, title: str, *, into: str = "master", squash: bool = False) -> str:
        """A merge request merged GitLab's way: a merge commit (or one squashed commit) that says
        "See merge request PROJECT!IID"."""
        reference = f"See merge request {project}!{iid}"
        if squash:
            self.checkout(into)
            return self.commit(f"{title}\n\n{reference}", file=f"mr{iid}.txt")
        branch = f"mr-{iid}"
        self.checkout(branch, new=True, start=into)
        self.commit(title, file=f"mr{iid}.txt")
        self.checkout(into)
        self.git(
            "merge",
            "--quiet",
            "--no-ff",
            branch,
            "-m",
            f"Merge branch '{branch}' into '{into}'\n\n{title}\n\n{reference}",
        )
        return self.head()

    def cherry_pick(self, commit: str, onto: str) -> str:
        self.checkout(onto)
        self.git("cherry-pick", "-x", "-m", "1", commit)
        return self.head()
