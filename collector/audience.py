"""Audience questions in plain English, parsed deterministically into segment rules.

Grammar (words are case-insensitive; [optional], a | b):

    question  := [all | every] [users | contacts | customers | people | visitors]
                 [who | that] clause {(and | or) [who | that] clause}
    clause    := [have | has] (performed | did | done | triggered | made | had) EVENT
                 [count] [period] [where condition {and condition}]
    count     := at least N times | at most N times | exactly N times | more than N times
                 | fewer than N times | N times | once | twice
    period    := in the last N days | in the past N days | today | since DATE
                 | between DATE and DATE
    condition := the product is TEXT                  (the event's product name, else id)
                 | [the] PARAM (is | =) VALUE
                 | [the] PARAM (is greater than | > | is more than) NUMBER
                 | [the] PARAM (is less than | <) NUMBER
                 | [the] PARAM contains TEXT
    EVENT     := an event's name or title ("add-to-cart", "add to cart", "Add to cart")
    N         := a whole number (or one … ten)

Values are matched against what was really received: "the product is red shirt" finds
the product names (then ids) of that event equal to "red shirt" ignoring case. A question
that does not fit is answered with the words that were not understood.
"""

from __future__ import annotations

import re
from typing import Any

from collector.definitions import Definitions
from collector.errors import Unprocessable
from collector.model import Definition

_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_SUBJECTS = {"users", "contacts", "customers", "people", "visitors", "user", "contact"}
_VERBS = {"performed", "did", "done", "triggered", "made", "had", "sent"}
_TOKEN = re.compile(r"\d{4}-\d{2}-\d{2}|[a-z0-9_$.-]+|[<>=]+|\S", re.I)


class QuestionError(Unprocessable):
    code = "not_understood"


class _Parser:
    def __init__(self, question: str, definitions: list[Definition], values: Any) -> None:
        self.words = _TOKEN.findall(question)
        self.lower = [w.lower() for w in self.words]
        self.pos = 0
        self.definitions = definitions
        self.values = values  # async (event, code) -> distinct values seen

    # -- token helpers -----------------------------------------------------------------

    def peek(self, *words: str) -> bool:
        return self.lower[self.pos : self.pos + len(words)] == list(words)

    def take(self, *words: str) -> bool:
        if self.peek(*words):
            self.pos += len(words)
            return True
        return False

    def number(self) -> int | None:
        if self.pos < len(self.lower):
            word = self.lower[self.pos]
            value = int(word) if word.isdigit() and len(word) < 7 else _NUMBERS.get(word)
            if value is not None:
                self.pos += 1
                return value
        return None

    def stuck(self, expected: str) -> QuestionError:
        rest = " ".join(self.words[self.pos :]) or "(the end of the question)"
        return QuestionError(
            f"did not understand {rest!r}: expected {expected}",
            details=[{"not_understood": self.words[self.pos :], "expected": expected}],
        )

    # -- grammar -------------------------------------------------------------------------

    async def question(self) -> dict[str, Any]:
        self.take("all") or self.take("every")
        if self.pos < len(self.lower) and self.lower[self.pos] in _SUBJECTS:
            self.pos += 1
        self.take("who") or self.take("that")
        clauses, joiners = [await self.clause()], []
        while self.pos < len(self.lower):
            if self.take("and") or self.take("or"):
                joiners.append(self.lower[self.pos - 1])
                self.take("who") or self.take("that")
                clauses.append(await self.clause())
            else:
                raise self.stuck("'and' or 'or' and another clause, or the end")
        match = "any" if "or" in joiners else "all"
        if len(set(joiners)) > 1:
            raise QuestionError("mixing 'and' with 'or' is ambiguous: ask with one of them")
        return {"match": match, "conditions": clauses}

    async def clause(self) -> dict[str, Any]:
        self.take("have") or self.take("has")
        if self.pos < len(self.lower) and self.lower[self.pos] in _VERBS:
            self.pos += 1
        else:
            raise self.stuck("a verb such as 'performed' or 'did'")
        definition = self.event()
        condition: dict[str, Any] = {"event": definition.name}
        count = self.count()
        if count:
            condition["count"] = count
        period = self.period()
        if period:
            condition["period"] = period
        if self.take("where") or self.take("with"):
            where = [await self.condition(definition)]
            while self.peek("and") and not self.starts_clause(1):
                self.take("and")
                where.append(await self.condition(definition))
            condition["where"] = where
        return condition

    def starts_clause(self, offset: int) -> bool:
        """Whether the words after `and` start a new clause rather than a condition."""
        following = self.lower[self.pos + offset : self.pos + offset + 2]
        return bool(following) and (following[0] in _VERBS | {"who", "that", "have", "has"})

    def event(self) -> Definition:
        best: tuple[int, Definition] | None = None
        for definition in self.definitions:
            for spelling in {
                definition.name,
                definition.name.replace("-", " ").replace("_", " "),
                definition.title.lower(),
            }:
                words = _TOKEN.findall(spelling.lower())
                here = self.lower[self.pos : self.pos + len(words)] == words
                if words and here and (best is None or len(words) > best[0]):
                    best = (len(words), definition)  # the longest spelling that fits wins
        if best is None:
            raise self.stuck("the name of a defined event")
        self.pos += best[0]
        return best[1]

    def count(self) -> dict[str, Any] | None:
        for words, op, shift in (
            (("at", "least"), ">=", 0),
            (("at", "most"), "<=", 0),
            (("exactly",), "=", 0),
            (("more", "than"), ">=", 1),
            (("fewer", "than"), "<=", -1),
            (("less", "than"), "<=", -1),
        ):
            start = self.pos
            if self.take(*words):
                n = self.times()
                if n is None:
                    self.pos = start
                    raise self.stuck("a number of times, e.g. 'at least 3 times'")
                return {"op": op, "value": max(0, n + shift)}
        n = self.times()
        return {"op": "=", "value": n} if n is not None else None

    def times(self) -> int | None:
        """`N times`, `once` or `twice`; None (nothing taken) otherwise."""
        if self.take("once"):
            return 1
        if self.take("twice"):
            return 2
        start = self.pos
        n = self.number()
        if n is not None and (self.take("times") or self.take("time")):
            return n
        self.pos = start
        return None

    def period(self) -> dict[str, Any] | None:
        for lead in (
            ("in", "the", "last"),
            ("in", "the", "past"),
            ("within", "the", "last"),
            ("over", "the", "last"),
            ("during", "the", "last"),
        ):
            if self.take(*lead):
                n = self.number()
                if n is None or not (self.take("days") or self.take("day")):
                    raise self.stuck("a number of days, e.g. 'in the last 30 days'")
                return {"last_days": n}
        if self.take("today"):
            return {"last_days": 1}
        if self.take("since"):
            return {"from": self.date()}
        if self.take("between"):
            low = self.date()
            if not self.take("and"):
                raise self.stuck("'and' and a second date")
            return {"from": low, "to": self.date()}
        return None

    def date(self) -> str:
        if self.pos < len(self.words) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", self.words[self.pos]):
            self.pos += 1
            return self.words[self.pos - 1]
        raise self.stuck("a date as YYYY-MM-DD")

    async def condition(self, definition: Definition) -> dict[str, Any]:
        self.take("the")
        if self.take("product", "is") or self.take("product", "="):
            return await self.product(definition, self.rest_of_value())
        field = None
        if self.pos < len(self.lower):
            code = self.lower[self.pos].lstrip("$")
            field = definition.by_code.get(code)
        if field is None:
            raise self.stuck(
                f"a parameter of {definition.name}: "
                + ", ".join(sorted(f.code for f in definition.fields))
            )
        self.pos += 1
        for words, op in (
            (("is", "greater", "than"), ">"),
            (("is", "more", "than"), ">"),
            ((">",), ">"),
            (("is", "less", "than"), "<"),
            (("<",), "<"),
            ((">=",), ">="),
            (("<=",), "<="),
            (("contains",), "contains"),
            (("is", "not"), "!="),
            (("is",), "="),
            (("=",), "="),
        ):
            if self.take(*words):
                value: Any = self.rest_of_value()
                if field.type in ("integer", "decimal"):
                    try:
                        value = float(value) if "." in value else int(value)
                    except ValueError:
                        raise QuestionError(f"{field.code} is a number; {value!r} is not") from None
                elif field.type == "boolean":
                    value = value.lower() in ("true", "yes")
                    op = "is"
                return {"param": f"${field.code}", "op": op, "value": value}
        raise self.stuck("is, =, >, <, contains")

    def rest_of_value(self) -> str:
        """The words of a value: up to 'and' starting a clause or condition, or the end."""
        start = self.pos
        while self.pos < len(self.words):
            if self.lower[self.pos] in ("and", "or") and self.pos > start:
                break
            self.pos += 1
        if self.pos == start:
            raise self.stuck("a value")
        return " ".join(self.words[start : self.pos])

    async def product(self, definition: Definition, wanted: str) -> dict[str, Any]:
        for code in ("name", "product_name", "product_id"):
            if code not in definition.by_code:
                continue
            seen = await self.values(definition.name, code)
            same = sorted({v for v in seen if isinstance(v, str) and v.lower() == wanted.lower()})
            if same:
                return {"param": f"${code}", "op": "in", "value": same}
        raise QuestionError(
            f"no {definition.name} event has a product named or with the id {wanted!r}",
            details=[{"not_understood": wanted.split(), "expected": "a product seen in events"}],
        )


async def parse_question(question: Any, definitions: Definitions, values: Any) -> dict[str, Any]:
    if not isinstance(question, str) or not question.strip() or len(question) > 500:
        raise QuestionError("ask a question of up to 500 characters in q")
    visible = [d for d in definitions.all_current() if not d.hidden]
    return await _Parser(question.strip().rstrip("?."), visible, values).question()
