"""The "calc" toolkit: exact arithmetic from a real parser (never eval), and unit conversions.

    expression := sum
    sum        := product (("+" | "-") product)*        "80 + 15%" means 80 * 1.15
    product    := unary (("*" | "/" | "//" | "mod" | "%" | "of") unary)*   "15% of 80" means 0.15 * 80
    unary      := ("-" | "+") unary | power
    power      := postfix (("**" | "^") unary)?         right-associative; -2**2 == -4, as in Python
    postfix    := atom "%"?                             "%" is a percentage unless an operand follows it
    atom       := number | constant | function "(" args ")" | "(" sum ")"

Numbers are exact fractions; only roots, pi, e and non-integer powers are approximated (50 significant
digits, marked "≈"). Exponents and result sizes are bounded so that no input can exhaust memory or time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation, localcontext
from fractions import Fraction
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from .._errors import ModelRetry
from .._tools import Tool, tool
from ._units import convert

PRECISION = 50


class CalcError(ValueError):
    """The expression cannot be evaluated; the message says what to fix."""


@dataclass(frozen=True)
class Number:
    """An exact Fraction, or a Decimal approximation once an irrational step happened."""

    value: Fraction | Decimal
    percent: bool = False  # written as "x%" and not yet combined

    @property
    def exact(self) -> bool:
        return isinstance(self.value, Fraction)

    def approx(self) -> Decimal:
        if isinstance(self.value, Decimal):
            return self.value
        with localcontext(Context(prec=PRECISION)):
            return Decimal(self.value.numerator) / Decimal(self.value.denominator)


_TOKEN = re.compile(r"\s*(?:(?P<number>(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
                    r"|(?P<op>\*\*|//|[-+*/%^(),×÷]))")
_FUNCTIONS = ("sqrt", "abs", "round", "min", "max", "floor", "ceil")
_CONSTANTS = {"pi": "3.1415926535897932384626433832795028841971693993751",
              "e": "2.7182818284590452353602874713526624977572470936999"}


def tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            bad = text[position:].strip()[:1]
            raise CalcError(f"unexpected character {bad!r} at position {position + 1}; use numbers, + - * / // ** ^ "
                            f"% mod, parentheses and {', '.join(_FUNCTIONS)}")
        token = match.group("number") or match.group("name") or match.group("op")
        tokens.append({"×": "*", "÷": "/"}.get(token, token))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], *, max_digits: int, max_exponent: int) -> None:
        self.tokens = tokens
        self.index = 0
        self.max_digits = max_digits
        self.max_exponent = max_exponent

    def peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise CalcError("the expression ends too early; an operand is missing")
        self.index += 1
        return token

    def expect(self, token: str) -> None:
        got = self.peek()
        if got != token:
            raise CalcError(f"expected {token!r} but found {got or 'the end'!r}")
        self.index += 1

    def parse(self) -> Number:
        if not self.tokens:
            raise CalcError("the expression is empty")
        value = self.sum()
        if self.peek() is not None:
            raise CalcError(f"unexpected {self.peek()!r} after a complete expression; is an operator missing?")
        return self.finish(value)

    # -- grammar ---------------------------------------------------------------------------------------------
    def sum(self) -> Number:
        left = self.finish(self.product())
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.product()
            if right.percent:  # "80 + 15%": a percentage of the left side
                right = self.mul(left, self.finish(right))
            left = self.add(left, right) if op == "+" else self.add(left, self.neg(right))
        return left

    def product(self) -> Number:
        left = self.unary()
        while self.peek() in ("*", "/", "//", "%", "mod", "of"):
            op = self.take()
            right = self.unary()
            if op == "of" and not left.percent:
                raise CalcError("'of' follows a percentage, as in '15% of 80'")
            left, right = self.finish(left), self.finish(right)
            if op in ("*", "of"):
                left = self.mul(left, right)
            elif op == "/":
                left = self.div(left, right)
            else:
                left = self.floordiv_or_mod(left, right, op)
        return left

    def unary(self) -> Number:
        if self.peek() in ("-", "+"):
            op = self.take()
            operand = self.unary()
            return Number(self.neg(operand).value, operand.percent) if op == "-" else operand
        return self.power()

    def power(self) -> Number:
        base = self.postfix()
        if self.peek() in ("**", "^"):
            self.take()
            exponent = self.finish(self.unary())
            return self.pow(self.finish(base), exponent)
        return base

    def postfix(self) -> Number:
        value = self.atom()
        if self.peek() == "%":
            following = self.tokens[self.index + 1] if self.index + 1 < len(self.tokens) else None
            operand_follows = following is not None and (
                following[0].isdigit() or following[0] == "." or following == "("
                or (following.isidentifier() and following not in ("of", "mod"))
            )
            if not operand_follows:
                self.take()
                return Number(value.value / 100, percent=True)
        return value

    def atom(self) -> Number:
        token = self.take()
        if token == "(":
            value = self.finish(self.sum())
            self.expect(")")
            return value
        if token[0].isdigit() or token[0] == ".":
            try:
                literal = Decimal(token.replace("_", ""))
            except InvalidOperation:
                raise CalcError(f"{token!r} is not a number") from None
            if literal and abs(literal.adjusted()) > self.max_digits:
                raise CalcError(f"{token!r} has more than {self.max_digits} digits")
            return Number(Fraction(literal))
        lowered = token.lower()
        if lowered in _CONSTANTS:
            return Number(Decimal(_CONSTANTS[lowered]))
        if lowered in _FUNCTIONS:
            self.expect("(")
            args = [self.finish(self.sum())]
            while self.peek() == ",":
                self.take()
                args.append(self.finish(self.sum()))
            self.expect(")")
            return self.call(lowered, args)
        raise CalcError(f"unknown name {token!r}; functions: {', '.join(_FUNCTIONS)}; constants: pi, e")

    # -- arithmetic ------------------------------------------------------------------------------------------
    def finish(self, number: Number) -> Number:
        """A percentage used as a plain value is just its fraction (50% * 2 == 1)."""
        return Number(number.value) if number.percent else number

    def checked(self, value: Fraction | Decimal) -> Number:
        if isinstance(value, Fraction):
            bits = max(value.numerator.bit_length(), value.denominator.bit_length())
            if bits * 0.30103 > self.max_digits:
                raise CalcError(f"the result has more than {self.max_digits} digits; that is beyond this calculator")
        elif not value.is_finite():
            raise CalcError("the result is not a finite number")
        elif value != 0 and abs(value.adjusted()) > self.max_digits:
            raise CalcError(f"the result has more than {self.max_digits} digits; that is beyond this calculator")
        return Number(value)

    def both_exact(self, a: Number, b: Number) -> tuple[Fraction, Fraction] | None:
        if isinstance(a.value, Fraction) and isinstance(b.value, Fraction):
            return a.value, b.value
        return None

    def decimal_op(self, a: Number, b: Number, op: str) -> Number:
        with localcontext(Context(prec=PRECISION)):
            x, y = a.approx(), b.approx()
            result = {"+": lambda: x + y, "*": lambda: x * y, "/": lambda: x / y}[op]()
        return self.checked(result)

    def add(self, a: Number, b: Number) -> Number:
        exact = self.both_exact(a, b)
        return self.checked(exact[0] + exact[1]) if exact else self.decimal_op(a, b, "+")

    def neg(self, a: Number) -> Number:
        return Number(-a.value)

    def mul(self, a: Number, b: Number) -> Number:
        exact = self.both_exact(a, b)
        return self.checked(exact[0] * exact[1]) if exact else self.decimal_op(a, b, "*")

    def div(self, a: Number, b: Number) -> Number:
        if b.value == 0:
            raise CalcError("division by zero")
        exact = self.both_exact(a, b)
        return self.checked(exact[0] / exact[1]) if exact else self.decimal_op(a, b, "/")

    def floordiv_or_mod(self, a: Number, b: Number, op: str) -> Number:
        if b.value == 0:
            raise CalcError("division by zero" if op == "//" else "modulo by zero")
        x, y = (a.value, b.value) if self.both_exact(a, b) else (a.approx(), b.approx())
        quotient = math.floor(Fraction(x) / Fraction(y))
        if op == "//":
            return self.checked(Fraction(quotient))
        remainder = Fraction(x) - Fraction(y) * quotient
        return self.checked(remainder) if self.both_exact(a, b) else Number(Decimal(remainder.numerator) /
                                                                               Decimal(remainder.denominator))

    def pow(self, base: Number, exponent: Number) -> Number:
        e = exponent.value
        if isinstance(e, Fraction) and e.denominator == 1:
            n = int(e)
            if abs(n) > self.max_exponent:
                raise CalcError(f"exponent {n} is too large (limit {self.max_exponent})")
            if base.value == 0 and n < 0:
                raise CalcError("zero cannot be raised to a negative power")
            if isinstance(base.value, Fraction):
                bits = max(base.value.numerator.bit_length(), base.value.denominator.bit_length())
                size = abs(n) * bits * 0.30103 if abs(base.value) != 1 else 0
                if size > self.max_digits:
                    raise CalcError(f"the result would have about {size:.0f} digits (limit {self.max_digits})")
                return self.checked(base.value ** n)
            size = abs(n) * abs(base.value.adjusted() + 1)
            if size > self.max_digits:
                raise CalcError(f"the result would have about {size:.0f} digits (limit {self.max_digits})")
            with localcontext(Context(prec=PRECISION)):
                return self.checked(base.value ** n)
        if base.value < 0:
            raise CalcError("a negative number to a fractional power is not a real number")
        if isinstance(e, Fraction) and isinstance(base.value, Fraction) and e.denominator <= 64:
            root = _exact_root(base.value, e.denominator)
            if root is not None:
                return self.pow(Number(root), Number(Fraction(e.numerator)))
        if base.value == 0:
            return Number(Fraction(0))
        if abs(float(exponent.approx())) * max(abs(math.log10(float(base.approx()))), 1e-9) > self.max_digits:
            raise CalcError(f"the result would have more than {self.max_digits} digits")
        with localcontext(Context(prec=PRECISION)):
            return self.checked(base.approx() ** exponent.approx())

    def call(self, name: str, args: list[Number]) -> Number:
        arity = {"sqrt": (1, 1), "abs": (1, 1), "round": (1, 2), "min": (1, 99), "max": (1, 99), "floor": (1, 1),
                 "ceil": (1, 1)}[name]
        if not arity[0] <= len(args) <= arity[1]:
            raise CalcError(f"{name}() takes {arity[0]}{'' if arity[0] == arity[1] else '+'} argument(s), "
                            f"got {len(args)}")
        x = args[0]
        if name == "sqrt":
            return self.pow(x, Number(Fraction(1, 2)))
        if name == "abs":
            return Number(-x.value if x.value < 0 else x.value)
        if name in ("min", "max"):
            pick = min if name == "min" else max
            return pick(args, key=lambda a: a.value)
        if name in ("floor", "ceil"):
            return Number(Fraction(math.floor(x.value) if name == "floor" else math.ceil(x.value)))
        digits = 0
        if len(args) == 2:
            if not (args[1].exact and Fraction(args[1].value).denominator == 1) or not 0 <= args[1].value <= 100:
                raise CalcError("round(x, digits) needs digits as a whole number from 0 to 100")
            digits = int(args[1].value)
        if isinstance(x.value, Decimal):
            return Number(x.value.quantize(Decimal(1).scaleb(-digits)))
        scale = Fraction(10) ** digits
        return Number(Fraction(round(x.value * scale), 1) / scale)


def _integer_root(k: int, n: int) -> int | None:
    """The exact integer n-th root of k, or None (Newton's method on integers: exact for any size)."""
    if k < 2:
        return k
    if k.bit_length() > 40_000:
        return None
    x = 1 << ((k.bit_length() + n - 1) // n)  # an upper bound
    while True:
        y = ((n - 1) * x + k // x ** (n - 1)) // n
        if y >= x:
            break
        x = y
    return x if x ** n == k else None


def _exact_root(value: Fraction, n: int) -> Fraction | None:
    top, bottom = _integer_root(value.numerator, n), _integer_root(value.denominator, n)
    return Fraction(top, bottom) if top is not None and bottom is not None else None


def _plain(value: Decimal, significant: int) -> str:
    with localcontext(Context(prec=significant)):
        rounded = +value
    text = format(rounded, "f") if -12 <= rounded.adjusted() < significant else format(rounded, "e")
    if "." in text and "e" not in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_number(number: Number, *, significant: int = 30, show_fraction: bool = True) -> str:
    """'42', '0.125' (terminating, so exact), '7/3 ≈ 2.333…', or '≈ 1.414…' for approximations."""
    value = number.value
    if isinstance(value, Decimal):
        return "≈ " + _plain(value, significant)
    if value.denominator == 1:
        return str(value.numerator)
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    as_decimal = _plain(Number(value).approx(), significant)
    if denominator == 1 and len(as_decimal.replace("-", "").replace(".", "")) < significant:
        return as_decimal  # a terminating decimal is exact
    return f"{value} ≈ {as_decimal}" if show_fraction else f"≈ {as_decimal}"


def evaluate(expression: str, *, max_digits: int = 10_000, max_exponent: int = 100_000) -> Number:
    """Evaluate an expression exactly; raises CalcError with a correction on bad input."""
    if len(expression) > 2_000:
        raise CalcError("the expression is longer than 2000 characters")
    return _Parser(tokenize(expression), max_digits=max_digits, max_exponent=max_exponent).parse()


class Config(BaseModel):
    """Options of the "calc" toolkit."""

    model_config = ConfigDict(extra="forbid")

    max_digits: int = Field(10_000, ge=20, le=1_000_000, description="largest result, in decimal digits")
    max_exponent: int = Field(100_000, ge=10, description="largest integer exponent accepted")


def toolkit(config: Config) -> list[Tool]:
    @tool(effect="read")
    def calculate(expression: Annotated[str, Field(min_length=1)]) -> str:
        """Calculate an arithmetic expression exactly, e.g. '2.5 + 4', '(3 - 1) * 7 / 2', '15% of 80', 'sqrt(2)'.

        Args:
            expression: The expression: numbers, + - * / // ** mod, parentheses, %, sqrt abs round min max.
        """
        try:
            result = evaluate(expression, max_digits=config.max_digits, max_exponent=config.max_exponent)
        except CalcError as exc:
            raise ModelRetry(
                f"cannot evaluate {expression!r}: {exc}. Fix the expression and call calculate again."
            ) from None
        except (ArithmeticError, InvalidOperation, OverflowError) as exc:
            raise ModelRetry(f"cannot evaluate {expression!r}: {exc}") from None
        return format_number(result)

    @tool(effect="read")
    def convert_units(value: float | str, from_unit: str, to_unit: str) -> str:
        """Convert a quantity between units, e.g. 5 km to mi, 100 degC to degF, 2 GiB to MB.

        Args:
            value: The amount, a number or an expression such as '3/4'.
            from_unit: The unit of the value (length, mass, time, volume, temperature or data size).
            to_unit: The unit wanted, of the same kind.
        """
        try:
            amount = evaluate(str(value), max_digits=config.max_digits, max_exponent=config.max_exponent)
            converted, source, target = convert(amount.value, from_unit, to_unit)
        except (CalcError, ValueError) as exc:
            raise ModelRetry(f"cannot convert: {exc}") from None
        shown = format_number(Number(converted), significant=15, show_fraction=False)
        return f"{format_number(amount, significant=15)} {source} = {shown} {target}"

    return [calculate, convert_units]
