"""`PolicyEngine`: the Gate that turns a pack into allow / confirm / deny for each proposed call.

Every enabled rule whose conditions hold is a match; the strictest matching action wins (deny > confirm >
allow), the first such rule in pack order names the decision. No match: the pack's default for the tool's
effect. The reason always says which rule fired and, when arguments were involved, where each came from.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .._gate import GateContext, PolicyDecision
from .._messages import ToolCall, UserMessage
from .._tools import Effect, Tool
from ._loader import load_policy
from ._pack import STRICTNESS, Action, ArgCondition, PolicyPack, Rule, When
from ._provenance import (
    ProvenanceIndex,
    ValueProvenance,
    domain_matches,
    email_domain,
    extract_emails,
    extract_urls,
    flatten_arguments,
    path_matches,
    url_host,
)
from ._redact import contains_secret
from ._risk import Risk as RiskLevel
from ._risk import RiskAssessment, max_risk, score_risk

_NUMBER = re.compile(r"^[^\d+\-]{0,4}([+\-]?\d[\d,_ ]*(?:\.\d+)?)\s*[^\d]{0,4}$")


@dataclass(frozen=True)
class RuleHit:
    rule: Rule
    details: list[ValueProvenance | str] = field(default_factory=list)


@dataclass
class Evaluation:
    """Everything behind one decision: for `policy explain`, tests and the audit trail."""

    decision: PolicyDecision
    hits: list[RuleHit]
    risk: RiskLevel | None
    provenance: list[ValueProvenance]


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = _NUMBER.match(value.strip())
        if match:
            try:
                return float(match.group(1).replace(",", "").replace("_", "").replace(" ", ""))
            except ValueError:
                return None
    return None


class PolicyEngine:
    """Implements `Gate`. `pack` is a loaded PolicyPack, a pack name or a path; `trusted` adds values that
    count as trusted for this engine (e.g. the user's own addresses, loaded from their account).

    `score_requests`: when the router gave no risk level, the engine scores the latest user request itself
    (the same lexical scorer as SafetyGuard) so `risk:` conditions still work without a router.
    """

    def __init__(
        self, pack: PolicyPack | str | os.PathLike[str] = "default", *, trusted: Iterable[str] = (),
        score_requests: bool = True,
    ) -> None:
        self.pack = pack if isinstance(pack, PolicyPack) else load_policy(pack)
        self.trusted = [t for t in trusted if t.strip()]
        self.score_requests = score_requests
        self._matchers: dict[int, tuple[re.Pattern[str], re.Pattern[str] | None]] = {}

    @property
    def name(self) -> str:
        return self.pack.name

    async def decide(self, call: ToolCall, tool: Tool, ctx: GateContext) -> PolicyDecision:
        return self.evaluate(call, tool, ctx).decision

    # -- evaluation ----------------------------------------------------------------------------------------
    def evaluate(self, call: ToolCall, tool: Tool, ctx: GateContext) -> Evaluation:
        return self.evaluate_call(call, effect=tool.effect, has_preview=tool.has_preview, ctx=ctx)

    def evaluate_call(self, call: ToolCall, *, effect: Effect, has_preview: bool, ctx: GateContext) -> Evaluation:
        """`evaluate` for a call described by its effect alone (`agentkit policy explain`, dry runs)."""
        index = ProvenanceIndex(ctx.messages, trusted=self.pack.trusted, extra_trusted=self.trusted,
                                min_length=self.pack.provenance.min_length)
        risk = self._risk(ctx)
        cache: dict[str, ValueProvenance] = {}
        hits: list[RuleHit] = []
        for rule in self.pack.rules:
            if not rule.enabled:
                continue
            hit = self._match(rule, call, effect, has_preview, risk, index, cache)
            if hit is not None:
                hits.append(hit)
        provenance = [self._provenance(index, cache, display, value) for _, display, value in
                      flatten_arguments(call.arguments) if isinstance(value, str)]
        if hits:
            strictest = max(STRICTNESS[h.rule.action] for h in hits)
            chosen = next(h for h in hits if STRICTNESS[h.rule.action] == strictest)
            decision = PolicyDecision(chosen.rule.action, self._reason(chosen, hits, provenance),
                                      f"{self.pack.name}:{chosen.rule.id}")
        else:
            action: Action = self.pack.defaults[effect]
            reason = f"{effect} tool: the pack's default is {action}"
            if action != "allow":
                reason += self._summary(provenance)
            decision = PolicyDecision(action, reason, f"{self.pack.name}:defaults.{effect}")
        return Evaluation(decision, hits, risk, provenance)

    def _risk(self, ctx: GateContext) -> RiskLevel | None:
        own: RiskAssessment | None = None
        if self.score_requests:
            for message in reversed(ctx.messages):
                if isinstance(message, UserMessage) and message.provenance == "trusted" and message.kind == "request":
                    own = score_risk(message.content)
                    break
        return max_risk(ctx.risk, own.level if own else None)

    @staticmethod
    def _provenance(index: ProvenanceIndex, cache: dict[str, ValueProvenance], path: str, value: Any) -> ValueProvenance:
        key = f"{path}\0{value}"
        if key not in cache:
            cache[key] = index.classify(value, path=path)
        return cache[key]

    def _match(
        self, rule: Rule, call: ToolCall, effect: Effect, has_preview: bool, risk: RiskLevel | None,
        index: ProvenanceIndex, cache: dict[str, ValueProvenance],
    ) -> RuleHit | None:
        when: When = rule.when
        if when.tool is not None and not any(fnmatch.fnmatchcase(call.name, g) for g in when.tool):
            return None
        if when.tool_not is not None and any(fnmatch.fnmatchcase(call.name, g) for g in when.tool_not):
            return None
        if when.effect is not None and effect not in when.effect:
            return None
        if when.risk is not None and (risk is None or risk not in when.risk):
            return None
        if when.has_preview is not None and has_preview != when.has_preview:
            return None
        details: list[ValueProvenance | str] = []
        if risk is not None and when.risk is not None:
            details.append(f"request risk is {risk}")
        for condition in when.args:
            matched = self._condition(condition, call, index, cache)
            if matched is None:
                return None
            details.extend(matched)
        return RuleHit(rule, details)

    def _arg_matcher(self, condition: ArgCondition) -> tuple[re.Pattern[str], re.Pattern[str] | None]:
        """(pattern for the full argument path, pattern for its last segment), compiled once per condition."""
        cached = self._matchers.get(id(condition))
        if cached is None:
            globs: list[str] = []
            for name in condition.arg:
                globs.extend(self.pack.arg_groups.get(name[1:], []) if name.startswith("@") else [name])
            full = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs) or r"(?!)")
            simple = [g for g in globs if "." not in g]
            last = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in simple)) if simple else None
            cached = self._matchers[id(condition)] = (full, last)
        return cached

    def _condition(
        self, condition: ArgCondition, call: ToolCall, index: ProvenanceIndex, cache: dict[str, ValueProvenance],
    ) -> list[ValueProvenance | str] | None:
        """The values that satisfied the condition (for the reason), or None when it does not hold."""
        full, last_segment = self._arg_matcher(condition)
        values: list[tuple[str, Any]] = []
        for match_path, display, leaf in flatten_arguments(call.arguments):
            last = match_path.rsplit(".", 1)[-1]
            if not (full.match(match_path) or (last_segment is not None and last_segment.match(last))):
                continue
            if condition.extract == "value":
                values.append((display, leaf))
            elif isinstance(leaf, str):
                found = extract_urls(leaf) if condition.extract == "urls" else extract_emails(leaf)
                values.extend((f"{display}:{condition.extract[:-1]}", item) for item in found)
        if not values:
            return None
        satisfied: list[ValueProvenance | str] = []
        for display, value in values:
            ok, evidence = self._test(condition, value, display, index, cache)
            if ok:
                satisfied.append(evidence)
            elif condition.quantifier == "all":
                return None
        return satisfied or None

    def _test(
        self, condition: ArgCondition, value: Any, display: str, index: ProvenanceIndex,
        cache: dict[str, ValueProvenance],
    ) -> tuple[bool, ValueProvenance | str]:
        text = str(value)
        evidence: ValueProvenance | str = f"{display}={text[:60]!r}"
        if condition.provenance is not None:
            prov = self._provenance(index, cache, display, value)
            if prov.level not in condition.provenance:
                return False, evidence
            evidence = prov
        checks: list[bool] = []
        if condition.email_domain_in is not None or condition.email_domain_not_in is not None:
            domain = email_domain(text)
            if condition.email_domain_in is not None:
                checks.append(domain is not None and domain_matches(domain, condition.email_domain_in))
            if condition.email_domain_not_in is not None:
                checks.append(domain is None or not domain_matches(domain, condition.email_domain_not_in))
        if condition.url_host_in is not None or condition.url_host_not_in is not None:
            host = url_host(text)
            if condition.url_host_in is not None:
                checks.append(host is not None and domain_matches(host, condition.url_host_in))
            if condition.url_host_not_in is not None:
                checks.append(host is None or not domain_matches(host, condition.url_host_not_in))
        if condition.path_in is not None:
            checks.append(path_matches(text, condition.path_in))
        if condition.path_not_in is not None:
            checks.append(not path_matches(text, condition.path_not_in))
        if condition.regex is not None:
            checks.append(re.search(condition.regex, text) is not None)
        if condition.not_regex is not None:
            checks.append(re.search(condition.not_regex, text) is None)
        bounds = (condition.gt, condition.ge, condition.lt, condition.le)
        if any(b is not None for b in bounds):
            number = _number(value)
            checks.append(number is not None and all((
                condition.gt is None or number > condition.gt, condition.ge is None or number >= condition.ge,
                condition.lt is None or number < condition.lt, condition.le is None or number <= condition.le,
            )))
        if condition.contains_secret is not None:
            checks.append(contains_secret(text) == condition.contains_secret)
            if condition.contains_secret:
                evidence = f"{display} contains what looks like a secret"
        return all(checks), evidence

    # -- reasons -------------------------------------------------------------------------------------------
    def _reason(self, chosen: RuleHit, hits: list[RuleHit], provenance: list[ValueProvenance]) -> str:
        parts = [chosen.rule.reason]
        described = [d.describe() if isinstance(d, ValueProvenance) else d for d in chosen.details]
        if described:
            parts.append("; ".join(dict.fromkeys(described)))
        others = [h.rule.id for h in hits if h is not chosen and h.rule.action != "allow"]
        if others:
            parts.append("also matched: " + ", ".join(others))
        reason = " - ".join(parts)
        if chosen.rule.action != "allow" and not any(isinstance(d, ValueProvenance) for d in chosen.details):
            reason += self._summary(provenance)
        return reason

    @staticmethod
    def _summary(provenance: list[ValueProvenance], limit: int = 4) -> str:
        """The provenance of the call's shorter string arguments (addresses, paths, ids), for the person asked."""
        shown = [p for p in provenance if len(p.value) <= 200][:limit]
        if not shown:
            return ""
        return " [provenance: " + "; ".join(f"{p.path} {p.level}" for p in shown) + "]"
