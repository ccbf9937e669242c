"""The browser tracker as served: minified once, one JSON config injected per site.

`snippet/tracker.js` stays readable source; it holds the marker `/*@config*/{}` where the
config goes (site key, endpoint, no-code rules of the definitions with web tracking on).
Responses carry an ETag of their exact bytes, so a repeat visit costs a 304.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from collector.model import Definition

CONFIG_MARKER = "/*@config*/{}"
COLLECT_PATH = "/e"  # no words that ad-block lists match (collect, track, beacon, …)
_TOKEN = re.compile(
    r"""(?P<string>'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*")"""
    r"|(?P<block>/\*(?!@config\*/).*?\*/)"
    r"|(?P<line>//[^\n]*)"
    r"|(?P<space>\s+)",
    re.S,
)
_WORD = re.compile(r"[\w$]")


def minify(source: str) -> str:
    """Strip comments and collapse whitespace, leaving strings untouched.

    Enough for our own tracker, which is written for it: no regex or template literals,
    and every statement ends with a semicolon (so dropping newlines changes nothing).
    """
    out: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(source):
        out.append(source[pos : match.start()])
        pos = match.end()
        kind = match.lastgroup
        if kind == "string":
            out.append(match.group())
        elif kind in ("block", "line", "space"):
            before = out[-1][-1:] if out and out[-1] else ""
            after = source[pos : pos + 1]
            # keep one space only where two words would otherwise run together
            if _WORD.match(before or " ") and _WORD.match(after or " "):
                out.append(" ")
    out.append(source[pos:])
    return "".join(out).strip()


@cache
def _source(name: str) -> str:
    return resources.files("collector.snippet").joinpath(name).read_text()


@cache
def minified_tracker() -> str:
    return minify(_source("tracker.js"))


@cache
def loader_stub() -> str:
    return minify(_source("loader.js"))


def tracker_rules(definitions: list[Definition]) -> list[dict[str, Any]]:
    """The no-code rules of every visible definition with web tracking enabled, in the
    tracker's short wire form `{n: event, tr: trigger, p: params}`."""
    rules = []
    for definition in sorted(definitions, key=lambda d: d.name):
        tracking = definition.web_tracking
        if definition.hidden or not tracking.get("enabled"):
            continue
        for rule in tracking.get("rules", []):
            if isinstance(rule, dict) and isinstance(rule.get("trigger"), dict):
                rules.append(
                    {"n": definition.name, "tr": rule["trigger"], "p": rule.get("params", {})}
                )
    return rules


@dataclass(frozen=True, slots=True)
class Script:
    body: bytes
    gzipped: bytes
    etag: str


@lru_cache(maxsize=256)
def _build(config_json: str) -> Script:
    # `</` cannot end a script element early when the config is inlined anywhere
    text = minified_tracker().replace(CONFIG_MARKER, config_json.replace("</", "<\\/"), 1)
    body = text.encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Script(body, gzip.compress(body, 9, mtime=0), etag)


def tracker_script(site_key: str, endpoint: str, rules: list[dict[str, Any]]) -> Script:
    config = {"k": site_key, "e": endpoint, "r": rules}
    return _build(json.dumps(config, separators=(",", ":"), sort_keys=True))
