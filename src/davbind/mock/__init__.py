'''A scripted mock WebDAV server for testing clients against 207/208/508 edge cases.

A *scenario* (a TOML file) lists expected requests and the canned response to each.
``davbind mock SCRIPT`` serves one; :class:`MockServer` does the same inside a test.
The mock depends on nothing but the standard library and uvicorn (it sits beside
``conformance``, outside ``server``).  Modules: ``model`` (values),
``loader`` (TOML → values, validated), ``ledger`` (what was met, what was unexpected),
``bodies`` (lazy reply bodies), ``app`` (raw ASGI), ``runner`` (uvicorn, ``MockServer``),
``library`` (the shipped scenarios in ``scenarios/``).

Scenario schema (also in ``scenarios/README.md``)::

    name = "propstat-208"            # default: the file name without .toml
    description = """One line, then details."""
    mode = "keyed"                   # "keyed" (default): any order; "ordered": file order
    strict = true                    # default true: unexpected request -> 500 and a failure;
                                     # false -> 404, listed in the report but not a failure

    [[expect]]                       # one table per expected request
    method = "PROPFIND"              # compared case-insensitively
    path = "/Coll/"                  # exact, or equal once percent-decoded; "re:…" searched
                                     # in the raw path; "?" in an exact path: query too
    headers = { Depth = "infinity", DAV = 're:(?i)\\bbind\\b' }
                                     # names case-insensitive; "text" exact, "re:…" searched
                                     # (absent header = ""), true = present, false = absent
    body_contains = ["resource-id"]  # substrings (or "re:…") of the request body
    times = 1                        # default 1 (per run of the scenario; the CLI lets
                                     # a client run it again once complete, --no-replay
                                     # not); 0 = any number of times, none required

    [expect.response]
    status = 207                     # 200..599
    headers = { ETag = '"x"', Set-Cookie = ["a=1", "b=2"] }
    body = """<?xml …>…"""           # or body_file = "bodies/x.xml" (relative to the
                                     # scenario file), or an [expect.response.generate]
    chunks = 1                       # send the body in N pieces (chunked transfer)

    [expect.response.generate]       # a streamed body, never held in memory
    kind = "multistatus"             # wraps in <D:multistatus xmlns:D="DAV:">; or "raw"
    count = 100000
    template = "<D:response><D:href>/big/f{i}</D:href>…</D:response>"  # {i} 0-based, {n}
    prefix = "…"                     # text after the opening tag (e.g. the collection)
    suffix = "…"                     # text before the closing tag
    batch = 500                      # items per chunk

``${origin}`` (``http://host:port`` as the client addressed the mock), ``${host}`` and
``${path}`` (the raw request path) are expanded in response bodies and header values.
A body without ``Content-Type`` is sent as ``application/xml; charset="utf-8"``.  Keyed
matching takes the first expectation in file order that fits and is not yet met
``times`` times; ordered matching is described in :mod:`davbind.mock.ledger`.
'''

from davbind.mock.app import MockApp
from davbind.mock.ledger import MockRequest, Report, Unexpected, Unmet
from davbind.mock.library import find_scenario, scenario_path, shipped, shipped_names
from davbind.mock.loader import ScenarioError, load_scenario, parse_scenario
from davbind.mock.model import Expectation, Generate, Matcher, Reply, Scenario
from davbind.mock.runner import MockServer

__all__ = [
    "Expectation",
    "Generate",
    "Matcher",
    "MockApp",
    "MockRequest",
    "MockServer",
    "Reply",
    "Report",
    "Scenario",
    "ScenarioError",
    "Unexpected",
    "Unmet",
    "find_scenario",
    "load_scenario",
    "parse_scenario",
    "scenario_path",
    "shipped",
    "shipped_names",
]
