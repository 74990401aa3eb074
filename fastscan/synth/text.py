"""Prompts and completions built word by word from the vocabularies and sentence grammars."""

from __future__ import annotations

from operator import itemgetter

from fastscan.synth.base import S_SUITE
from fastscan.synth.rand import Indices, Rand, make_rng
from fastscan.synth.vocab import (
    ADJECTIVES,
    ALPACA,
    ALPACA_NO_INPUT,
    ARGS,
    AUDIENCES,
    CLOSERS,
    CODE_TASKS,
    CODE_TEMPLATES,
    COLOURS,
    COLS,
    COMPANIES,
    DISHES,
    ERRORS,
    ES_FORMS,
    ES_P,
    ES_S,
    ES_T,
    ES_TOPICS,
    EVENTS,
    FNAMES,
    FOLLOWUPS,
    FORMS,
    GADGETS,
    GOALS,
    HARVEST_SUFFIXES,
    HARVEST_TEMPLATES,
    HOWTOS,
    HUMAN_FORMS,
    INGREDIENTS,
    INTEGRATION_FAMILIES,
    INTROS,
    LANGS,
    MCQ_SUBJECTS,
    NAMES,
    NUMS,
    OBJECT_NOUNS,
    OBJECTS,
    OPS,
    ORDINALS,
    PAST_VERBS,
    PERSONAS,
    PERSONS,
    PLACES,
    PLURALS,
    PRIZES,
    PROBLEMS,
    PRODUCT_KINDS,
    PRODUCT_TITLES,
    QUALIFIERS,
    RELATIONS,
    REQUIREMENTS,
    REVIEW_END,
    REVIEW_MID,
    REVIEW_OPEN,
    REVIEW_WHEN,
    RU_FORMS,
    RU_P,
    RU_S,
    RU_T,
    RU_TOPICS,
    SPAM,
    SQL_TASKS,
    SQL_TEMPLATE,
    STYLES,
    SUBJECTS,
    SURNAMES,
    TAG_WORDS,
    TAILS,
    THINGS,
    TICKET_ASKS,
    TICKET_ISSUES,
    TITLE_FORMS,
    TOPICS,
    URLS,
    VERBS,
    WHEN,
    ZH_FORMS,
    ZH_P,
    ZH_S,
    ZH_T,
    ZH_TOPICS,
)


class _Slots(dict):
    """Template slots filled on first use, so a template only pays for the words it uses."""

    __slots__ = ("text",)
    text: Text

    def __missing__(self, key):
        v = self.text.slot(key)
        self[key] = v
        return v


# When a prompt names no topic, its answer is about the first of these slots the prompt used.
_SUBJECT_SLOTS = (
    ("topic", "{}"),
    ("plural", "{}"),
    ("howto", "{}"),
    ("place", "a trip to {}"),
    ("dish", "{}"),
    ("goal", "how to {}"),
    ("gadget", "your {}"),
    ("event", "{}"),
    ("code_task", "a function that {}"),
    ("sql_task", "a query that {}"),
    ("code", "this code"),
    ("sentence", "this sentence"),
    ("paragraph", "this text"),
    ("items", "these items"),
    ("n1", "this calculation"),
)


def _subject(slots: dict) -> str:
    for key, form in _SUBJECT_SLOTS:
        v = slots.get(key)
        if v is not None:
            return form.format(v) if len(v) < 80 else form.format("this")
    return "your request"


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


class Text:
    """Text made from the vocabularies: fresh sentences per call, paragraphs from a pool built once."""

    def __init__(self, r: Rand, n_sentences: int = 6000, n_paragraphs: int = 6000):
        self.r = r
        self._human = [t for w, t in HUMAN_FORMS for _ in range(w)]
        self._vocab = {
            "topic": TOPICS,
            "topic2": TOPICS,
            "form": FORMS,
            "audience": AUDIENCES,
            "qualifier": QUALIFIERS,
            "adj": ADJECTIVES,
            "plural": PLURALS,
            "lang": LANGS,
            "num": NUMS,
            "ordinal": ORDINALS,
            "person": PERSONS,
            "person2": PERSONS,
            "style": STYLES,
            "howto": HOWTOS,
            "code_task": CODE_TASKS,
            "sql_task": SQL_TASKS,
            "place": PLACES,
            "dish": DISHES,
            "ingredient": INGREDIENTS,
            "relation": RELATIONS,
            "event": EVENTS,
            "persona": PERSONAS,
            "goal": GOALS,
            "gadget": GADGETS,
            "problem": PROBLEMS,
            "error": ERRORS,
            "fn": FNAMES,
            "arg": ARGS,
            "col": COLS,
            "op": OPS,
            "prize": PRIZES,
            "url": URLS,
            "fmt": ("a numbered list", "a table", "JSON", "short paragraphs", "bullet points", "a single paragraph"),
        }
        self._fns = Text._fresh_fns(self)
        self.sentences = [self.sentence() for _ in range(n_sentences)]
        self.paragraphs = [self._paragraph() for _ in range(n_paragraphs)]
        self.mean_plen = sum(len(p) + 2 for p in self.paragraphs) / len(self.paragraphs)
        self.para_idx = Indices(r.gen, len(self.paragraphs))
        self.foreign = {
            "zh": [self._foreign_paragraph(ZH_S, ZH_P, ZH_T, "") for _ in range(300)],
            "ru": [self._foreign_paragraph(RU_S, RU_P, RU_T, " ") for _ in range(300)],
            "es": [self._foreign_paragraph(ES_S, ES_P, ES_T, " ") for _ in range(300)],
        }

    def with_rand(self, r: Rand) -> Text:
        """The same pools, drawing with another random stream."""
        other = object.__new__(Text)
        other.__dict__.update(self.__dict__)
        other.r = r
        other._fns = Text._fresh_fns(other)
        other.para_idx = Indices(r.gen, len(self.paragraphs))
        return other

    @staticmethod
    def _fresh_fns(t: Text) -> dict:
        return {
            "n1": lambda: str(t.r.randint(2, 999)),
            "n2": lambda: str(t.r.randint(2, 999)),
            "k": lambda: str(t.r.randint(1, 9)),
            "k2": lambda: str(t.r.randint(2, 20)),
            "ndays": lambda: str(t.r.randint(2, 10)),
            "sentence": t.narrative,
            "paragraph": lambda: t.narrative_paragraph(t.r.randint(3, 6)),
            "code": t.code,
            "items": lambda: ", ".join(t.r.sample(OBJECT_NOUNS, t.r.randint(4, 8))),
            "Topic": lambda: _cap(t.r.pick(TOPICS)),
            "Num": lambda: _cap(t.r.pick(NUMS)),
        }

    # -- words and sentences
    def slot(self, key: str) -> str:
        f = self._fns.get(key)
        return f() if f is not None else self.r.pick(self._vocab[key])

    def fill(self, template: str, **known) -> tuple[str, _Slots]:
        slots = _Slots(known)
        slots.text = self
        return template.format_map(slots), slots

    def sentence(self) -> str:
        p = self.r.pick
        return f"{p(SUBJECTS)} {p(VERBS)} {p(OBJECTS)}{p(TAILS)}."

    def narrative(self) -> str:
        p = self.r.pick
        s = f"{p(NAMES)} {p(PAST_VERBS)} the {p(THINGS)} {p(WHEN)}"
        if self.r.u() < 0.4:
            s += f", and then {p(PAST_VERBS)} a {p(THINGS)}"
        return s + "."

    def narrative_paragraph(self, k: int) -> str:
        return " ".join(self.narrative() if self.r.u() < 0.5 else self.sentence() for _ in range(k))

    def code(self) -> str:
        return self.fill(self.r.pick(CODE_TEMPLATES))[0]

    def _paragraph(self) -> str:
        r = self.r
        k = r.randint(2, 6)
        sents = [r.pick(self.sentences) for _ in range(k)]
        x = r.u()
        if x < 0.12:
            return "\n".join("- " + s for s in sents)
        if x < 0.2:
            return "\n".join(f"{i}. {s}" for i, s in enumerate(sents, 1))
        if x < 0.26:
            return "```python\n" + self.code() + "\n```"
        if x < 0.29:
            return "```sql\n" + self.fill(SQL_TEMPLATE)[0] + "\n```"
        return " ".join(sents)

    def _foreign_paragraph(self, s, p, t, sep) -> str:
        r = self.r
        return "".join(f"{r.pick(s)}{sep}{r.pick(p)}{r.pick(t)}{sep}" for _ in range(r.randint(2, 5))).rstrip()

    # -- completions
    def completion(self, nbytes: int, topic: str, lang: str = "en", steps: bool = False) -> str:
        """About `nbytes` of answer, made of whole paragraphs."""
        r = self.r
        if lang != "en":
            pool = self.foreign[lang]
            # CJK and Cyrillic text is 2-3 bytes a character
            return "\n\n".join(r.pick(pool) for _ in range(1 + nbytes // (3 * len(pool[0]))))
        intro = r.pick(INTROS).replace("{topic}", topic).replace("{Topic}", _cap(topic))
        parts = [intro]
        if topic.startswith(("a function", "this code")):
            parts.append("```python\n" + self.code() + "\n```")
        elif topic.startswith("a query"):
            parts.append("```sql\n" + self.fill(SQL_TEMPLATE)[0] + "\n```")
        k = 1 + int(max(0, nbytes - sum(len(x) + 2 for x in parts)) / self.mean_plen)
        paras = itemgetter(*self.para_idx.take(k))(self.paragraphs)
        if k == 1:
            parts.append(paras)
        elif steps:
            parts += [f"Step {i}: {x}" for i, x in enumerate(paras, 1)]
        else:
            parts += paras
        closer = r.pick(CLOSERS)
        if closer:
            parts.append(closer.replace("{topic}", topic))
        return "\n\n".join(parts)

    # -- prompts
    def human_prompt(self) -> tuple[str, str, str]:
        """A person's prompt: (text, topic, language of the answer)."""
        r = self.r
        x = r.u()
        if x < 0.07:
            lang = ("zh", "ru", "es")[int(r.u() * 3)]
            forms, topics = {"zh": (ZH_FORMS, ZH_TOPICS), "ru": (RU_FORMS, RU_TOPICS), "es": (ES_FORMS, ES_TOPICS)}[
                lang
            ]
            return r.pick(forms).replace("{t}", r.pick(topics)), r.pick(TOPICS), (lang if r.u() < 0.85 else "en")
        text, slots = self.fill(r.pick(self._human))
        y = r.u()
        if y < 0.25:
            text = text[:1].lower() + text[1:]
        elif y < 0.4 and text[-1:] in "?.":
            text = text[:-1]
        return text, _subject(slots), "en"

    def followup(self) -> tuple[str, str]:
        text, slots = self.fill(self.r.pick(FOLLOWUPS))
        return text, slots.get("topic", "")

    def harvest_item(self) -> tuple[str, str, str]:
        """An Alpaca-style item: (instruction, input or "", topic)."""
        r = self.r
        template, needs = r.pick(HARVEST_TEMPLATES)
        instruction, slots = self.fill(template + r.pick(HARVEST_SUFFIXES))
        if needs == "sentence":
            inp = self.narrative() if r.u() < 0.5 else self.sentence()
        elif needs == "paragraph":
            inp = self.narrative_paragraph(r.randint(3, 6))
        elif needs == "code":
            inp = self.code()
        else:
            inp = ""
        if needs and "topic" not in slots:
            slots[needs] = inp
        return instruction, inp, _subject(slots)


def fill_wrapper(wrapper: str, instruction: str, inp: str) -> str:
    if wrapper is ALPACA and not inp:
        wrapper = ALPACA_NO_INPUT
    task = instruction if not inp else f"{instruction}\n\n{inp}"
    return wrapper.replace("{task}", task).replace("{instruction}", instruction).replace("{input}", inp or "(none)")


# --------------------------------------------------------------------------- integrations and benchmarks


def integration_template(r: Rand) -> dict:
    """One integration's fixed prompt: a family, one phrasing of it, its constants."""
    family, phrasings = r.pick(INTEGRATION_FAMILIES)
    lang = r.randint(1, 3)
    prompt = (
        r.pick(phrasings)
        .replace("{product}", r.pick(PRODUCT_KINDS))
        .replace("{company}", r.pick(COMPANIES))
        .replace("{lang3}", ("", "Spanish", "German", "French")[lang])
    )
    return {"family": family, "prompt": prompt, "lang": lang, "upper": r.u() < 0.3}


def integration_item(t: Text, tpl: dict) -> tuple[str, str]:
    """(item text, expected answer) for one call of an integration."""
    r, p = t.r, t.r.pick
    fam = tpl["family"]
    if fam == "sentiment":
        mid = p(REVIEW_MID)
        item = f"{p(REVIEW_OPEN)} {p(REVIEW_WHEN)} {mid}{p(REVIEW_END)}".replace("  ", " ")
        good = ("works", "amazing", "again", "better", "helpful", "does the job")
        ans = "positive" if any(g in mid for g in good) else ("neutral" if "okay" in mid else "negative")
        return item, ans.upper() if tpl["upper"] else ans
    if fam == "routing":
        issue, _, team = p(TICKET_ISSUES)
        return f"Hi, I {issue}. {p(TICKET_ASKS)}".strip(), team
    if fam == "extract":
        name = f"{p(NAMES)} {p(SURNAMES)}"
        order = f"{p('ABCDEFGH')}-{r.randint(10000, 99999)}"
        what = p(("has not arrived", "was damaged", "is missing an item", "was charged twice"))
        item = f"Hi, this is {name}. My order {order} {what}. {p(TICKET_ASKS)}".strip()
        return item, f'{{"name": "{name}", "order": "{order}"}}'
    if fam == "translate":
        title, colour = p(PRODUCT_TITLES), p(COLOURS)
        size = p(("", ", 500 ml", ", large", ", 2-pack", ", 28 cm"))
        return f"{title[0]} - {colour[0]}{size}", f"{title[tpl['lang']]} - {colour[tpl['lang']]}{size}"
    if fam == "spam":
        if r.u() < 0.3:
            return t.fill(p(SPAM))[0], "yes"
        return (t.narrative() if r.u() < 0.5 else f"Hi, I {p(TICKET_ISSUES)[0]}. {p(TICKET_ASKS)}".strip()), "no"
    if fam == "summary":
        issue, what, _ = p(TICKET_ISSUES)
        done = p(
            (
                ("I have fixed it", "fixed it"),
                ("I have escalated it", "escalated it"),
                ("I have issued a refund", "issued a refund"),
                ("I have sent a new link", "sent a new link"),
            )
        )
        item = (
            f"Customer: Hi, I {issue}.\nAgent: Sorry about that! Let me check.\nAgent: {done[0]}.\n"
            f"Customer: {p(('Thanks!', 'ok', 'Great, thank you.', 'Finally.'))}"
        )
        return item, f"The customer reported {what} and the agent {done[1]}."
    topic = p(TOPICS)
    item = t.fill(p(TITLE_FORMS), topic=topic, Topic=_cap(topic))[0]
    return item, ", ".join([topic.replace("the ", "")] + r.sample(TAG_WORDS, 2))


def benchmark_suite(seed: int, suite: int, pools: Text, size: int = 500) -> dict:
    """A fixed benchmark: the same prompts for every account that runs it."""
    r = Rand(make_rng(seed, S_SUITE, suite))
    t = pools.with_rand(r)
    kind = ("mcq", "open", "code")[suite % 3]
    prompts = []
    for _ in range(size):
        if kind == "mcq":
            topic = r.pick(TOPICS)
            opts = "\n".join(f"{c}. {t.sentence()}" for c in "ABCD")
            q = r.pick(
                (
                    "Which of the following best describes {t}?",
                    "Which statement about {t} is correct?",
                    "Which claim about {t} is best supported by evidence?",
                )
            ).replace("{t}", topic)
            prompts.append(
                (
                    f"The following is a multiple choice question about {r.pick(MCQ_SUBJECTS)}. Answer with "
                    f"the letter of the correct option.\n\n{q}\n{opts}\nAnswer:",
                    topic,
                )
            )
        elif kind == "open":
            task, slots = t.fill(r.pick(HARVEST_TEMPLATES)[0])
            reqs = "\n".join(f"{i}. {t.fill(x)[0]}" for i, x in enumerate(r.sample(REQUIREMENTS, r.randint(2, 4)), 1))
            prompts.append((f"{task}\n\nRequirements:\n{reqs}", _subject(slots)))
        else:
            fn, task = r.pick(FNAMES), r.pick(CODE_TASKS)
            prompts.append(
                (
                    f"Write a Python function `{fn}` that {task}.\n\n```python\ndef {fn}({r.pick(ARGS)}):\n"
                    f'    """{_cap(task)}."""\n```\n\nReturn only the code.',
                    "this function",
                )
            )
    return {"kind": kind, "prompts": prompts}


# --------------------------------------------------------------------------- the plan
