"""RFC 6570 URI templates, the subset MCP resource templates use, matched as well as expanded.

Supported expressions: ``{var}`` (simple string, §3.2.2), ``{+var}`` (reserved, §3.2.3) and
``{?a,b}`` (form-style query, §3.2.8; must end the template). Anything else RFC 6570 defines is
refused with a ``ValueError`` rather than silently matched wrongly.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

import attrs

__all__ = ["UriTemplate"]

# §2.3: varname = varchar *( ["."] varchar ); varchar = ALPHA / DIGIT / "_" / pct-encoded
_VARNAME = re.compile(r"(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2})(?:\.?(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2}))*")
_PCT_TRIPLET = re.compile(r"(%[0-9A-Fa-f]{2})")
# RFC 3986 §2.2 reserved characters, which {+var} keeps as they are (§3.2.3).
_RESERVED = ":/?#[]@!$&'()*+,;="
_UNSUPPORTED_OPERATORS = "#./;&"
_FUTURE_OPERATORS = "=,!@|"  # §2.2: "reserved for future extensions"


@attrs.frozen
class _Literal:
    text: str


@attrs.frozen
class _Expression:
    operator: str  # "", "+" or "?"
    names: tuple[str, ...]


def _parse(template: str) -> list[_Literal | _Expression]:
    parts: list[_Literal | _Expression] = []
    pos = 0
    while pos < len(template):
        open_ = template.find("{", pos)
        close = template.find("}", pos)
        if close != -1 and (open_ == -1 or close < open_):
            raise ValueError(f"invalid URI template {template!r}: unmatched '}}' at offset {close}")
        if open_ == -1:
            parts.append(_Literal(template[pos:]))
            break
        if open_ > pos:
            parts.append(_Literal(template[pos:open_]))
        if close == -1:
            raise ValueError(f"invalid URI template {template!r}: unclosed '{{' at offset {open_}")
        body = template[open_ + 1 : close]
        if "{" in body:
            raise ValueError(f"invalid URI template {template!r}: nested '{{' at offset {open_}")
        parts.append(_parse_expression(template, body))
        pos = close + 1
    return parts


def _parse_expression(template: str, body: str) -> _Expression:
    where = f"invalid URI template {template!r}: expression {{{body}}}"
    if not body:
        raise ValueError(f"{where} is empty")
    operator = body[0]
    if operator in _FUTURE_OPERATORS:
        raise ValueError(f"{where} uses operator {operator!r}, reserved for future extensions")
    if operator in _UNSUPPORTED_OPERATORS:
        raise ValueError(
            f"{where}: operator {operator!r} is not supported (only {{var}}, {{+var}}, {{?var,...}})"
        )
    if operator not in ("+", "?"):
        operator = ""
    names = tuple(body[len(operator) :].split(","))
    for name in names:
        if not name:
            raise ValueError(f"{where} has an empty variable name")
        if name[-1] == "*" or ":" in name:
            raise ValueError(f"{where}: modifiers (':' prefix, '*' explode) are not supported")
        if not _VARNAME.fullmatch(name):
            raise ValueError(f"{where} has an invalid variable name {name!r}")
    if operator != "?" and len(names) > 1:
        raise ValueError(f"{where}: only a query expression may list several variables")
    return _Expression(operator, names)


def _encode(value: str, *, reserved: bool) -> str:
    if not reserved:
        return quote(value, safe="")  # only unreserved characters stay (§3.2.1)
    # §3.2.1: for "+", reserved characters and pct-encoded triplets pass through unchanged.
    pieces = _PCT_TRIPLET.split(value)
    return "".join(piece if index % 2 else quote(piece, safe=_RESERVED) for index, piece in enumerate(pieces))


def _decode(value: str) -> str | None:
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        return None


@attrs.frozen(eq=False)
class UriTemplate:
    """A parsed template; ``match`` inverts ``expand`` (up to percent-encoding choices).

    Two templates are equal when their template strings are.
    """

    template: str
    variables: tuple[str, ...] = attrs.field(init=False, repr=False)
    _parts: tuple[_Literal | _Expression, ...] = attrs.field(init=False, repr=False)
    _regex: re.Pattern[str] = attrs.field(init=False, repr=False)
    _query: tuple[str, ...] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        parts = _parse(self.template)
        variables: list[str] = []
        for part in parts:
            if isinstance(part, _Expression):
                for name in part.names:
                    if name in variables:
                        raise ValueError(f"invalid URI template {self.template!r}: {name!r} appears twice")
                    variables.append(name)
        query: tuple[str, ...] = ()
        if parts and isinstance(parts[-1], _Expression) and parts[-1].operator == "?":
            query = parts[-1].names
        if any(isinstance(p, _Expression) and p.operator == "?" for p in parts[:-1]):
            raise ValueError(f"invalid URI template {self.template!r}: a {{?...}} expression must come last")
        pattern: list[str] = []
        for part in parts:
            if isinstance(part, _Literal):
                pattern.append(re.escape(part.text))
            elif part.operator == "":
                pattern.append("([^/?#]+)")
            elif part.operator == "+":
                # Reserved expansion may contain "/", "?" and "#"; before a query expression it
                # stops at "?" so the query is left for that expression.
                pattern.append("([^?]+)" if query else "(.+)")
            else:
                pattern.append(r"(?:\?([^#]*))?")
        object.__setattr__(self, "variables", tuple(variables))
        object.__setattr__(self, "_parts", tuple(parts))
        object.__setattr__(self, "_regex", re.compile("".join(pattern)))
        object.__setattr__(self, "_query", query)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UriTemplate) and other.template == self.template

    def __hash__(self) -> int:
        return hash(self.template)

    def match(self, uri: str) -> dict[str, str] | None:
        """The percent-decoded variable values if ``uri`` is an expansion of this template.

        Query variables absent from the URI are absent from the result. A query with a parameter
        the template doesn't name, a repeated one or one without ``=`` does not match.
        """
        found = self._regex.fullmatch(uri)
        if found is None:
            return None
        groups = found.groups()
        result: dict[str, str] = {}
        path_names = self.variables[: len(self.variables) - len(self._query)]
        for name, raw in zip(path_names, groups, strict=False):
            value = _decode(raw)
            if value is None:
                return None
            result[name] = value
        if self._query:
            raw_query = groups[-1]
            if raw_query is not None and not self._match_query(raw_query, result):
                return None
        return result

    def _match_query(self, raw_query: str, result: dict[str, str]) -> bool:
        for pair in raw_query.split("&"):
            name, eq, raw = pair.partition("=")
            # Form-style expansion always writes "name=" (§3.2.8), even for an empty value.
            if not eq or name not in self._query or name in result:
                return False
            value = _decode(raw)
            if value is None:
                return False
            result[name] = value
        return True

    def expand(self, **values: str) -> str:
        """Build a URI. Every non-query variable is required; query variables are optional."""
        unknown = values.keys() - set(self.variables)
        if unknown:
            raise ValueError(f"unknown variables for {self.template!r}: {sorted(unknown)}")
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, _Literal):
                out.append(part.text)
            elif part.operator == "?":
                pairs = [
                    f"{name}={_encode(values[name], reserved=False)}" for name in part.names if name in values
                ]
                if pairs:
                    out.append("?" + "&".join(pairs))
            else:
                name = part.names[0]
                if name not in values:
                    raise ValueError(f"missing value for variable {name!r} of {self.template!r}")
                out.append(_encode(values[name], reserved=part.operator == "+"))
        return "".join(out)
