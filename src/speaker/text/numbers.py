"""Numeric expressions: ranges, money, percentages, units, fractions, ordinals, plain numbers."""

from __future__ import annotations

import re

from speaker.text.patterns import DAYS, MONTH, MONTH_NAMES, NUMBER, NUMBER_START, spaced
from speaker.text.words import cardinal, fraction, integer, number, ordinal, plural, year

# --- ranges -----------------------------------------------------------------------------------
_TIME_RANGE = re.compile(
    r"(?<=[0-9])(?P<ap>\s?[aApP]\.?\s?[mM]\.?)?\s?[-–—]\s?"
    r"(?=[0-9]{1,2}(?::[0-9]{2})?\s?[aApP]\.?\s?[mM](?![\w]))"
)
_DASH_RANGE = re.compile(r"(?<=[0-9%])\s?[–—]\s?(?=[$€£¥]?[0-9])")
_HYPHEN_RANGE = re.compile(r"(?<=[0-9%])-(?=[$€£¥]?[0-9])")
_NAME_RANGE = re.compile(rf"\b(?P<a>{DAYS}|{MONTH})\s?[-–—]\s?(?P<b>{DAYS}|{MONTH})\b")
_LETTER_DIGIT = re.compile(r"(?<=[A-Za-z])-(?=[0-9])")
_NUMERIC_CHARS = frozenset("0123456789.,:%$€£¥")
_SCAN = 40


def _hyphen_range(match: re.Match[str]) -> str:
    # "978-3-16" or "F-16-20" are identifiers, not ranges: only a lone "N-M" means "N to M".
    text = match.string
    left = match.start() - 1
    limit = max(0, left - _SCAN)
    while left > limit and text[left - 1] in _NUMERIC_CHARS:
        left -= 1
    if left > 0 and (text[left - 1] == "-" or text[left - 1].isalpha()):
        return "-"
    right = match.end()
    limit = min(len(text), right + _SCAN)
    while right < limit and text[right] in _NUMERIC_CHARS:
        right += 1
    if right < len(text) and text[right] == "-":
        return "-"
    return " to "


def _time_range(match: re.Match[str]) -> str:
    return f"{match.group('ap') or ''} to "


def expand_ranges(text: str) -> str:
    """Read dashes in ranges as "to": "4-6", "9am–5pm", "Monday–Friday"."""
    text = _TIME_RANGE.sub(_time_range, text)
    text = _DASH_RANGE.sub(" to ", text)
    text = _HYPHEN_RANGE.sub(_hyphen_range, text)
    text = _NAME_RANGE.sub(r"\g<a> to \g<b>", text)
    return _LETTER_DIGIT.sub(" ", text)


# --- money ------------------------------------------------------------------------------------
_Names = tuple[str, str, str, str]
_DOLLARS: _Names = ("dollar", "dollars", "cent", "cents")
_EUROS: _Names = ("euro", "euros", "cent", "cents")
_POUNDS: _Names = ("pound", "pounds", "penny", "pence")
_YEN: _Names = ("yen", "yen", "", "")
_SIGNS: dict[str, _Names] = {"$": _DOLLARS, "US$": _DOLLARS, "€": _EUROS, "£": _POUNDS, "¥": _YEN}
_SIGNS["₹"] = ("rupee", "rupees", "paisa", "paise")
_CODES: dict[str, _Names] = {
    "USD": _DOLLARS,
    "EUR": _EUROS,
    "GBP": _POUNDS,
    "JPY": _YEN,
    "CAD": ("Canadian dollar", "Canadian dollars", "cent", "cents"),
    "AUD": ("Australian dollar", "Australian dollars", "cent", "cents"),
    "CHF": ("Swiss franc", "Swiss francs", "centime", "centimes"),
    "CNY": ("yuan", "yuan", "", ""),
    "INR": _SIGNS["₹"],
}
_MAGNITUDES = {
    "thousand": "thousand",
    "million": "million",
    "billion": "billion",
    "trillion": "trillion",
    "k": "thousand",
    "K": "thousand",
    "m": "million",
    "M": "million",
    "mn": "million",
    "b": "billion",
    "B": "billion",
    "bn": "billion",
}
_MAG = r"(?:\s(?P<mag>thousand|million|billion|trillion)|(?P<abbr>bn|mn|[kKmMbB]))(?![\w])"
_CODE = "(?P<code>" + "|".join(_CODES) + ")"
_MONEY_SIGN_FIRST = re.compile(
    rf"(?<![\w$€£¥₹])(?P<neg>[-−])?(?P<sym>US\$|[$€£¥₹]) ?(?P<num>{NUMBER})(?:{_MAG})?"
)
_MONEY_SIGN_LAST = re.compile(rf"{NUMBER_START}(?P<num>{NUMBER}) ?(?P<sym>[€£¥₹])(?![\w])")
_MONEY_CODE_LAST = re.compile(rf"{NUMBER_START}(?P<num>{NUMBER})(?:{_MAG})? ?{_CODE}(?![\w])")
_MONEY_CODE_FIRST = re.compile(rf"\b{_CODE} ?(?P<num>{NUMBER})(?:{_MAG})?")
_CENTS = re.compile(rf"{NUMBER_START}(?P<num>[0-9]{{1,3}}) ?¢")


def _amount(num: str, names: _Names, magnitude: str | None) -> str:
    one, many, sub_one, sub_many = names
    if magnitude:
        return f"{number(num)} {magnitude} {many}"
    whole, _, frac = num.replace(",", "").partition(".")
    whole = whole.lstrip("0") or "0"
    unit = one if whole == "1" else many
    if frac and sub_one and len(frac) <= 2:
        cents = int(frac.ljust(2, "0"))
        parts = []
        if whole != "0" or not cents:
            parts.append(f"{integer(whole)} {unit}")
        if cents:
            parts.append(f"{cardinal(cents)} {sub_one if cents == 1 else sub_many}")
        return " and ".join(parts)
    if frac:
        return f"{number(num)} {many}"
    return f"{integer(whole)} {unit}"


def _magnitude(match: re.Match[str]) -> str | None:
    word = match.group("mag") or match.group("abbr")
    return _MAGNITUDES[word] if word else None


def _money_sign_first(match: re.Match[str]) -> str:
    spoken = _amount(match.group("num"), _SIGNS[match.group("sym")], _magnitude(match))
    return spaced(match, f"minus {spoken}" if match.group("neg") else spoken)


def _money_sign_last(match: re.Match[str]) -> str:
    return spaced(match, _amount(match.group("num"), _SIGNS[match.group("sym")], None))


def _money_code(match: re.Match[str]) -> str:
    return spaced(
        match, _amount(match.group("num"), _CODES[match.group("code")], _magnitude(match))
    )


def _cents(match: re.Match[str]) -> str:
    value = match.group("num")
    return spaced(match, f"{integer(value)} {'cent' if value == '1' else 'cents'}")


def expand_money(text: str) -> str:
    """Read amounts of money: "$47.50" -> "forty-seven dollars and fifty cents", "€3.2 million"."""
    text = _MONEY_SIGN_FIRST.sub(_money_sign_first, text)
    text = _MONEY_SIGN_LAST.sub(_money_sign_last, text)
    text = _MONEY_CODE_LAST.sub(_money_code, text)
    text = _MONEY_CODE_FIRST.sub(_money_code, text)
    return _CENTS.sub(_cents, text)


# --- percentages, units, magnitudes -----------------------------------------------------------
_PERCENT = re.compile(rf"{NUMBER_START}(?P<sign>[-−+])?(?P<num>{NUMBER}) ?%")
_SIGN_WORDS = {"-": "minus ", "−": "minus ", "+": "plus "}

# unit -> (singular, plural). Only read after a number, so "m" or "s" in prose is never touched.
_UNITS: dict[str, tuple[str, str]] = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "m/s": ("meter per second", "meters per second"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "m": ("meter", "meters"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "yd": ("yard", "yards"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "g": ("gram", "grams"),
    "lbs": ("pound", "pounds"),
    "lb": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "l": ("liter", "liters"),
    "L": ("liter", "liters"),
    "gal": ("gallon", "gallons"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "℃": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "℉": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "TB": ("terabyte", "terabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "MB": ("megabyte", "megabytes"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "Mbps": ("megabit per second", "megabits per second"),
    "kbps": ("kilobit per second", "kilobits per second"),
    "GHz": ("gigahertz", "gigahertz"),
    "MHz": ("megahertz", "megahertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "Hz": ("hertz", "hertz"),
    "ms": ("millisecond", "milliseconds"),
    "μs": ("microsecond", "microseconds"),
    "µs": ("microsecond", "microseconds"),
    "ns": ("nanosecond", "nanoseconds"),
    "sec": ("second", "seconds"),
    "s": ("second", "seconds"),
    "min": ("minute", "minutes"),
    "hrs": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "h": ("hour", "hours"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "kW": ("kilowatt", "kilowatts"),
    "W": ("watt", "watts"),
    "mAh": ("milliamp hour", "milliamp hours"),
    "V": ("volt", "volts"),
    "dB": ("decibel", "decibels"),
    "px": ("pixel", "pixels"),
    "kcal": ("kilocalorie", "kilocalories"),
}
_UNIT = "|".join(re.escape(unit) for unit in sorted(_UNITS, key=len, reverse=True))
_UNIT_RE = re.compile(
    rf"{NUMBER_START}(?P<neg>[-−])?(?P<num>{NUMBER}) ?(?P<unit>{_UNIT})"
    r"(?P<dot>\.(?= [a-z]))?(?![\w/])"
)
_FEET_INCHES = re.compile(
    rf"{NUMBER_START}(?P<ft>[0-9]{{1,2}})['′] ?(?P<inch>[0-9]{{1,2}}(?:\.[0-9])?)(?:\"|″|'')"
)
_MAGNITUDE = re.compile(rf"{NUMBER_START}(?P<num>{NUMBER})(?P<abbr>k|M|B|bn|mn)(?![\w])")


def _percent(match: re.Match[str]) -> str:
    sign = _SIGN_WORDS.get(match.group("sign") or "", "")
    return spaced(match, f"{sign}{number(match.group('num'))} percent")


def _unit(match: re.Match[str]) -> str:
    num = match.group("num")
    singular, many = _UNITS[match.group("unit")]
    sign = "minus " if match.group("neg") else ""
    return spaced(match, f"{sign}{number(num)} {singular if num == '1' else many}")


def _feet_inches(match: re.Match[str]) -> str:
    feet, inches = match.group("ft"), match.group("inch")
    spoken = f"{integer(feet)} {'foot' if feet == '1' else 'feet'}"
    return f"{spoken} {number(inches)} {'inch' if inches == '1' else 'inches'}"


def _magnitude_suffix(match: re.Match[str]) -> str:
    return spaced(match, f"{number(match.group('num'))} {_MAGNITUDES[match.group('abbr')]}")


def expand_measures(text: str) -> str:
    """Read percentages, units and magnitudes: "45%", "5 km", "-40°F", "6'2\"", "10M"."""
    text = _PERCENT.sub(_percent, text)
    text = _FEET_INCHES.sub(_feet_inches, text)
    text = _UNIT_RE.sub(_unit, text)
    return _MAGNITUDE.sub(_magnitude_suffix, text)


# --- fractions, ordinals, decades, plain numbers ----------------------------------------------
_VULGAR = {
    "½": "1/2",
    "⅓": "1/3",
    "⅔": "2/3",
    "¼": "1/4",
    "¾": "3/4",
    "⅕": "1/5",
    "⅖": "2/5",
    "⅗": "3/5",
    "⅘": "4/5",
    "⅙": "1/6",
    "⅚": "5/6",
    "⅐": "1/7",
    "⅛": "1/8",
    "⅜": "3/8",
    "⅝": "5/8",
    "⅞": "7/8",
    "⅑": "1/9",
    "⅒": "1/10",
}
_VULGAR_RE = re.compile("(?P<digit>[0-9]?)(?P<frac>[" + "".join(_VULGAR) + "])")
_MIXED = re.compile(
    r"(?<![\w.,/])(?P<w>[0-9]{1,6}) (?P<n>[0-9]{1,3})/(?P<d>[0-9]{1,3})(?![\w/]|[.,][0-9])"
)
_SIMPLE = re.compile(r"(?<![\w.,/])(?P<n>[0-9]{1,6})/(?P<d>[0-9]{1,6})(?![\w/]|[.,][0-9])")
_SPECIAL_FRACTIONS = {"24/7": "twenty-four seven", "50/50": "fifty-fifty", "20/20": "twenty-twenty"}
# Denominators people really use in fractions; any other "M/D" with D in 11..31 is a date.
_FRACTION_DENOMINATORS = frozenset({12, 16, 32, 64, 100})
_ORDINAL = re.compile(
    rf"{NUMBER_START}(?P<num>[0-9]{{1,3}}(?:,[0-9]{{3}})++|[0-9]++)"
    r"(?:st|nd|rd|th|ST|ND|RD|TH)(?![\w])"
)
_DECADE = re.compile(r"(?<![\w.,'’])(?:['’](?P<short>[0-9]0)|(?P<full>[0-9]{1,3}0))['’]?s(?![\w])")
_DOTTED = re.compile(r"(?<![\w.,])[0-9]{1,9}(?:\.[0-9]{1,9}){2,8}(?![0-9]|\.[0-9])")
_CARDINAL = re.compile(rf"(?P<sign>(?<![\w.,])[-−+])?(?<![0-9])(?P<num>{NUMBER}|\.[0-9]++)")


def _vulgar(match: re.Match[str]) -> str:
    digit = match.group("digit")
    fraction_text = _VULGAR[match.group("frac")]
    return f"{digit} {fraction_text}" if digit else f" {fraction_text}"


def _mixed(match: re.Match[str]) -> str:
    numerator, denominator = int(match.group("n")), int(match.group("d"))
    if numerator == 1 and denominator in (2, 4):
        part = "a half" if denominator == 2 else "a quarter"
    else:
        part = fraction(numerator, denominator)
    return f"{integer(match.group('w'))} and {part}"


def _simple(match: re.Match[str]) -> str:
    text = match.group()
    if text in _SPECIAL_FRACTIONS:
        return _SPECIAL_FRACTIONS[text]
    numerator, denominator = int(match.group("n")), int(match.group("d"))
    is_date = 1 <= numerator <= 12 and 10 < denominator <= 31
    if is_date and denominator not in _FRACTION_DENOMINATORS:
        return f"{MONTH_NAMES[numerator]} {ordinal(denominator)}"
    return fraction(numerator, denominator)


def expand_fractions(text: str) -> str:
    """Read fractions: "1/2" -> "one half", "5 1/2" -> "five and a half", "¾"."""
    text = _VULGAR_RE.sub(_vulgar, text.replace("⁄", "/"))
    text = _MIXED.sub(_mixed, text)
    return _SIMPLE.sub(_simple, text)


def _ordinal(match: re.Match[str]) -> str:
    digits_only = match.group("num").replace(",", "")
    if len(digits_only) > 36:
        return match.group()
    return spaced(match, ordinal(int(digits_only)))


def _decade(match: re.Match[str]) -> str:
    short = match.group("short")
    value = int(short or match.group("full"))
    if short or value < 100:
        return plural(cardinal(value))
    if value in (100, 1000):
        return "hundreds" if value == 100 else "thousands"
    return plural(year(value) if value >= 1000 else cardinal(value))


def _dotted(match: re.Match[str]) -> str:
    parts = match.group().split(".")
    is_address = len(parts) == 4 and all(len(part) <= 3 and int(part) <= 255 for part in parts)
    return (" dot " if is_address else " point ").join(integer(part) for part in parts)


def _cardinal(match: re.Match[str]) -> str:
    num = match.group("num")
    sign = match.group("sign")
    if not sign and len(num) == 4 and num.isdigit() and 1100 <= int(num) <= 2099:
        return spaced(match, year(int(num)))
    return spaced(match, _SIGN_WORDS.get(sign or "", "") + number(num))


def expand_ordinals(text: str) -> str:
    """Read ordinals and decades: "22nd" -> "twenty-second", "1990s" -> "nineteen nineties"."""
    text = _ORDINAL.sub(_ordinal, text)
    return _DECADE.sub(_decade, text)


def expand_numbers(text: str) -> str:
    """Read every remaining number: years, decimals, negatives, thousands separators."""
    text = _DOTTED.sub(_dotted, text)
    return _CARDINAL.sub(_cardinal, text)
