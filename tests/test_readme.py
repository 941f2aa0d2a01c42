"""The README and the code agree: every registered command, safety rule and capability is in the
README (and every command it lists is registered), and every configuration example in it loads
into the example configuration."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest
import yaml

from flags import AuditInfo, FlagStore, GroupName, build_change
from handlers.composition import COMMANDS
from handlers.composition.ports import RULES
from handlers.config import Config, parse_config
from tests.configs import ROOT

README = (ROOT / "README.md").read_text()
FRAMEWORK = {"core", "changes", "config", "checks", "composition"}  # packages that are not capabilities
CAPABILITIES = sorted(p.name for p in (ROOT / "handlers").iterdir() if (p / "__init__.py").exists())
CAPABILITIES = [c for c in CAPABILITIES if c not in FRAMEWORK]


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else len(README)]


def _commands_block() -> str:
    return re.search(r"```\n(/chatops help.*?)```", _section("Commands"), re.S).group(1)  # type: ignore[union-attr]


def _forms() -> set[str]:
    """Every way to call a registered command: ``run feature set``, ``run dashboard``."""
    return {f"run {spec.name} {form.name}".strip() for spec in COMMANDS.grammar.values() for form in spec.forms}


def test_every_registered_command_is_listed_and_every_listed_command_is_registered() -> None:
    listed = set()
    for entry in re.findall(r"/chatops (run [a-z_]+(?: [a-z_]+)?)", _commands_block()):
        command = entry.split()[1]
        spec = COMMANDS.grammar.get(command)
        assert spec is not None, f"the README lists `/chatops {entry}`, which is no command"
        if spec.subcommands and len(entry.split()) == 2:
            continue  # `run feature --help`
        listed.add(entry if spec.subcommands else f"run {command}")
    assert _forms() - listed == set(), "registered but missing from the README's Commands"
    assert listed - _forms() == set(), "in the README's Commands but not registered"


def test_every_safety_rule_says_what_it_is_recorded_as() -> None:
    rules = [rule.name for rule in RULES]  # as the composition root registers them
    assert rules, "the composition root registers the safety rules"
    safety = _section("Safety and traceability")
    for name in rules:
        assert f"recorded as `{name}`" in safety, f"the safety rule {name} is not described in the README"


def test_every_capability_stands_in_the_contracts_and_the_layout() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    independent = next(c for c in contracts if c["type"] == "independence")["modules"]
    layers = next(c for c in contracts if c["name"].startswith("inside handlers"))["layers"]
    siblings = {m.strip() for m in layers[1].split("|")}
    layout = _section("Development")
    for name in CAPABILITIES:
        assert f"handlers.{name}" in independent, f"{name} is not in the independence contract"
        assert f"handlers.{name}" in siblings, f"{name} is not among the capabilities' layer"
        assert f"handlers/{name}/" in layout, f"{name} is not in the README's layout"
    assert len(CAPABILITIES) >= 9


def _examples() -> list[str]:
    return [block for block in re.findall(r"```yaml\n(.*?)```", README, re.S)]


@pytest.mark.parametrize("example", _examples(), ids=lambda e: e.split(":")[0])
def test_every_configuration_example_loads(example: str) -> None:
    fragment = yaml.safe_load(example)
    if not set(fragment) <= set(Config.model_fields):
        pytest.skip("not the bot's configuration (an Alertmanager route)")
    path = ROOT / "deploy" / "chatops.example.yml"
    data = yaml.safe_load(path.read_text())
    for key, value in fragment.items():  # sections replace the example's; safety keys are added to it
        data[key] = {**data.get(key, {}), **value} if key == "safety" else value
    parse_config(data, path)


def test_no_merge_leftovers() -> None:
    leftovers = [n for n, text in enumerate(README.splitlines(), 1) if text.startswith(("<<<<<<< ", ">>>>>>> "))]
    assert leftovers == [], f"conflict markers on README lines {leftovers}"


async def test_the_openfeature_python_example_runs_as_written(redis_url: str, prefix: str) -> None:
    """The example, run as a program against a real Redis (its URL and prefix swapped for this test's)."""
    python = _section("OpenFeature").split("### Python, in process")[1]
    example = re.search(r"```python\n(.*?)```", python, re.S).group(1)  # type: ignore[union-attr]
    assert len(example.strip().splitlines()) <= 12
    program = example.replace('"redis://127.0.0.1:6379/0"', repr(redis_url)).replace(
        'prefix="gprd:"', f"prefix={prefix!r}"
    )
    assert program != example
    flag = "enforce_explicit_connection_for_partitioned_shared_models"
    store = FlagStore.from_url(redis_url, prefix=prefix)

    def run() -> list[str]:
        done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout.splitlines()

    await store.apply(flag, build_change("true", groups=[GroupName("gitlab_team_members")]), AuditInfo(who="readme"))
    assert run() == ["on for User:42", "FLAG_NOT_FOUND"]
    await store.apply(flag, build_change("false", groups=[GroupName("gitlab_team_members")]), AuditInfo(who="readme"))
    assert run() == ["FLAG_NOT_FOUND"]
    await store.close()
