"""Policy packs: the shipped packs load, errors point at file:line:col, extends / disable / override work."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from agentkit import UserError
from agentkit.policy import PolicyError, available_packs, load_policy, load_policy_text, resolve_pack
from agentkit.policy._loader import PACKAGED_DIR

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ("autonomous", "default", "readonly", "strict")


def test_packaged_copies_are_identical_to_the_canonical_packs() -> None:
    canonical = sorted(p.name for p in (REPO / "policies").glob("*.yaml"))
    packaged = sorted(p.name for p in PACKAGED_DIR.glob("*.yaml"))
    assert canonical == packaged == [f"{name}.yaml" for name in SHIPPED]
    for name in canonical:
        assert (REPO / "policies" / name).read_bytes() == (PACKAGED_DIR / name).read_bytes(), (
            f"policies/{name} and agentkit/policy/packs/{name} differ: copy the canonical pack into the package"
        )


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_packs_load(name: str) -> None:
    pack = load_policy(name)
    assert pack.name == name
    assert set(pack.defaults) == {"read", "write", "send", "destructive"}
    assert pack.defaults["read"] == "allow"
    assert [r.id for r in pack.rules] == list(dict.fromkeys(r.id for r in pack.rules))


def test_default_pack_matches_the_issue() -> None:
    pack = load_policy("default")
    assert pack.defaults == {"read": "allow", "write": "confirm", "send": "confirm", "destructive": "confirm"}
    assert pack.rule("recipients.untrusted").action == "confirm"
    assert load_policy("strict").rule("recipients.untrusted").action == "deny"
    assert not load_policy("strict").rule("drafts.allow").enabled
    readonly = load_policy("readonly")
    assert readonly.rule("readonly.no-side-effects").action == "deny"


def test_names_resolve_on_the_search_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(SHIPPED) <= set(available_packs())
    override = tmp_path / "default.yaml"
    override.write_text(
        "extends: default   # the packaged pack of the same name\n"
        "defaults: {write: allow}\n"
        "trusted: {email_domains: [example.com]}\n"
        "disable: [drafts.allow]\n"
    )
    monkeypatch.setenv("AGENTKIT_POLICY_PATH", str(tmp_path))
    assert resolve_pack("default") == override.resolve()
    pack = load_policy("default")
    assert pack.defaults["write"] == "allow"
    assert pack.defaults["send"] == "confirm"
    assert pack.trusted.email_domains == ["example.com"]
    assert not pack.rule("drafts.allow").enabled
    assert len(pack.sources) == 2
    assert pack.sources[-1] == str(override.resolve())


def test_child_rules_replace_by_id_and_append(tmp_path: Path) -> None:
    pack = load_policy_text(
        "extends: default\n"
        "rules:\n"
        "  - id: recipients.untrusted\n"
        "    when: {effect: send, args: [{arg: '@recipients', provenance: untrusted}]}\n"
        "    action: deny\n"
        "    reason: mine\n"
        "  - id: extra.rule\n"
        "    when: {tool: 'pay_*'}\n"
        "    action: confirm\n"
        "    reason: payments\n"
    )
    ids = [r.id for r in pack.rules]
    assert ids.index("recipients.untrusted") == [r.id for r in load_policy("default").rules].index("recipients.untrusted")
    assert ids[-1] == "extra.rule"
    assert pack.rule("recipients.untrusted").reason == "mine"


def _problems(text: str, name: str = "pack.yaml") -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, source=name)
    return [str(p) for p in info.value.problems]


def test_schema_errors_point_at_the_line_and_say_the_fix() -> None:
    text = (
        "name: bad\n"               # 1
        "defaults:\n"               # 2
        "  read: allow\n"           # 3
        "  wirte: confirm\n"        # 4
        "rules:\n"                  # 5
        "  - id: r1\n"              # 6
        "    when:\n"               # 7
        "      effect: [sned]\n"    # 8
        "      args:\n"             # 9
        "        - arg: to\n"       # 10
        "          provenanse: x\n"  # 11
        "    action: maybe\n"       # 12
        "    reason: x\n"           # 13
        "  - id: r2\n"              # 14
        "    when: {args: [{arg: to, regex: '([a-z'}]}\n"  # 15
        "    action: deny\n"        # 16
    )
    problems = _problems(text)
    assert problems[0].startswith("pack.yaml:4:3: defaults.wirte:")
    assert any(p.startswith("pack.yaml:8:16: rules[0].when.effect[0]:") and "'sned'" in p for p in problems)
    unknown = next(p for p in problems if "provenanse" in p)
    assert unknown.startswith("pack.yaml:11:11:")
    assert "allowed here:" in unknown
    assert "provenance" in unknown
    assert any(p.startswith("pack.yaml:12:13: rules[0].action:") and "'allow', 'confirm' or 'deny'" in p for p in problems)
    assert any(p.startswith("pack.yaml:15:") and "invalid regular expression" in p for p in problems)
    assert any(p.startswith("pack.yaml:14:5: rules[1].reason:") and "missing required field 'reason'" in p for p in problems)


def test_yaml_syntax_errors_and_duplicates_point_at_the_line() -> None:
    syntax = _problems("name: x\nrules:\n  - id: a\n    action: deny\n   reason: bad indent\n")
    assert syntax[0].startswith("pack.yaml:5:4:")
    assert "YAML syntax error" in syntax[0]
    dupes = _problems("name: x\ndefaults: {read: allow}\ndefaults: {write: deny}\n")
    assert dupes[0].startswith("pack.yaml:3:1:")
    assert "duplicate key 'defaults'" in dupes[0]
    same_id = _problems("rules:\n  - {id: a, action: deny, reason: r}\n  - {id: a, action: allow, reason: r}\n")
    assert same_id[0].startswith("pack.yaml:3:10: rules[1].id:")
    assert "already used" in same_id[0]
    assert "empty" in _problems("")[0]
    assert "mapping" in _problems("- a\n- b\n")[0]


def test_a_character_yaml_refuses_points_at_the_line() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text("name: x\nrules: []\n# bell \x07 here\n", source="bell.yaml")
    assert str(caught.value.problems[0]).startswith("bell.yaml:3:8: not YAML: unacceptable character #x0007")


def test_semantic_errors_point_at_the_line() -> None:
    group = _problems("extends: default\nrules:\n  - id: a\n    when: {args: [{arg: '@nogroup'}]}\n"
                      "    action: deny\n    reason: r\n")
    assert group[0].startswith("pack.yaml:4:")
    assert "unknown argument group '@nogroup'" in group[0]
    assert "recipients" in group[0]
    disable = _problems("extends: default\ndisable: [drafts.allow, nope]\n")
    assert disable[0].startswith("pack.yaml:2:25: disable[1]:")
    assert "no inherited rule 'nope'" in disable[0]


def test_missing_and_cyclic_packs_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"unknown policy pack 'nope'; available: .*default"):
        load_policy("nope")
    with pytest.raises(UserError, match="no policy pack file"):
        load_policy(tmp_path / "missing.yaml")
    (tmp_path / "a.yaml").write_text(f"extends: {tmp_path / 'b.yaml'}\n")
    (tmp_path / "b.yaml").write_text(f"extends: {tmp_path / 'a.yaml'}\n")
    with pytest.raises(UserError, match=r"cycle: a\.yaml -> b\.yaml -> a\.yaml"):
        load_policy(tmp_path / "a.yaml")


def test_cli_policy_check(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "agentkit._cli", "policy", "check", "strict"],
                        capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "strict: OK" in ok.stdout
    assert "deny    recipients.untrusted" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: a\n    action: nope\n    reason: r\n")
    failed = subprocess.run([sys.executable, "-m", "agentkit._cli", "policy", "check", str(bad)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert failed.returncode == 2
    assert f"{bad}:3:13: rules[0].action:" in failed.stderr


def test_readme_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = (REPO / "policies" / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    assert blocks
    for block in blocks:
        exec(compile(block, "policies/README.md", "exec"), {})
    for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL):
        load_policy_text(block, source="policies/README.md")
