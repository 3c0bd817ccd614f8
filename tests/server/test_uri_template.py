import pytest

from trio_mcp._server.uri_template import UriTemplate

# --- construction -------------------------------------------------------------------------------


def test_attributes() -> None:
    template = UriTemplate("test://template/{id}/data")
    assert template.template == "test://template/{id}/data"
    assert template.variables == ("id",)
    assert UriTemplate("file:///{+path}").variables == ("path",)
    assert UriTemplate("x://{a}/{b}{?c,d}").variables == ("a", "b", "c", "d")
    assert UriTemplate("x://fixed").variables == ()


def test_equality_and_hash_follow_the_template_string() -> None:
    assert UriTemplate("x://{a}") == UriTemplate("x://{a}")
    assert UriTemplate("x://{a}") != UriTemplate("x://{b}")
    assert len({UriTemplate("x://{a}"), UriTemplate("x://{a}")}) == 1
    assert repr(UriTemplate("x://{a}")) == "UriTemplate(template='x://{a}')"


@pytest.mark.parametrize(
    "name",
    ["a", "A1", "_", "snake_case", "a.b", "a.b.c", "%41b", "1"],
)
def test_valid_variable_names(name: str) -> None:
    assert UriTemplate(f"x://{{{name}}}").variables == (name,)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("x://{id", "unclosed '{' at offset 4"),
        ("x://{", "unclosed '{' at offset 4"),
        ("x://id}", "unmatched '}' at offset 6"),
        ("x://}{id}", "unmatched '}' at offset 4"),
        ("x://{a{b}}", "nested '{' at offset 4"),
        ("x://{}", "expression {} is empty"),
        ("x://{+}", "empty variable name"),
        ("x://{?a,}", "empty variable name"),
        ("x://{?,a}", "empty variable name"),
        ("x://{a-b}", "invalid variable name 'a-b'"),
        ("x://{a b}", "invalid variable name 'a b'"),
        ("x://{ a}", "invalid variable name ' a'"),
        ("x://{a..b}", "invalid variable name 'a..b'"),
        ("x://{.a}", "operator '.' is not supported"),
        ("x://{a.}", "invalid variable name 'a.'"),
        ("x://{%4}", "invalid variable name '%4'"),
        ("x://{é}", "invalid variable name 'é'"),
        ("x://{#a}", "operator '#' is not supported"),
        ("x://{/a}", "operator '/' is not supported"),
        ("x://{;a}", "operator ';' is not supported"),
        ("x://{&a}", "operator '&' is not supported"),
        ("x://{=a}", "reserved for future extensions"),
        ("x://{!a}", "reserved for future extensions"),
        ("x://{|a}", "reserved for future extensions"),
        ("x://{a:3}", "modifiers"),
        ("x://{a*}", "modifiers"),
        ("x://{?a*}", "modifiers"),
        ("x://{a,b}", "only a query expression may list several variables"),
        ("x://{+a,b}", "only a query expression may list several variables"),
        ("x://{a}/{a}", "'a' appears twice"),
        ("x://{a}{?a}", "'a' appears twice"),
        ("x://{?a}/{b}", "must come last"),
        ("x://{?a}{?b}", "must come last"),
    ],
)
def test_invalid_templates(template: str, message: str) -> None:
    with pytest.raises(ValueError, match="invalid URI template") as info:
        UriTemplate(template)
    assert message in str(info.value)


# --- match: simple {var} ------------------------------------------------------------------------


def test_match_simple() -> None:
    template = UriTemplate("test://template/{id}/data")
    assert template.match("test://template/42/data") == {"id": "42"}
    assert template.match("test://template/a.b-c~d_e/data") == {"id": "a.b-c~d_e"}


def test_match_two_variables() -> None:
    template = UriTemplate("weather://{city}/{day}")
    assert template.match("weather://paris/today") == {"city": "paris", "day": "today"}


def test_match_host_position() -> None:
    assert UriTemplate("weather://{city}/today").match("weather://london/today") == {"city": "london"}


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("test://template/a%2Fb/data", {"id": "a/b"}),
        ("test://template/hello%20world/data", {"id": "hello world"}),
        ("test://template/%C3%A9t%C3%A9/data", {"id": "été"}),
        ("test://template/%3F%23/data", {"id": "?#"}),
        ("test://template/a+b/data", {"id": "a+b"}),  # "+" is not a space in RFC 3986
        ("test://template/100%25/data", {"id": "100%"}),
        ("test://template/%zz/data", {"id": "%zz"}),  # not a triplet: kept as written
    ],
)
def test_match_percent_decodes(uri: str, expected: dict[str, str]) -> None:
    assert UriTemplate("test://template/{id}/data").match(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "test://template//data",  # empty value
        "test://template/a/b/data",  # "/" is not part of a simple value
        "test://template/a?b/data",
        "test://template/a#b/data",
        "test://template/42/data/",
        "test://template/42/dat",
        "test://template/42/data?x=1",
        "TEST://template/42/data",  # literals match exactly
        "other://template/42/data",
        "xtest://template/42/data",
        "test://template/42/data\n",
        "",
        "test://template/%FF/data",  # not UTF-8 once decoded
    ],
)
def test_match_simple_no_match(uri: str) -> None:
    assert UriTemplate("test://template/{id}/data").match(uri) is None


def test_match_regex_metacharacters_in_literals_are_literal() -> None:
    template = UriTemplate("x://a.b(c)/{id}+[d]")
    assert template.match("x://a.b(c)/1+[d]") == {"id": "1"}
    assert template.match("x://aXb(c)/1+[d]") is None


def test_match_adjacent_literal_after_variable() -> None:
    assert UriTemplate("x://{name}.json").match("x://a.b.json") == {"name": "a.b"}


def test_no_variables_matches_only_the_same_string() -> None:
    template = UriTemplate("config://app")
    assert template.match("config://app") == {}
    assert template.match("config://app/") is None
    assert template.match("config://ap") is None
    assert template.match("config://apps") is None


# --- match: reserved {+var} ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("file:///a", {"path": "a"}),
        ("file:///home/user/notes.txt", {"path": "home/user/notes.txt"}),
        ("file:///dir/", {"path": "dir/"}),
        ("file:///a?b#c", {"path": "a?b#c"}),
        ("file:///with%20space/x", {"path": "with space/x"}),
        ("file:///a%2Fb", {"path": "a/b"}),
    ],
)
def test_match_reserved(uri: str, expected: dict[str, str]) -> None:
    assert UriTemplate("file:///{+path}").match(uri) == expected


@pytest.mark.parametrize("uri", ["file:///", "file://a", "http:///a"])
def test_match_reserved_no_match(uri: str) -> None:
    assert UriTemplate("file:///{+path}").match(uri) is None


def test_match_reserved_between_literals() -> None:
    template = UriTemplate("repo://{owner}/{+path}/raw")
    assert template.match("repo://me/src/a/b.py/raw") == {"owner": "me", "path": "src/a/b.py"}
    assert template.match("repo://me//raw") is None


# --- match: query {?a,b} ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("search://items", {}),
        ("search://items?q=cats", {"q": "cats"}),
        ("search://items?limit=10", {"limit": "10"}),
        ("search://items?q=cats&limit=10", {"q": "cats", "limit": "10"}),
        ("search://items?limit=10&q=cats", {"q": "cats", "limit": "10"}),
        ("search://items?q=", {"q": ""}),
        ("search://items?q=a%26b%3Dc", {"q": "a&b=c"}),
        ("search://items?q=a=b", {"q": "a=b"}),
        ("search://items?q=%C3%A9", {"q": "é"}),
    ],
)
def test_match_query(uri: str, expected: dict[str, str]) -> None:
    assert UriTemplate("search://items{?q,limit}").match(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "search://items?",
        "search://items?q",  # form-style always writes "name="
        "search://items?other=1",
        "search://items?q=a&other=1",
        "search://items?q=a&q=b",
        "search://items?q=a&&limit=1",
        "search://items?q=a#frag",
        "search://items?q=%FF",
        "search://itemz?q=a",
    ],
)
def test_match_query_no_match(uri: str) -> None:
    assert UriTemplate("search://items{?q,limit}").match(uri) is None


def test_match_query_after_path_variables() -> None:
    template = UriTemplate("db://{table}/rows{?where}")
    assert template.match("db://users/rows?where=id%3D1") == {"table": "users", "where": "id=1"}
    assert template.match("db://users/rows") == {"table": "users"}


def test_match_query_after_reserved_variable() -> None:
    template = UriTemplate("file:///{+path}{?rev}")
    assert template.match("file:///a/b.txt?rev=3") == {"path": "a/b.txt", "rev": "3"}
    assert template.match("file:///a/b.txt") == {"path": "a/b.txt"}
    assert template.match("file:///a/b.txt?x=1") is None


# --- expand -------------------------------------------------------------------------------------


def test_expand_simple() -> None:
    assert UriTemplate("test://template/{id}/data").expand(id="42") == "test://template/42/data"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a/b", "test://template/a%2Fb/data"),
        ("hello world", "test://template/hello%20world/data"),
        ("été", "test://template/%C3%A9t%C3%A9/data"),
        ("100%", "test://template/100%25/data"),
        ("%41", "test://template/%2541/data"),
        ("a?b#c&d=e+f", "test://template/a%3Fb%23c%26d%3De%2Bf/data"),
        ("Az09-._~", "test://template/Az09-._~/data"),
        ("", "test://template//data"),
    ],
)
def test_expand_simple_percent_encodes_all_but_unreserved(value: str, expected: str) -> None:
    assert UriTemplate("test://template/{id}/data").expand(id=value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("home/user/notes.txt", "file:///home/user/notes.txt"),
        ("a?b#c&d=e+f:g@h", "file:///a?b#c&d=e+f:g@h"),
        ("with space", "file:///with%20space"),
        ("été", "file:///%C3%A9t%C3%A9"),
        ("a%2Fb", "file:///a%2Fb"),  # pct-encoded triplets pass through (RFC 6570 §3.2.1)
        ("100%", "file:///100%25"),
        ("%zz", "file:///%25zz"),
    ],
)
def test_expand_reserved(value: str, expected: str) -> None:
    assert UriTemplate("file:///{+path}").expand(path=value) == expected


def test_expand_query() -> None:
    template = UriTemplate("search://items{?q,limit}")
    assert template.expand() == "search://items"
    assert template.expand(q="cats") == "search://items?q=cats"
    assert template.expand(limit="5") == "search://items?limit=5"
    assert template.expand(limit="5", q="a&b=c d") == "search://items?q=a%26b%3Dc%20d&limit=5"
    assert template.expand(q="") == "search://items?q="


def test_expand_errors() -> None:
    template = UriTemplate("db://{table}/rows{?where}")
    with pytest.raises(ValueError, match="missing value for variable 'table'"):
        template.expand(where="x")
    with pytest.raises(ValueError, match=r"unknown variables .*\['tabel'\]"):
        template.expand(tabel="users")


@pytest.mark.parametrize(
    ("template", "values"),
    [
        ("test://template/{id}/data", {"id": "a/b?c#d é%"}),
        ("weather://{city}/{day}", {"city": "São Paulo", "day": "today"}),
        ("file:///{+path}", {"path": "dir/sub dir/file?.txt"}),
        ("db://{table}/rows{?where,limit}", {"table": "t", "where": "a=1&b=2", "limit": "3"}),
        ("db://{table}/rows{?where,limit}", {"table": "t"}),
    ],
)
def test_match_inverts_expand(template: str, values: dict[str, str]) -> None:
    parsed = UriTemplate(template)
    assert parsed.match(parsed.expand(**values)) == values
