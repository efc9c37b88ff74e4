"""The pages' words (``web/static/words.js``) name every case state and only problem codes the server sends."""

from __future__ import annotations

import re
from pathlib import Path

import server.errors
from server.domain.lifecycle import CaseState
from server.domain.roles import Role

WORDS = (Path(__file__).parents[2] / "web" / "static" / "words.js").read_text()


def keys_of(name: str) -> dict[str, str]:
    block = re.search(rf"export const {name} = \{{(.*?)\n\}};", WORDS, re.S)
    assert block, name
    return dict(re.findall(r'(\w+): "([^"]*)"', block.group(1)))


def test_every_case_state_and_role_has_its_chinese_name_first() -> None:
    for name, values in (("STATES", {s.value for s in CaseState}), ("T", {r.value for r in Role})):
        words = keys_of(name)
        assert set(words) == values, name
        assert all(re.match(r"[\u4e00-\u9fff]", text) for text in words.values()), name


def test_the_problem_codes_the_pages_explain_are_codes_the_server_sends() -> None:
    sent = {getattr(c, "code", None) for c in vars(server.errors).values() if isinstance(c, type)} | {
        "validation_failed",
        "rate_limited",
        "too_many_connections",
    }  # the schema's and the sockets' own codes
    explained = keys_of("ERRORS")
    assert set(explained) <= sent, set(explained) - sent
    assert all(re.match(r"[\u4e00-\u9fff]", text) for text in explained.values())
