"""Agent files: validation with file:line:column errors, env secrets, manifests, the JSON schema, the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from agentkit import UserError
from agentkit._cli import main as cli_main
from agentkit.policy import PolicyEngine
from agentkit.spec import (
    AgentSpec,
    SpecError,
    agent_json_schema,
    load_agent,
    load_agent_text,
    load_manifest,
    load_spec,
    load_spec_text,
    manifest_json_schema,
)
from agentkit.testing import ScriptedModel, call, text

REPO = Path(__file__).resolve().parent.parent
AGENTS = sorted((REPO / "examples" / "agents").glob("*.yaml"))
MANIFESTS = sorted((REPO / "tools").glob("*.yaml"))


@dataclass
class WindowedModel(ScriptedModel):
    """A scripted model that states its context window, as the real backends do (the context builder asks)."""

    n_ctx: int = 4096


def problems_of(text_: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec_text(text_, source="agent.yaml")
    return [str(p) for p in info.value.problems]


def test_minimal_spec_has_safe_defaults() -> None:
    spec = load_spec_text("name: tiny\n")
    assert spec.model.source == "default"
    assert spec.policy.pack == "default"
    assert spec.tools == []
    assert spec.limits.max_steps == 10


def test_shorthands_normalise() -> None:
    spec = load_spec_text("name: s\nmodel: http://127.0.0.1:9/v1#qwen\ntools: [calc]\npolicy: strict\n")
    assert spec.model.is_url
    assert spec.tools[0].toolkit == "calc"
    assert spec.policy.pack == "strict"


def test_unknown_key_points_at_line_and_suggests() -> None:
    found = problems_of("name: x\ndescription: d\nmodle: default\n")
    assert found == ["agent.yaml:3:1: modle: unknown key 'modle'; did you mean 'model'?"]


def test_nested_unknown_key_in_toolkit_options() -> None:
    found = problems_of("name: x\ntools:\n  - toolkit: web\n    options:\n      search: {backend: static, fille: r.yaml}\n")
    assert len(found) == 1
    assert found[0].startswith("agent.yaml:5:33: tools[0].options.search.fille: unknown key 'fille'; did you mean 'file'?")


def test_bad_values_each_reported_with_position() -> None:
    found = problems_of(
        "name: x\n"
        "tools:\n"
        "  - toolkit: mial\n"
        "preset: fast\n"
        "limits: {max_steps: 0}\n"
    )
    assert found[0].startswith("agent.yaml:4:9: preset: use 'precise', 'code', 'balanced' or 'creative'")
    assert found[1].startswith("agent.yaml:5:21: limits.max_steps:")
    # toolkit names are checked in a second pass, once the file's shape is valid
    found = problems_of("name: x\ntools:\n  - toolkit: mial\n")
    assert found == ["agent.yaml:3:14: tools[0].toolkit: unknown toolkit 'mial'; did you mean 'mail'? available: "
                     "calc, calendar, code, files, mail, mcp, python, web"]


def test_secret_keys_are_refused_with_the_fix() -> None:
    found = problems_of("name: x\nmodel: {source: 'http://127.0.0.1:9/v1', api_key: sk-abc}\n")
    assert "secrets never go in agent files; use `api_key_env: VARIABLE`" in found[0]
    assert found[0].startswith("agent.yaml:2:")


def test_env_interpolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTKIT_TEST_ROLE", "You sort mail.")
    assert load_spec_text("name: x\nsystem: '${env:AGENTKIT_TEST_ROLE} Be brief.'\n").system == "You sort mail. Be brief."
    monkeypatch.delenv("AGENTKIT_TEST_ROLE")
    found = problems_of("name: x\nsystem: '${env:AGENTKIT_TEST_ROLE}'\n")
    assert found == ["agent.yaml:2:9: system: environment variable AGENTKIT_TEST_ROLE is not set; export it before "
                     "running (secrets stay in the environment, not in the file)"]


def test_yaml_syntax_and_duplicates_and_shape() -> None:
    assert problems_of("name: x\n  bad: [\n")[0].startswith("agent.yaml:2:6: YAML syntax error")
    assert problems_of("name: x\nname: y\n") == [
        "agent.yaml:2:1: key 'name' appears twice (first on line 1); keep one"]
    assert "not a list" in problems_of("- a\n- b\n")[0]
    assert "the file is empty" in problems_of("")[0]


def test_model_reference_is_checked(tmp_path: Path) -> None:
    found = problems_of("name: x\nmodel: ./missing.gguf\n")
    assert found[0].startswith("agent.yaml:2:8: model: no GGUF file at")
    found = problems_of("name: x\nmodels: [{name: fast, kind: gguf, path: default}]\nmodel: fats\n")
    assert "did you mean the profile 'fast'?" in found[0]
    assert load_spec_text("name: x\nmodels: [{name: fast, kind: gguf, path: default}]\nmodel: fast\n").model.source == "fast"
    found = problems_of("name: x\nmodel: {source: default, api_key_env: KEY}\n")
    assert "apply only to an http(s) source" in found[0]


def test_policy_pack_and_overrides_are_checked() -> None:
    assert "unknown policy pack 'strct'" in problems_of("name: x\npolicy: strct\n")[0]
    found = problems_of("name: x\npolicy:\n  pack: default\n  overrides:\n    rules:\n      - {id: r1, action: maybe, reason: x}\n")
    assert found[0].startswith("agent.yaml:6:26: policy.overrides.rules[0].action: use 'allow', 'confirm' or 'deny'")


async def test_policy_overrides_take_effect() -> None:
    agent = load_agent_text(
        "name: x\ntools: [calc]\npolicy:\n  pack: default\n  overrides:\n    rules:\n"
        "      - {id: calc.never, when: {tool: [calculate]}, action: deny, reason: no maths today}\n",
        model=ScriptedModel([call("calculate", {"expression": "1+1"}), text("no")]),
    )
    assert isinstance(agent.gate, PolicyEngine)
    result = await agent.run("1+1?")
    tool_results = [m.content for m in result.messages if m.role == "tool"]
    assert "no maths today" in tool_results[0]


def test_output_schema_validated_and_enforced() -> None:
    found = problems_of("name: x\noutput: {schema: {type: objec}}\n")
    assert found[0].startswith("agent.yaml:2:18: output.schema: not a valid JSON schema")
    spec_text = ("name: x\noutput:\n  schema:\n    type: object\n    properties: {city: {type: string, maxLength: 20}}\n"
                 "    required: [city]\n    additionalProperties: false\n")
    model = ScriptedModel([text('{"town": "Lyon"}'), text('{"city": "Lyon"}')])
    result = load_agent_text(spec_text, model=model).run_sync("Where?")
    assert result.output == {"city": "Lyon"}
    assert model.requests[0].settings.response_schema is not None  # the grammar's schema reached the backend
    assert "city" in model.requests[1].messages[-1].content  # the invalid answer came back as a correction


def test_relative_paths_follow_the_agent_file(tmp_path: Path) -> None:
    agent_dir = tmp_path / "agents"
    agent_dir.mkdir()
    (agent_dir / "results.yaml").write_text("- {title: Lyon, url: 'https://lyon.example', snippet: a city}\n")
    (agent_dir / "a.yaml").write_text(
        "name: a\ntools:\n  - toolkit: web\n    options: {search: {backend: static, file: results.yaml}}\n"
        "    only: [web_search]\npolicy: readonly\n"
    )
    model = ScriptedModel([call("web_search", {"query": "lyon"}), text("Lyon is a city.")])
    result = load_agent(agent_dir / "a.yaml", model=model).run_sync("Lyon?")
    assert "https://lyon.example" in next(m.content for m in result.messages if m.role == "tool")


def test_only_names_unknown_tool(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="has no tool named nope; its tools are calculate, convert_units"):
        load_agent_text("name: x\ntools: [{toolkit: calc, only: [nope]}]\n", model=ScriptedModel([]))


def test_manifests_load_and_errors_point_into_them(tmp_path: Path) -> None:
    for path in MANIFESTS:
        manifest, _ = load_manifest(path)
        assert manifest.toolkit
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: toolkit\ntoolkit: web\noptions:\n  search: {backend: static}\n")
    agent = tmp_path / "a.yaml"
    agent.write_text("name: a\ntools:\n  - manifest: bad.yaml\n")
    with pytest.raises(SpecError) as info:
        load_spec(agent)
    message = str(info.value.problems[0])
    assert message.startswith(f"{agent}:3:15: tools[0].manifest: the manifest is invalid: {bad}:4:11: options.search:")
    assert "static backend needs results" in message
    agent.write_text("name: a\ntools:\n  - manifest: missing.yaml\n")
    with pytest.raises(SpecError, match="no tool manifest at"):
        load_spec(agent)


@pytest.mark.parametrize("path", AGENTS, ids=lambda p: p.name)
def test_example_agents_validate_and_match_the_exported_schema(path: Path) -> None:
    spec = load_spec(path)
    assert isinstance(spec, AgentSpec)
    jsonschema.validate(yaml.safe_load(path.read_text()), agent_json_schema())


def test_exported_schemas_are_current_and_complete_toolkit_options() -> None:
    schema = agent_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert json.loads((REPO / "schemas" / "agent.schema.json").read_text()) == schema, \
        "run: agentkit schema -o schemas/agent.schema.json"
    assert json.loads((REPO / "schemas" / "tool-manifest.schema.json").read_text()) == manifest_json_schema(), \
        "run: agentkit schema --manifest -o schemas/tool-manifest.schema.json"
    validator = jsonschema.Draft202012Validator(schema)
    bad: dict[str, Any] = {"name": "x", "tools": [{"toolkit": "web", "options": {"search": {"backend": "nope"}}}]}
    assert list(validator.iter_errors(bad))
    assert not list(validator.iter_errors({"name": "x", "tools": ["calc", {"toolkit": "mail", "options": {}}]}))
    for path in MANIFESTS:
        jsonschema.validate(yaml.safe_load(path.read_text()), manifest_json_schema())


def test_cli_validate_and_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["validate", *map(str, AGENTS)]) == 0
    assert cli_main(["validate", "--manifest", *map(str, MANIFESTS)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodle: default\n")
    capsys.readouterr()
    assert cli_main(["validate", str(bad)]) == 2
    assert f"{bad}:2:1: modle: unknown key 'modle'; did you mean 'model'?" in capsys.readouterr().err
    assert cli_main(["validate", str(tmp_path / "none.yaml")]) == 2
    assert cli_main(["schema", "-o", str(tmp_path / "s" / "agent.json")]) == 0
    assert json.loads((tmp_path / "s" / "agent.json").read_text())["title"] == "agentkit agent file"


def test_tools_folder_is_never_a_python_package() -> None:
    assert not list((REPO / "tools").rglob("*.py"))
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'include = ["agentkit*"]' in pyproject


@pytest.mark.parametrize(
    ("body", "position", "fragment"),
    [
        ("name: x\ndescription: 2024-13-45\n", "2:14", "'2024-13-45' is not a valid date"),
        ("name: !!python/object:os.system x\n", "1:7", "could not determine a constructor"),
        ("name: x\n? [a, b]\n: c\n", "2:3", "found unhashable key"),
        ("name: x\n<<: 5\n", "2:5", "expected a mapping or list of mappings for merging"),
    ],
)
def test_yaml_values_that_cannot_be_built_are_problems_at_their_position(
    body: str, position: str, fragment: str,
) -> None:
    found = problems_of(body)
    assert len(found) == 1
    assert found[0].startswith(f"agent.yaml:{position}: YAML value error: ")
    assert fragment in found[0]


def test_a_server_model_with_a_context_builder_needs_its_window() -> None:
    found = problems_of("name: x\nmodel: http://127.0.0.1:9/v1\ndeveloper: Be terse.\n")
    assert found == ["agent.yaml:2:8: model: a server does not say its context window; add "
                     "`context: {context_window: N}` with the server's context size (developer:, memory: and "
                     "context: need it)"]
    spec = load_spec_text("name: x\nmodel: http://127.0.0.1:9/v1\ndeveloper: Be terse.\n"
                          "context: {context_window: 8192}\n")
    assert spec.context is not None
    assert spec.context.context_window == 8192
