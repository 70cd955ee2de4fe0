"""Unit tables for `convert_units`: exact factors (as fractions) to one base unit per kind.

Temperatures are affine (an offset as well as a factor), so they convert through kelvin. US customary
volumes are used for gallon/quart/pint/cup/fl oz; the imperial gallon is `imp_gal`.
"""

from __future__ import annotations

import difflib
from decimal import Decimal
from fractions import Fraction

Kind = str


def _f(value: str | int, denominator: int = 1) -> Fraction:
    return Fraction(value) / denominator


_INCH = _f("0.0254")
_POUND = _f("0.45359237")
_US_GALLON = _f("3.785411784")  # litres, exactly 231 cubic inches

# name -> (kind, factor to the kind's base unit). Bases: metre, kilogram, second, litre, byte.
_LINEAR: dict[str, tuple[Kind, Fraction]] = {
    "m": ("length", _f(1)), "km": ("length", _f(1000)), "cm": ("length", _f("0.01")), "mm": ("length", _f("0.001")),
    "um": ("length", _f("1e-6")), "nm": ("length", _f("1e-9")), "in": ("length", _INCH), "ft": ("length", 12 * _INCH),
    "yd": ("length", 36 * _INCH), "mi": ("length", 63360 * _INCH), "nmi": ("length", _f(1852)),
    "kg": ("mass", _f(1)), "g": ("mass", _f("0.001")), "mg": ("mass", _f("1e-6")), "ug": ("mass", _f("1e-9")),
    "t": ("mass", _f(1000)), "lb": ("mass", _POUND), "oz": ("mass", _POUND / 16), "st": ("mass", 14 * _POUND),
    "s": ("time", _f(1)), "ms": ("time", _f("0.001")), "us": ("time", _f("1e-6")), "ns": ("time", _f("1e-9")),
    "min": ("time", _f(60)), "h": ("time", _f(3600)), "day": ("time", _f(86400)), "week": ("time", _f(604800)),
    "year": ("time", _f(31557600)),  # Julian year, 365.25 days
    "l": ("volume", _f(1)), "ml": ("volume", _f("0.001")), "cl": ("volume", _f("0.01")), "dl": ("volume", _f("0.1")),
    "m3": ("volume", _f(1000)), "cm3": ("volume", _f("0.001")), "gal": ("volume", _US_GALLON),
    "qt": ("volume", _US_GALLON / 4), "pt": ("volume", _US_GALLON / 8), "cup": ("volume", _US_GALLON / 16),
    "floz": ("volume", _US_GALLON / 128), "tbsp": ("volume", _US_GALLON / 256), "tsp": ("volume", _US_GALLON / 768),
    "imp_gal": ("volume", _f("4.54609")),
    "B": ("data", _f(1)), "bit": ("data", _f(1, 8)), "kB": ("data", _f(1000)), "MB": ("data", _f(10**6)),
    "GB": ("data", _f(10**9)), "TB": ("data", _f(10**12)), "PB": ("data", _f(10**15)), "KiB": ("data", _f(2**10)),
    "MiB": ("data", _f(2**20)), "GiB": ("data", _f(2**30)), "TiB": ("data", _f(2**40)), "PiB": ("data", _f(2**50)),
    "kbit": ("data", _f(125)), "Mbit": ("data", _f(125_000)), "Gbit": ("data", _f(125_000_000)),
}
_TEMPERATURES = {"K": "kelvin", "degC": "Celsius", "degF": "Fahrenheit"}

_ALIASES: dict[str, str] = {
    "meter": "m", "metre": "m", "meters": "m", "metres": "m", "kilometer": "km", "kilometre": "km",
    "kilometers": "km", "kilometres": "km", "centimeter": "cm", "centimeters": "cm", "millimeter": "mm",
    "millimeters": "mm", "µm": "um", "micrometer": "um", "nanometer": "nm", "inch": "in", "inches": "in",
    "foot": "ft", "feet": "ft", "yard": "yd", "yards": "yd", "mile": "mi", "miles": "mi", "nautical mile": "nmi",
    "kilogram": "kg", "kilograms": "kg", "kilo": "kg", "kilos": "kg", "gram": "g", "grams": "g", "milligram": "mg",
    "µg": "ug", "tonne": "t", "tonnes": "t", "pound": "lb", "pounds": "lb", "lbs": "lb", "ounce": "oz",
    "ounces": "oz", "stone": "st", "second": "s", "seconds": "s", "sec": "s", "millisecond": "ms",
    "milliseconds": "ms", "µs": "us", "microsecond": "us", "nanosecond": "ns", "minute": "min", "minutes": "min",
    "hour": "h", "hours": "h", "hr": "h", "days": "day", "d": "day", "weeks": "week", "years": "year", "yr": "year",
    "liter": "l", "litre": "l", "liters": "l", "litres": "l", "milliliter": "ml", "millilitre": "ml",
    "cc": "cm3", "gallon": "gal", "gallons": "gal", "quart": "qt", "pint": "pt", "cups": "cup", "fl oz": "floz",
    "fl_oz": "floz", "tablespoon": "tbsp", "teaspoon": "tsp", "imperial gallon": "imp_gal",
    "byte": "B", "bytes": "B", "bits": "bit", "b": "bit", "KB": "kB", "Kb": "kbit", "Mb": "Mbit", "Gb": "Gbit", "kilobyte": "kB", "megabyte": "MB", "gigabyte": "GB", "terabyte": "TB", "kibibyte": "KiB",
    "mebibyte": "MiB", "gibibyte": "GiB", "tebibyte": "TiB", "kbps": "kbit", "Mbps": "Mbit", "Gbps": "Gbit",
    "kelvin": "K", "k": "K", "C": "degC", "°C": "degC", "celsius": "degC", "F": "degF", "°F": "degF",
    "fahrenheit": "degF",
}


def _canonical(unit: str) -> str:
    text = unit.strip()
    if text in _LINEAR or text in _TEMPERATURES:
        return text
    if text in _ALIASES:
        return _ALIASES[text]
    lowered = text.lower()
    for table in (_ALIASES, {k.lower(): k for k in _LINEAR}, {k.lower(): k for k in _TEMPERATURES}):
        if lowered in table:
            return table[lowered] if table is not _ALIASES else _ALIASES[lowered]
    if lowered.endswith("s") and lowered[:-1] in _ALIASES:
        return _ALIASES[lowered[:-1]]
    names = [*_LINEAR, *_TEMPERATURES, *_ALIASES]
    close = difflib.get_close_matches(text, names, n=3)
    suggestion = f"; did you mean {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown unit {unit!r}{suggestion} {describe_units()}")


def _kind(unit: str) -> Kind:
    return "temperature" if unit in _TEMPERATURES else _LINEAR[unit][0]


def _to_kelvin(value: Fraction, unit: str) -> Fraction:
    if unit == "degC":
        return value + _f("273.15")
    if unit == "degF":
        return (value - 32) * Fraction(5, 9) + _f("273.15")
    return value


def _from_kelvin(value: Fraction, unit: str) -> Fraction:
    if unit == "degC":
        return value - _f("273.15")
    if unit == "degF":
        return (value - _f("273.15")) * Fraction(9, 5) + 32
    return value


def convert(value: Fraction | Decimal, from_unit: str, to_unit: str) -> tuple[Fraction, str, str]:
    """(converted value, canonical from-unit, canonical to-unit); ValueError with a fix for bad units."""
    source, target = _canonical(from_unit), _canonical(to_unit)
    source_kind, target_kind = _kind(source), _kind(target)
    if source_kind != target_kind:
        raise ValueError(f"{from_unit!r} is a {source_kind} unit and {to_unit!r} a {target_kind} unit; "
                         "they cannot be converted into each other")
    exact = Fraction(value)
    if source_kind == "temperature":
        kelvin = _to_kelvin(exact, source)
        if kelvin < 0:
            raise ValueError("that temperature is below absolute zero")
        return _from_kelvin(kelvin, target), source, target
    return exact * _LINEAR[source][1] / _LINEAR[target][1], source, target


def describe_units() -> str:
    kinds: dict[str, list[str]] = {}
    for name, (kind, _) in _LINEAR.items():
        kinds.setdefault(kind, []).append(name)
    kinds["temperature"] = list(_TEMPERATURES)
    return "Units: " + "; ".join(f"{kind}: {' '.join(names)}" for kind, names in kinds.items()) + "."
