"""A git mirror of the application's repository, read with real git.

A local path is used as it is; a URL is cloned (bare: branches and tags) and fetched on an
interval. When fetching fails the mirror keeps answering from what it has and
says how old that is. The histories of deployed revisions (when asked about) and of the newest
releases and the default branch (after each fetch; a local repository's at warm-up) are walked
in the background, so that questions about them are answered without git.
"""

from __future__ import annotations

import asyncio
import os
import re
import string
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from handlers.core.ports import PortKey

__all__ = ["MIRROR", "AmbiguousCommit", "Commit", "CommitNotFound", "GitMirror", "MirrorUnavailable"]

_log = structlog.get_logger("bot")
_HEX = re.compile(r"[0-9a-f]{7,40}")
_MR_REFERENCE = re.compile(r"^See merge request (\S+![0-9]+)\s*$", re.MULTILINE)


class CommitNotFound(LookupError):
    pass


class AmbiguousCommit(LookupError):
    def __init__(self, prefix: str, candidates: list[str]) -> None:
        super().__init__(f"{prefix} is ambiguous: it starts {len(candidates)} commits")
        self.candidates = candidates


class MirrorUnavailable(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    title: str

    @property
    def short(self) -> str:
        return self.sha[:11]


@dataclass(frozen=True, slots=True)
class _Result:
    code: int
    out: str
    err: str


ANCESTRY_CACHE = 100_000  # ancestry answers kept (two SHAs and a bool each)
WALK_WAIT_S = 0.05  # how long a question waits for its revision's walk before asking git itself
REACH_KEPT = 12  # deployed revisions whose reach (the merge request commits they contain) is kept
CARRY_LIMIT = 200  # merge request commits indexed since a walk, asked about one by one; beyond: walk whole
RELEASES_WALKED = 2  # the newest milestones whose release tag and stable branch are walked after each fetch
_FULL_SHA = re.compile(r"[0-9a-f]{40}")


class GitMirror:
    def __init__(
        self,
        path: Path,
        *,
        url: str | None = None,
        default_branch: str = "master",
        fetch_interval: float = 60.0,
        releases: tuple[str, ...] = (),
    ) -> None:
        self.path = path
        self.url = url
        self.default_branch = default_branch
        self.fetch_interval = fetch_interval
        self.fetched_at: float | None = None if url else time.time()
        self.fetch_error: str | None = None
        self._fetching = asyncio.Lock()
        self._index_lock = asyncio.Lock()
        self._mr_index: dict[str, list[Commit]] = {}  # "group/project!iid" → commits, newest first
        self._indexed_tips: frozenset[str] = frozenset()
        # Ancestry of two full SHAs never changes: answers are kept (the oldest dropped past the bound).
        self._ancestry: dict[tuple[str, str], bool] = {}
        self._refs_seen: tuple[int, ...] | None = None  # the refs as last indexed (see _refs_fingerprint)
        self._ref_dirs: list[str] = []  # packed-refs and the ref directories, as last listed
        # Every indexed merge request commit, and a counter that moves when commits are added.
        self._mr_commits: dict[str, int] = {}  # merge request commit → the index generation it came in
        self._by_generation: dict[int, list[str]] = {}  # index generation → the commits it added
        self._index_generation = 0
        # Deployed revision → (index generation, the indexed merge request commits it contains):
        # one walk of its history answers every flag's question about it.
        self._reach: dict[str, tuple[int, frozenset[str]]] = {}
        self._learning: dict[str, asyncio.Task[None]] = {}
        self._walking = asyncio.Lock()
        # Release tags and stable branches ("v{major}.{minor}.0", "{major}-{minor}-stable"): the newest
        # milestones' and the default branch's are walked after each fetch, and kept by name until they move.
        self.releases = releases
        self._release_tips: dict[str, str] = {}  # ref name → the commit walked for it
        self._releasing: asyncio.Task[None] | None = None
        self._relist = False

    async def _git(self, *args: str, stdin: str | None = None, timeout: float = 30.0) -> _Result:
        return await _run("git", "-C", str(self.path), *args, stdin=stdin, timeout=timeout)

    # -- keeping it fresh ------------------------------------------------------------------------

    async def fetch(self) -> bool:
        """Clone (first time) or fetch a URL mirror; True when it is now up to date."""
        if not self.url:
            return True
        async with self._fetching:
            if not (self.path / "HEAD").exists():
                # Branches and tags only: a --mirror clone of GitLab would also bring every
                # refs/merge-requests/* and keep-around ref.
                self.path.parent.mkdir(parents=True, exist_ok=True)
                result = await _run("git", "clone", "--bare", "--quiet", self.url, str(self.path), timeout=600)
                if result.code == 0:
                    await self._git("config", "remote.origin.fetch", "+refs/heads/*:refs/heads/*")
            else:
                result = await self._git("fetch", "--prune", "--tags", "--quiet", "origin", timeout=600)
            if result.code != 0:
                self.fetch_error = result.err.strip().splitlines()[-1] if result.err.strip() else f"exit {result.code}"
                _log.warning("bot.mirror_fetch_failed", url=_redact(self.url), error=self.fetch_error)
                return False
            await self._git("commit-graph", "write", "--reachable", timeout=600)
            self.fetched_at, self.fetch_error = time.time(), None
        await self.warm()  # and the releases are walked, in the background
        return True

    def staleness(self) -> str | None:
        """None when fresh; otherwise a sentence saying how old the answer's data is."""
        if not self.url or self.fetch_error is None:
            return None
        if self.fetched_at is None:
            return f"the mirror of {_redact(self.url)} could not be cloned: {self.fetch_error}"
        age = _age(time.time() - self.fetched_at)
        return f"answered from the mirror as fetched {age} ago; fetching fails: {self.fetch_error}"

    def _ready(self) -> None:
        if not (self.path / "HEAD").exists() and not (self.path / ".git").exists():
            raise MirrorUnavailable(self.staleness() or f"the repository {self.path} is not there (yet)")

    # -- questions -----------------------------------------------------------------------------

    async def resolve(self, prefix: str) -> Commit:
        """The commit a (short) SHA names."""
        self._ready()
        prefix = prefix.lower()
        if not _HEX.fullmatch(prefix):
            raise CommitNotFound(prefix)
        result = await self._git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{prefix}^{{commit}}")
        if result.code != 0:
            candidates = await self._candidates(prefix)
            if len(candidates) > 1:
                raise AmbiguousCommit(prefix, candidates)
            raise CommitNotFound(prefix)
        sha = result.out.strip()
        title = await self._git("log", "-1", "--format=%s", sha)
        return Commit(sha, title.out.strip())

    async def _candidates(self, prefix: str) -> list[str]:
        listed = await self._git("rev-parse", f"--disambiguate={prefix}")
        shas = listed.out.split()
        if not shas:
            return []
        kinds = await self._git("cat-file", "--batch-check=%(objectname) %(objecttype)", stdin="\n".join(shas) + "\n")
        return [line.split()[0] for line in kinds.out.splitlines() if line.endswith(" commit")] or shas

    async def contains(self, commit: str, revision: str) -> bool | None:
        """Whether ``revision`` contains ``commit`` (ancestor or equal); None when unknown here.
        A revision asked about (a deployment, a tag) has its history walked in the background, once,
        after which questions about merge request commits are answered without git."""
        reach = self._reach.get(revision)
        indexed = self._mr_commits.get(commit)
        if reach is None:
            self.learn_soon(revision)
            walk = self._learning.get(revision)
            if walk is not None and indexed is not None:  # from a deployment it descends from, ms
                await asyncio.wait({walk}, timeout=WALK_WAIT_S)
                reach = self._reach.get(revision)
        if reach is not None:
            generation, contained = reach
            if commit in contained:
                return True
            if indexed is not None and indexed <= generation:
                return False  # a merge request commit already indexed when the revision was walked
        return await self._ancestor(commit, revision)

    async def _ancestor(self, commit: str, revision: str) -> bool | None:
        """``git merge-base --is-ancestor``, its answers about two full SHAs kept."""
        key = (commit, revision)
        if key in self._ancestry:
            return self._ancestry[key]
        result = await self._git("merge-base", "--is-ancestor", commit, revision)
        if result.code not in (0, 1):
            return None
        answer = result.code == 0
        if _FULL_SHA.fullmatch(commit) and _FULL_SHA.fullmatch(revision):  # names like master move
            if len(self._ancestry) >= ANCESTRY_CACHE:
                del self._ancestry[next(iter(self._ancestry))]
            self._ancestry[key] = answer
        return answer

    def learn_soon(self, revision: str) -> None:
        """Walk a deployed revision's history in the background (once), so that every question
        about it is then answered without git."""
        if _FULL_SHA.fullmatch(revision) and revision not in self._reach and revision not in self._learning:
            task = asyncio.get_running_loop().create_task(self._walk(revision), name=f"mirror-reach-{revision[:11]}")
            self._learning[revision] = task
            task.add_done_callback(lambda _: self._learning.pop(revision, None))

    async def close(self) -> None:
        """Stop the history walks still running."""
        tasks = [*self._learning.values(), *([self._releasing] if self._releasing else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def learn(self, revision: str) -> None:
        """Walk ``revision``'s history now (once: a walk already under way is waited for)."""
        self.learn_soon(revision)
        walk = self._learning.get(revision)
        if walk is not None:
            await asyncio.wait({walk})

    async def _walk(self, revision: str) -> None:
        """Record which indexed merge request commits ``revision`` contains. From a revision
        walked before that it descends from (master moving on), only the new commits are walked,
        and the merge request commits indexed since that walk are asked about one by one."""
        try:
            self._ready()
            async with self._index_lock:
                await self._refresh_index()
        except MirrorUnavailable:
            return
        async with self._walking:  # one at a time, so the next can start from the one before
            if revision in self._reach:
                return
            generation, commits = self._index_generation, frozenset(self._mr_commits)
            base, contained = await self._from_walked(revision)
            walked = await self._git("rev-list", revision, *((f"^{base}",) if base else ()), timeout=600)
            if walked.code != 0:
                return
            # A million lines are a second of Python: kept off the event loop.
            contained |= await asyncio.to_thread(_merge_request_commits_in, walked.out, commits)
            kept = set(self._release_tips.values())  # kept apart, until their ref moves on
            others = [known for known in self._reach if known not in kept]
            if len(others) >= REACH_KEPT:
                del self._reach[others[0]]
            self._reach[revision] = (generation, frozenset(contained))

    async def _from_walked(self, revision: str) -> tuple[str, set[str]]:
        """The newest revision walked before that ``revision`` descends from, and what it is
        known to contain now (its walk, and the merge request commits indexed since that it
        contains); ("", empty) when there is none, or too much was indexed since to ask. Release
        tags and stable branches come last: little descends from them but their own branch, and
        git walks far to say a deployed revision does not."""
        releases = {sha for name, sha in self._release_tips.items() if name != self.default_branch}
        newest = list(reversed(self._reach))
        for known in [k for k in newest if k not in releases] + [k for k in newest if k in releases]:
            if not await self._ancestor(known, revision):
                continue
            walked_at, contained = self._reach[known]
            since = [c for g, added in self._by_generation.items() if g > walked_at for c in added]
            if len(since) > CARRY_LIMIT:
                break
            carried = {c for c in since if await self._ancestor(c, known)}
            return known, set(contained) | carried
        return "", set()

    async def ref(self, name: str) -> str | None:
        """The commit a branch or tag points at, or None."""
        for full in (f"refs/tags/{name}", f"refs/heads/{name}", f"refs/remotes/origin/{name}"):
            result = await self._git("rev-parse", "--verify", "--quiet", f"{full}^{{commit}}")
            if result.code == 0:
                return result.out.strip()
        return None

    async def merge_request_commits(self, project: str, iid: int) -> list[Commit]:
        """Commits on any branch or tag whose message says "See merge request PROJECT!IID"
        (merge commits, squashed commits, picks), newest first."""
        self._ready()
        async with self._index_lock:
            await self._refresh_index()
        return list(self._mr_index.get(f"{project}!{iid}", ()))

    async def warm(self) -> None:
        """Index merge request references now, then walk the releases in the background, so that
        the first `release check` is fast."""
        try:
            self._ready()
            async with self._index_lock:
                await self._refresh_index()
        except MirrorUnavailable as error:
            _log.warning("bot.mirror_index_failed", error=str(error))
            return
        self.learn_releases()

    def learn_releases(self) -> None:
        """Walk the newest releases' tags and stable branches and the default branch in the
        background, one after the other (each from a walk before that it descends from), so that
        `release check` answers without git; a walk already under way lists them again when done."""
        self._relist = True
        if self._releasing is None or self._releasing.done():
            self._releasing = asyncio.get_running_loop().create_task(self._learn_releases(), name="mirror-releases")

    async def _learn_releases(self) -> None:
        while self._relist:
            self._relist = False
            try:
                tips = await self._releases_now()
            except MirrorUnavailable:
                return
            for name in set(self._release_tips) - set(tips):  # an older milestone now
                self._forget(self._release_tips.pop(name))
            for name, sha in tips.items():  # one walk at a time: a deployment's may come between
                await self.learn(sha)
                before, self._release_tips[name] = self._release_tips.get(name), sha
                if before is not None and before != sha:
                    self._forget(before)  # walked on from, now superseded

    def _forget(self, revision: str) -> None:
        if revision not in self._release_tips.values():
            self._reach.pop(revision, None)

    async def walked(self) -> None:
        """Wait for the walks started so far (the releases', the revisions asked about) to end."""
        while pending := [t for t in (self._releasing, *self._learning.values()) if t is not None and not t.done()]:
            await asyncio.wait(pending)

    async def _releases_now(self) -> dict[str, str]:
        """The commit of each release ref to walk, by name, in the order to walk them: the newest
        RELEASES_WALKED milestones oldest first (tag, then stable branch), then the default branch,
        last, so that refs cut from its last walk are walked from it before it moves on."""
        self._ready()
        patterns = [_name_pattern(p) for p in self.releases]
        globs = [_glob(p) for p in (*self.releases, self.default_branch.replace("{", "{{").replace("}", "}}"))]
        places = ("refs/tags/", "refs/heads/", "refs/remotes/origin/")  # as ref() looks for a name
        listed = await self._git(
            "for-each-ref",
            "--format=%(refname)%00%(objectname)%00%(*objectname)",
            *(place + glob for place in places for glob in globs),
        )
        commits: dict[str, str] = {}
        for record in listed.out.splitlines():
            refname, _, shas = record.partition("\x00")
            sha, _, peeled = shas.partition("\x00")
            name = next((refname.removeprefix(place) for place in places if refname.startswith(place)), refname)
            commits.setdefault(name, peeled or sha)  # tags first, as ref() resolves a name
        milestones: dict[tuple[int, int], list[str]] = {}
        for pattern in patterns:
            for name in commits:
                if found := pattern.fullmatch(name):
                    milestones.setdefault((int(found["major"]), int(found["minor"])), []).append(name)
        newest = sorted(milestones)[-RELEASES_WALKED:]
        names = [*(name for milestone in newest for name in milestones[milestone]), self.default_branch]
        return {name: commits[name] for name in names if name in commits}

    def _refs_fingerprint(self) -> tuple[int, ...] | None:
        """The modification times of the ref directories and packed-refs: git rewrites refs by
        renaming lock files into place, so any ref change moves one. None when it cannot be read.
        A mirror of a URL changes only when the bot fetches it: then the fetch's time is enough."""
        if self.url:
            return (int((self.fetched_at or 0) * 1e9),)
        git_dir = self.path / ".git" if (self.path / ".git").is_dir() else self.path
        try:
            if self._ref_dirs:  # stat the directories known (a new one moves its parent's time)
                times = tuple(os.stat(folder).st_mtime_ns for folder in self._ref_dirs)
                if times == self._refs_seen:
                    return times
            packed = git_dir / "packed-refs"
            self._ref_dirs = [str(packed) if packed.exists() else str(git_dir)]  # (a repository's own time)
            self._ref_dirs += [folder for folder, _, _ in os.walk(git_dir / "refs")]  # every ref file: only now
            return tuple(os.stat(folder).st_mtime_ns for folder in self._ref_dirs)
        except OSError:
            self._ref_dirs = []
            return None

    async def _refresh_index(self) -> None:
        """Index the messages of commits not indexed yet (all of them, the first time). Listing
        the refs costs a process (and, with thousands of branches, a tenth of a second): it is
        skipped while no ref has moved."""
        fingerprint = self._refs_fingerprint()
        if fingerprint is not None and fingerprint == self._refs_seen:
            return
        listed = await self._git("for-each-ref", "--format=%(objectname)", "refs/heads", "refs/tags", "refs/remotes")
        tips = frozenset(listed.out.split())
        if tips == self._indexed_tips:
            self._refs_seen = fingerprint
            return
        new = sorted(tips - self._indexed_tips)
        old = sorted(self._indexed_tips)
        revisions = "\n".join([*new, *(f"^{sha}" for sha in old)]) + "\n"
        result = await self._git("log", "--stdin", "--format=%H%x00%s%x00%B%x01", stdin=revisions, timeout=600)
        if result.code != 0 and old:
            # A tip indexed before is gone (force-push, pruned branch, gc): index everything again.
            self._mr_index, self._indexed_tips, self._refs_seen = {}, frozenset(), None
            self._mr_commits, self._by_generation = {}, {}
            self._index_generation += 1
            await self._refresh_index()
            return
        if result.code != 0:
            raise MirrorUnavailable(f"could not read the history: {result.err.strip()[:200]}")
        found: dict[str, list[Commit]] = {}
        for record in result.out.split("\x01"):
            sha, _, rest = record.strip("\n").partition("\x00")
            title, _, body = rest.partition("\x00")
            for reference in _MR_REFERENCE.findall(body):
                found.setdefault(reference, []).append(Commit(sha, title))
        if found:
            self._index_generation += 1
            added = self._by_generation.setdefault(self._index_generation, [])
        for reference, commits in found.items():
            self._mr_index[reference] = commits + self._mr_index.get(reference, [])
            for commit in commits:
                if commit.sha not in self._mr_commits:
                    self._mr_commits[commit.sha] = self._index_generation
                    added.append(commit.sha)
        self._indexed_tips = tips
        self._refs_seen = fingerprint

    async def merge_base(self, a: str, b: str) -> str | None:
        result = await self._git("merge-base", a, b)
        return result.out.strip() if result.code == 0 else None


async def _run(*args: str, stdin: str | None = None, timeout: float) -> _Result:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin.encode() if stdin else None), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return _Result(124, "", f"{args[0]} timed out")
    except asyncio.CancelledError:
        process.kill()
        await process.wait()
        raise
    return _Result(process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))


def _merge_request_commits_in(listing: str, commits: frozenset[str]) -> frozenset[str]:
    return frozenset(sha for sha in listing.split() if sha in commits)


def _name_pattern(pattern: str) -> re.Pattern[str]:
    """A regular expression matching the names ``pattern`` (a format string of {major} and
    {minor}) makes, capturing both; one without them matches nothing."""
    parts: list[str] = []
    for literal, field, _, _ in string.Formatter().parse(pattern):
        parts.append(re.escape(literal))
        if field in ("major", "minor"):
            parts.append(f"(?P={field})" if f"(?P<{field}>" in "".join(parts) else f"(?P<{field}>[0-9]+)")
    regex = "".join(parts)
    return re.compile(regex if "(?P<major>" in regex and "(?P<minor>" in regex else r"(?!)")


def _glob(pattern: str) -> str:
    """A for-each-ref pattern of the names ``pattern`` makes (its fields as *)."""
    parsed = string.Formatter().parse(pattern)
    return "".join(
        re.sub(r"([*?\[\]\\])", r"\\\1", literal) + ("*" if field else "") for literal, field, _, _ in parsed
    )


def _redact(url: str) -> str:
    return re.sub(r"//[^/@]+@", "//", url)


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


MIRROR: PortKey[GitMirror] = PortKey("git mirror")
