"""Policy packs: the YAML schema, its validation with errors that point at file:line:col, and `extends`.

A pack says what happens to each proposed call:

    name: mypack
    extends: default                 # optional: start from another pack and override
    defaults: {read: allow, write: confirm, send: confirm, destructive: confirm}
    trusted: {values: [me@corp.com], email_domains: [corp.com], url_hosts: [], paths: ["~/work/**"]}
    arg_groups: {recipients: [to, cc, bcc, participants]}
    rules:
      - id: recipients.untrusted
        when:
          effect: [send, write]
          args: [{arg: "@recipients", provenance: [untrusted]}]
        action: deny
        reason: a recipient comes only from untrusted content

Every enabled rule whose `when` holds is a match; the strictest matching action wins (deny > confirm >
allow), so a rule can relax a default (allow) but never overrides a guard rule that denies or confirms. When
no rule matches, `defaults[effect]` decides. With `extends`, a rule with the same id replaces the parent's
(`disable: [rule ids]` switches inherited rules off), new rules are added after, `defaults` and
`provenance` override per key, `trusted` lists are merged and `arg_groups` replace per group name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from .._errors import UserError
from .._tools import Effect
from .._yaml import Marks, Problem, YamlSyntaxError, compose, construct, index_positions, where

Action = Literal["allow", "confirm", "deny"]
Level = Literal["trusted", "vouched", "untrusted", "unknown"]
RiskLevel = Literal["low", "medium", "high", "critical"]
EFFECT_NAMES: tuple[Effect, ...] = ("read", "write", "send", "destructive")
STRICTNESS: dict[Action, int] = {"allow": 0, "confirm": 1, "deny": 2}


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str | int | float) and not isinstance(value, bool) else value


StrList = Annotated[list[str], BeforeValidator(_as_list)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArgCondition(_Strict):
    """Holds when any (or all) of the values found under `arg` satisfy every predicate given."""

    arg: StrList = Field(description="argument name globs ('to', 'attachments.*', '@recipients' for a group)")
    quantifier: Literal["any", "all"] = "any"
    extract: Literal["value", "urls", "emails"] = Field(
        "value", description="test the argument values themselves, or each URL / email address found inside them")
    provenance: Annotated[list[Level], BeforeValidator(_as_list)] | None = None
    email_domain_in: StrList | None = None
    email_domain_not_in: StrList | None = None
    url_host_in: StrList | None = None
    url_host_not_in: StrList | None = None
    path_in: StrList | None = None
    path_not_in: StrList | None = None
    regex: str | None = None
    not_regex: str | None = None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    contains_secret: bool | None = None

    @field_validator("regex", "not_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression ({exc}); escape special characters with \\") from None
        return value


class When(_Strict):
    tool: StrList | None = Field(None, description="tool name globs")
    tool_not: StrList | None = None
    effect: Annotated[list[Effect], BeforeValidator(_as_list)] | None = None
    risk: Annotated[list[RiskLevel], BeforeValidator(_as_list)] | None = None
    has_preview: bool | None = None
    args: list[ArgCondition] = Field(default_factory=list)


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*$", description="lower-case, unique in the pack")
    description: str = ""
    when: When = Field(default_factory=When)
    action: Action
    reason: str = Field(min_length=1, description="why: shown to the person confirming and to the model")
    enabled: bool = True


class TrustedLists(_Strict):
    """Values that count as trusted wherever they appear: your own addresses, domains, hosts, folders."""

    values: StrList = Field(default_factory=list)
    email_domains: StrList = Field(default_factory=list)
    url_hosts: StrList = Field(default_factory=list)
    paths: StrList = Field(default_factory=list)


class ProvenanceOptions(_Strict):
    min_length: int = Field(4, ge=1, description="shorter values (ids like '13') count only where they are quoted")


class PackFile(_Strict):
    """One YAML file as written: everything optional, completed by `extends` and the built-in defaults."""

    name: str | None = None
    description: str = ""
    extends: str | None = None
    defaults: dict[Effect, Action] = Field(default_factory=dict)
    trusted: TrustedLists = Field(default_factory=TrustedLists)
    arg_groups: dict[str, StrList] = Field(default_factory=dict)
    provenance: ProvenanceOptions | None = None
    disable: StrList = Field(default_factory=list, description="ids of inherited rules to switch off")
    rules: list[Rule] = Field(default_factory=list)


class PolicyPack(_Strict):
    """A complete pack after `extends` is resolved: what `PolicyEngine` runs."""

    name: str
    description: str = ""
    sources: list[str] = Field(default_factory=list, description="files merged into this pack, parent first")
    defaults: dict[Effect, Action]
    trusted: TrustedLists = Field(default_factory=TrustedLists)
    arg_groups: dict[str, list[str]] = Field(default_factory=dict)
    provenance: ProvenanceOptions = Field(default_factory=ProvenanceOptions)
    rules: list[Rule] = Field(default_factory=list)

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


# -- errors that point at the line ---------------------------------------------------------------------------
class PolicyError(UserError):
    """A pack that cannot be used; each problem says file:line:col, where in the pack, and what to fix."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("invalid policy pack:\n" + "\n".join(f"  {p}" for p in self.problems))


def _hint(error: Any, model_fields: dict[str, Any] | None) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = f"; allowed here: {', '.join(sorted(model_fields))}" if model_fields else ""
        return f"unknown field {error['loc'][-1]!r}{allowed}"
    if kind == "missing":
        return f"missing required field {error['loc'][-1]!r}; add it"
    given = error.get("input")
    shown = f" (got {given!r})" if isinstance(given, str | int | float | bool) else ""
    return f"{error['msg']}{shown}"


def _fields_at(loc: Sequence[Any]) -> dict[str, Any] | None:
    """The fields allowed at the mapping that holds `loc[-1]` (for 'unknown field' hints)."""
    model: Any = PackFile
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        info = model.model_fields.get(part)
        if info is None:
            return None
        annotation = info.annotation
        model = None
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            for inner in (candidate, *getattr(candidate, "__args__", ())):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    model = inner
    return dict(model.model_fields) if model is not None else None


def parse_pack(text: str, source: str) -> tuple[PackFile, Marks]:
    """Parse and validate one pack file; raise PolicyError listing every problem with its position."""
    try:
        node = compose(text, source)
        data = construct(node, source) if node is not None else None
    except YamlSyntaxError as exc:
        raise PolicyError([exc.problem]) from None
    if node is None:
        raise PolicyError([Problem(source, 1, 1, "", "the file is empty; a pack needs at least `rules:` or `defaults:`")])
    marks, duplicates = index_positions(node)
    problems = [Problem(source, d.line, d.column, "", f"duplicate key {d.key!r}: YAML would silently keep only "
                        "the last one; remove one") for d in duplicates]
    if not isinstance(data, dict):
        problems.append(Problem(source, 1, 1, "", "a pack is a mapping (name:, defaults:, rules: ...), not a list or scalar"))
        raise PolicyError(problems)
    try:
        pack = PackFile.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            raw_loc = [p for p in error["loc"] if isinstance(p, int | str)]
            loc = [p for p in raw_loc if not (isinstance(p, str) and ("[" in p or p in ("function-after", "str")))]
            on_key = error["type"] == "extra_forbidden" or "[key]" in raw_loc
            line, col = marks.locate(loc, key=on_key)
            problems.append(Problem(source, line, col, where(loc), _hint(error, _fields_at(loc))))
        raise PolicyError(problems) from None
    seen_ids: dict[str, int] = {}
    for index, rule in enumerate(pack.rules):
        if rule.id in seen_ids:
            line, col = marks.locate(("rules", index, "id"))
            problems.append(Problem(source, line, col, f"rules[{index}].id",
                                    f"rule id {rule.id!r} is already used by rules[{seen_ids[rule.id]}]; ids must be unique"))
        seen_ids.setdefault(rule.id, index)
    if problems:
        raise PolicyError(problems)
    return pack, marks


def check_groups(pack: PackFile, marks: Marks, source: str, groups: dict[str, list[str]]) -> None:
    """Every `@group` used by a rule must be defined in this pack or a parent."""
    problems: list[Problem] = []
    for r_index, rule in enumerate(pack.rules):
        for a_index, condition in enumerate(rule.when.args):
            for name in condition.arg:
                if name.startswith("@") and name[1:] not in groups:
                    loc = ("rules", r_index, "when", "args", a_index, "arg")
                    line, col = marks.locate(loc)
                    known = ", ".join(sorted(groups)) or "(none defined)"
                    problems.append(Problem(source, line, col, where(loc),
                                            f"unknown argument group {name!r}; define it under arg_groups (known: {known})"))
    if problems:
        raise PolicyError(problems)


def check_disable(pack: PackFile, marks: Marks, source: str, parent: PolicyPack | None) -> None:
    """`disable:` may only name rules the pack inherits."""
    inherited = {rule.id for rule in parent.rules} if parent else set()
    problems: list[Problem] = []
    for index, rule_id in enumerate(pack.disable):
        if rule_id not in inherited:
            line, col = marks.locate(("disable", index))
            known = ", ".join(sorted(inherited)) or "(no parent pack: use `enabled: false` on the rule)"
            problems.append(Problem(source, line, col, f"disable[{index}]",
                                    f"no inherited rule {rule_id!r} to disable; inherited rules: {known}"))
    if problems:
        raise PolicyError(problems)


def merge(parent: PolicyPack | None, child: PackFile, *, name: str, source: str) -> PolicyPack:
    """Apply `child` over `parent` (see the module docstring for the rules)."""
    defaults: dict[Effect, Action] = dict(parent.defaults) if parent else {}
    defaults.update(child.defaults)
    base_defaults: dict[Effect, Action] = {"read": "allow", "write": "confirm", "send": "confirm", "destructive": "confirm"}
    for effect in EFFECT_NAMES:
        defaults.setdefault(effect, base_defaults[effect])
    rules = list(parent.rules) if parent else []
    positions = {rule.id: i for i, rule in enumerate(rules)}
    for rule in child.rules:
        if rule.id in positions:
            rules[positions[rule.id]] = rule
        else:
            positions[rule.id] = len(rules)
            rules.append(rule)
    redefined = {rule.id for rule in child.rules}
    rules = [r.model_copy(update={"enabled": False}) if r.id in child.disable and r.id not in redefined else r
             for r in rules]
    trusted = parent.trusted if parent else TrustedLists()
    merged_trusted = TrustedLists(
        values=[*trusted.values, *child.trusted.values],
        email_domains=[*trusted.email_domains, *child.trusted.email_domains],
        url_hosts=[*trusted.url_hosts, *child.trusted.url_hosts],
        paths=[*trusted.paths, *child.trusted.paths],
    )
    groups = dict(parent.arg_groups) if parent else {}
    groups.update({k: list(v) for k, v in child.arg_groups.items()})
    provenance = child.provenance or (parent.provenance if parent else ProvenanceOptions())
    return PolicyPack(
        name=child.name or name, description=child.description or (parent.description if parent else ""),
        sources=[*(parent.sources if parent else []), source], defaults=defaults, trusted=merged_trusted,
        arg_groups=groups, provenance=provenance, rules=rules,
    )


def read_pack_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"no policy pack at {path}") from None
    except UnicodeDecodeError as exc:
        raise PolicyError([Problem(str(path), 1, exc.start + 1, "", "the file is not UTF-8 text")]) from None
