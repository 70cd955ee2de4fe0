"""The calc toolkit: a real parser over exact fractions, bounded, with corrections; unit conversions."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from agentkit import Agent, AssistantMessage, CorrectionSent, ModelRetry, ToolResult, ToolResultMessage
from agentkit.testing import ScriptedModel, call, text
from agentkit.toolkits import available_toolkits, load_toolkit
from agentkit.toolkits._calc import CalcError, Config, evaluate, format_number, toolkit

calculate, convert_units = toolkit(Config())


@pytest.mark.parametrize(
    ("expression", "shown"),
    [
        ("2.5 + 4", "6.5"),
        ("0.1 + 0.2", "0.3"),  # exact, unlike floats
        ("1/3", "1/3 ≈ 0.333333333333333333333333333333"),
        ("1/8", "0.125"),
        ("(1 + 2) * 3", "9"),
        ("2 + 3 * 4", "14"),
        ("-2**2", "-4"),
        ("2**-1", "0.5"),
        ("2 ** 3 ** 2", "512"),
        ("2^10", "1024"),
        ("7 // 2", "3"),
        ("-7 // 2", "-4"),
        ("10 % 3", "1"),
        ("10 mod 3", "1"),
        ("15% of 80", "12"),
        ("80 + 15%", "92"),
        ("80 - 15%", "68"),
        ("50% * 2", "1"),
        ("sqrt(16)", "4"),
        ("sqrt(2)", "≈ 1.41421356237309504880168872421"),
        ("8 ** (1/3)", "2"),
        ("abs(-3/4)", "0.75"),
        ("round(2/3, 3)", "0.667"),
        ("min(3, 1/2, 2)", "0.5"),
        ("max(1, 7/4)", "1.75"),
        ("floor(-2.5)", "-3"),
        ("ceil(2.1)", "3"),
        ("round(pi, 4)", "≈ 3.1416"),
        ("3 × 4 ÷ 2", "6"),
        ("1_000 * 1.5e3", "1500000"),
        ("--3", "3"),
    ],
)
def test_expressions(expression: str, shown: str) -> None:
    assert calculate(expression) == shown


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("1/0", "division by zero"),
        ("5 mod 0", "modulo by zero"),
        ("2 +", "operand is missing"),
        ("(1 + 2", "expected ')'"),
        ("1 2", "is an operator missing"),
        ("foo(2)", "unknown name 'foo'"),
        ("__import__('os').system('id')", "unexpected character"),
        ("__import__(1)", "unknown name '__import__'"),
        ("().__class__", "unexpected character '.'"),
        ("2**100000", "digits (limit 10000)"),
        ("10**10**10", "exponent 10000000000 is too large"),
        ("1e999999999", "more than 10000 digits"),
        ("1.0001**100000", "digits (limit 10000)"),
        ("(-8)**(1/3)", "not a real number"),
        ("100!", "unexpected character '!'"),
        ("sqrt(1, 2)", "takes 1 argument"),
        ("round(1, 1/2)", "whole number"),
        ("2 of 3", "'of' follows a percentage"),
        ("", "empty"),
    ],
)
def test_bad_expressions_are_corrections(expression: str, fragment: str) -> None:
    if not expression:
        with pytest.raises(CalcError, match=fragment):
            evaluate(expression)
        return
    with pytest.raises(ModelRetry, match="cannot evaluate") as caught:
        calculate(expression)
    assert fragment in caught.value.message
    assert "call calculate again" in caught.value.message


def test_results_are_exact_fractions() -> None:
    assert evaluate("1/3 + 1/6").value == Fraction(1, 2)
    assert evaluate("0.1 * 3").value == Fraction(3, 10)
    assert isinstance(evaluate("sqrt(2)").value, Decimal)
    assert format_number(evaluate("2/7")).startswith("2/7 ≈ 0.285714")


def test_bounds_are_configurable() -> None:
    small = toolkit(Config(max_digits=20, max_exponent=10))[0]
    with pytest.raises(ModelRetry, match="exponent 11 is too large"):
        small("2 ** 11")
    with pytest.raises(ModelRetry, match="more than 20 digits"):
        small("10**9 * 10**9 * 10**9")


@pytest.mark.parametrize(
    ("value", "source", "target", "shown"),
    [
        (5, "km", "m", "5 km = 5000 m"),
        (5, "km", "mi", "5 km = ≈ 3.10685596118667 mi"),
        (100, "degC", "degF", "100 degC = 212 degF"),
        (-40, "F", "C", "-40 degF = -40 degC"),
        (0, "K", "celsius", "0 K = -273.15 degC"),
        (1, "GiB", "MB", "1 GiB = 1073.741824 MB"),
        (1, "Mb", "kB", "1 Mbit = 125 kB"),
        ("3/4", "cup", "ml", "0.75 cup = 177.441177375 ml"),
        (1, "lbs", "g", "1 lb = 453.59237 g"),
        (2.5, "hours", "min", "2.5 h = 150 min"),
        (1, "imp_gal", "l", "1 imp_gal = 4.54609 l"),
    ],
)
def test_convert_units(value: float | str, source: str, target: str, shown: str) -> None:
    assert convert_units(value, source, target) == shown


@pytest.mark.parametrize(
    ("value", "source", "target", "fragment"),
    [
        (1, "kg", "m", "mass unit and 'm' a length unit"),
        (1, "parsec", "m", "unknown unit 'parsec'"),
        (-500, "degC", "K", "below absolute zero"),
        ("two", "m", "km", "unknown name 'two'"),
    ],
)
def test_convert_units_corrections(value: float | str, source: str, target: str, fragment: str) -> None:
    with pytest.raises(ModelRetry, match="cannot convert") as caught:
        convert_units(value, source, target)
    assert fragment in caught.value.message


def test_local_toolkits_are_registered() -> None:
    import agentkit.toolkits.files as files
    import agentkit.toolkits.sandbox as sandbox

    assert {"calc", "code", "files", "python"} <= set(available_toolkits())
    assert files.__all__ == sorted(files.__all__)
    assert sandbox.__all__ == sorted(sandbox.__all__)


def test_both_tools_through_the_agent_loop() -> None:
    tools = load_toolkit("calc")
    assert [t.name for t in tools] == ["calculate", "convert_units"]
    assert all(t.effect == "read" for t in tools)
    model = ScriptedModel([
        call("calculate", {"expression": "15% of 80 +"}),
        call("calculate", {"expression": "15% of 80"}),
        call("convert_units", {"value": 12, "from_unit": "km", "to_unit": "m"}),
        text("12 km is 12000 m"),
    ])
    result = Agent(model, tools=tools).run_sync("15% of 80 km in metres?")
    tool_messages = [m for m in result.messages if isinstance(m, ToolResultMessage)]
    assert [m.content for m in tool_messages][1:] == ["12", "12 km = 12000 m"]
    assert tool_messages[0].is_error
    assert "operand is missing" in tool_messages[0].content
    assert result.output == "12 km is 12000 m"
    model.assert_all_used()


async def test_correction_event_for_a_malformed_expression() -> None:
    model = ScriptedModel([call("calculate", {"expression": "2 ** 10 ** 10"}), text("too big")])
    events = [e async for e in Agent(model, tools=load_toolkit("calc")).run_stream("huge?")]
    corrections = [e for e in events if isinstance(e, CorrectionSent)]
    assert [c.reason for c in corrections] == ["tool_retry"]
    assert "too large" in corrections[0].message
    assert not [e for e in events if isinstance(e, ToolResult) and not e.is_error]


@pytest.mark.model
def test_real_default_model_calls_calculate() -> None:
    agent = Agent(tools=load_toolkit("calc"), tool_choice="required")
    result = agent.run_sync("What is 2.5 + 4?")
    calls = [c for m in result.messages if isinstance(m, AssistantMessage) for c in m.tool_calls]
    assert calls
    assert calls[0].name in ("calculate", "convert_units")
    assert any(isinstance(m, ToolResultMessage) for m in result.messages)
