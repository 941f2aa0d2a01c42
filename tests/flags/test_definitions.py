"""GitLab-format flag definitions: loading and lint with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from flags import DefinitionError, lint_definitions, load_definitions

ROOT = Path(__file__).resolve().parents[2]
GOOD = """\
---
name: {name}
feature_issue_url:
introduced_by_url: https://gitlab.com/gitlab-org/gitlab/-/merge_requests/1
rollout_issue_url: https://gitlab.com/gitlab-org/gitlab/-/issues/2
milestone: '16.5'
group: group::database frameworks
type: {type}
default_enabled: {default}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yml"
    path.write_text(text)
    return path


def test_the_shipped_example_definition_loads_and_lints_clean() -> None:
    folder = ROOT / "deploy" / "feature_flags"
    assert lint_definitions([folder]) == []
    definition = load_definitions([folder])["enforce_explicit_connection_for_partitioned_shared_models"]
    assert definition.group == "group::database frameworks"
    assert definition.type == "gitlab_com_derisk" and definition.default_enabled is False
    assert definition.rollout_issue_url == "https://gitlab.com/gitlab-org/gitlab/-/issues/431866"
    assert definition.milestone == "16.7"


def test_definitions_from_several_folders(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "nested").mkdir(parents=True)
    write(tmp_path / "a", "one", GOOD.format(name="one", type="beta", default="true"))
    write(tmp_path / "b" / "nested", "two", GOOD.format(name="two", type="ops", default="false"))
    loaded = load_definitions([tmp_path / "a", tmp_path / "b"])
    assert {n: d.default_enabled for n, d in loaded.items()} == {"one": True, "two": False}


def test_lint_names_file_line_and_problem(tmp_path: Path) -> None:
    write(tmp_path, "wrong_name", GOOD.format(name="other_name", type="beta", default="false"))
    write(tmp_path, "risky", GOOD.format(name="risky", type="gitlab_com_derisk", default="true"))
    write(tmp_path, "odd_type", GOOD.format(name="odd_type", type="sparkly", default="false"))
    write(tmp_path, "missing", "---\nname: missing\ntype: wip\n")
    write(tmp_path, "broken", "name: broken\n  type: : wip\n")
    write(tmp_path, "number", GOOD.format(name="number", type="wip", default="false").replace("'16.5'", "16.10"))
    problems = {(Path(p.path).name, p.line, p.message) for p in lint_definitions([tmp_path])}
    assert ("wrong_name.yml", 2, "name 'other_name' must equal the file name 'wrong_name'") in problems
    assert ("risky.yml", 9, "a gitlab_com_derisk flag must not be default_enabled: true") in problems
    assert any(f == "odd_type.yml" and line == 8 and "unknown type 'sparkly'" in m for f, line, m in problems)
    missing = {m for f, _, m in problems if f == "missing.yml"}
    assert "required field 'rollout_issue_url' is missing" in missing
    assert "required field 'default_enabled' is missing" in missing
    assert any(f == "broken.yml" and line == 2 and m.startswith("not valid YAML") for f, line, m in problems)
    assert ("number.yml", 6, "milestone must be quoted text, e.g. '16.10', not 16.1") in problems


def test_approval_required_is_a_known_field_and_must_be_true_or_false(tmp_path: Path) -> None:
    write(tmp_path, "guarded", GOOD.format(name="guarded", type="beta", default="false") + "approval_required: true\n")
    write(tmp_path, "plain", GOOD.format(name="plain", type="beta", default="false"))
    assert lint_definitions([tmp_path]) == []
    loaded = load_definitions([tmp_path])
    assert loaded["guarded"].approval_required is True and loaded["plain"].approval_required is False
    write(
        tmp_path, "vague", GOOD.format(name="vague", type="beta", default="false") + "approval_required: yes please\n"
    )
    [problem] = lint_definitions([tmp_path])
    assert (Path(problem.path).name, problem.line, problem.message) == (
        "vague.yml",
        10,
        "approval_required must be true or false",
    )


def test_frontend_marks_a_flag_for_front_ends_and_must_be_true_or_false(tmp_path: Path) -> None:
    write(tmp_path, "banner", GOOD.format(name="banner", type="beta", default="false") + "frontend: true\n")
    write(tmp_path, "backend", GOOD.format(name="backend", type="beta", default="false"))
    assert lint_definitions([tmp_path]) == []
    loaded = load_definitions([tmp_path])
    assert loaded["banner"].frontend is True and loaded["backend"].frontend is False
    write(tmp_path, "maybe", GOOD.format(name="maybe", type="beta", default="false") + "frontend: sometimes\n")
    [problem] = lint_definitions([tmp_path])
    assert (Path(problem.path).name, problem.line, problem.message) == (
        "maybe.yml",
        10,
        "frontend must be true or false",
    )


def test_load_refuses_a_bad_file_with_its_problem(tmp_path: Path) -> None:
    write(tmp_path, "risky", GOOD.format(name="risky", type="gitlab_com_derisk", default="true"))
    with pytest.raises(DefinitionError, match=r"risky.yml:9: a gitlab_com_derisk flag must not be"):
        load_definitions([tmp_path])


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="does not exist"):
        load_definitions([tmp_path / "nope"])
    [problem] = lint_definitions([tmp_path / "nope"])
    assert "does not exist" in problem.message
