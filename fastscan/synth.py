"""Synthetic, labelled LLM API request logs, for `fastscan demo` and the benchmarks.

The log imitates what a gateway records, with the populations a scanner must tell apart:

  benign  casual      people: a few requests each, by day in their time zone, varied prompts
          power       people who use the API a lot, still by day and still varied
          chat        chat front ends: every turn re-sends the growing conversation
          integration one template around the clock (or office hours, or a nightly batch),
                      temperature 0, completions of a few tokens
          eval_run    a fixed benchmark set sent once, in a burst of an hour or two; several
                      accounts run the same benchmark, so their prompts repeat across accounts
  extractor solo-bulk   one account, one harvesting wrapper (the Alpaca "Below is an
                        instruction..." prompt) around many distinct instructions, a steady pace
                        day and night, long completions that often stop at max_tokens
            sybil-ring  many accounts sharing chain-of-thought wrappers ("Think step by step...",
                        "Let's think step by step."), each active for a few days in turn
            logit-probe n > 1 samples with logprobs, short max_tokens, a steady pace

No text is copied from anywhere: prompts are built word by word from small vocabularies and
sentence grammars (a few prompts in Chinese, Russian and Spanish), completions from paragraphs
drawn out of the same grammars. The same arguments give the same bytes (with the same numpy).

Records have exactly the two shapes of the evaluation logs (`flat` and `openai`, see
`write_log`). Writing streams: the whole log is planned as arrays of (time, account) first, about
12 bytes a request, then generated in time order block by block and serialised with orjson, so
memory holds one block of text (plus each chat's open conversation), never the log. With
`target_bytes`, the bytes per request of each population are measured on a small sample first,
and the account count is chosen from the plan; plans are nested (a larger log's populations
extend a smaller one's), so the size grows smoothly with the account count.
"""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import math
import os
import time
from dataclasses import dataclass
from operator import itemgetter
from typing import Callable

import numpy as np
import orjson

__all__ = ["write_log", "write_labels", "SynthSummary", "AccountLabel", "FORMATS"]

FORMATS = ("flat", "openai")
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
BASE_ACCOUNTS = 300          # population sizes below are per this many accounts
BASE_DAYS = 7                # request counts below are per this many days
_BLOCK_RECORDS = 2048
_CALIBRATION_REQUESTS = 1500  # requests per population rendered to learn bytes per request
_OPT = orjson.OPT_APPEND_NEWLINE

# Independent random streams, so that e.g. the text pools do not shift when the plan changes.
_S_POOLS, _S_PLAN, _S_TIMES, _S_TEXT, _S_CALIBRATE, _S_SUITE = range(1, 7)

_DIURNAL = np.array([0.2, 0.12, 0.08, 0.06, 0.06, 0.08, 0.2, 0.45, 0.8, 1.0, 1.1, 1.1,
                     1.0, 1.05, 1.1, 1.1, 1.05, 1.0, 0.95, 1.0, 1.05, 0.95, 0.7, 0.4])
_DIURNAL = _DIURNAL / _DIURNAL.sum()

BENIGN_MODELS = (("frontier-large", 0.45), ("frontier-mini", 0.40), ("frontier-reasoning", 0.15))
EXTRACTOR_MODELS = (("frontier-reasoning", 0.8), ("frontier-large", 0.2))   # chain-of-thought harvesting
BULK_MODELS = (("frontier-large", 0.7), ("frontier-reasoning", 0.2), ("frontier-mini", 0.1))
PROBE_MODELS = (("frontier-large", 0.7), ("frontier-mini", 0.3))   # reasoning models give no logprobs
REASONING_MODEL = "frontier-reasoning"


# --------------------------------------------------------------------------- results

@dataclass(frozen=True)
class AccountLabel:
    """The truth about one synthetic account."""
    account_id: str
    label: str          # "benign" or "extractor"
    kind: str           # casual, power, chat, integration, eval_run, harvest
    campaign: str       # extraction campaign ("" for benign accounts)
    requests: int       # requests this account has in the log


@dataclass(frozen=True)
class SynthSummary:
    """What `write_log` wrote."""
    path: str
    fmt: str
    seed: int
    records: int
    bytes_written: int      # bytes of JSON Lines, before any compression
    file_bytes: int         # bytes on disk
    seconds: float
    labels: tuple[AccountLabel, ...]   # one per account, in plan order (population by population)

    @property
    def mb_per_s(self) -> float:
        """Uncompressed MB (1e6 bytes) written per second, planning included."""
        return self.bytes_written / 1e6 / max(self.seconds, 1e-9)

    @property
    def n_extractors(self) -> int:
        return sum(1 for a in self.labels if a.label == "extractor")


# --------------------------------------------------------------------------- random draws

def _floats(gen: np.random.Generator, block: int):
    while True:
        yield from gen.random(block).tolist()


def _normals(gen: np.random.Generator, block: int):
    while True:
        yield from gen.standard_normal(block).tolist()


class _Rand:
    """Scalar draws as plain Python floats, pulled from a numpy generator in blocks.

    A numpy scalar call costs about a microsecond; a float from a pre-drawn block costs a tenth
    of that, and a log needs a few dozen per record.
    """

    def __init__(self, gen: np.random.Generator, block: int = 1 << 14):
        self.gen = gen
        self.u = u = _floats(gen, block).__next__
        self.z = _normals(gen, block).__next__

        def pick(seq):   # a closure: the hottest call of the generator, no attribute lookups
            return seq[int(u() * len(seq))]
        self.pick = pick

    def randint(self, lo: int, hi: int) -> int:
        return lo + int(self.u() * (hi - lo + 1))

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.u()

    def lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(sigma * self.z())

    def weighted(self, pairs):
        x = self.u() * sum(w for _, w in pairs)
        for v, w in pairs:
            x -= w
            if x < 0:
                return v
        return pairs[-1][0]

    def sample(self, seq, k: int) -> list:
        pool = list(seq)
        out = []
        for _ in range(min(k, len(pool))):
            out.append(pool.pop(int(self.u() * len(pool))))
        return out


class _Indices:
    """Uniform integers in [0, high) as Python ints, handed out as list slices."""

    def __init__(self, gen: np.random.Generator, high: int, block: int = 1 << 16):
        self.gen, self.high, self.block = gen, high, block
        self.buf: list = []
        self.pos = 0

    def take(self, k: int) -> list:
        p = self.pos
        if p + k > len(self.buf):
            self.buf = self.buf[p:] + self.gen.integers(0, self.high, self.block + k).tolist()
            p = 0
        self.pos = p + k
        return self.buf[p:p + k]


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


# --------------------------------------------------------------------------- vocabularies

TOPICS = (
    "photosynthesis", "the French Revolution", "compound interest", "binary search", "climate change",
    "the water cycle", "machine learning", "supply and demand", "the Roman Empire", "quantum entanglement",
    "sourdough bread", "public key cryptography", "the immune system", "plate tectonics", "inflation",
    "the stock market", "black holes", "renewable energy", "the human heart", "neural networks",
    "the Cold War", "impressionist painting", "vaccines", "blockchains", "the Pythagorean theorem",
    "recursion", "database indexing", "the Renaissance", "volcanoes", "sleep hygiene", "time management",
    "the electoral college", "Shakespeare's sonnets", "the theory of evolution", "container orchestration",
    "REST APIs", "garbage collection", "the Silk Road", "ocean currents", "game theory", "the Krebs cycle",
    "urban gardening", "electric cars", "the printing press", "cognitive behavioral therapy", "index funds",
    "the Big Bang", "the TCP handshake", "linear regression", "the Great Depression", "coral reefs",
    "Bayesian statistics", "the Industrial Revolution", "DNA replication", "sorting algorithms",
    "the Fibonacci sequence", "mindfulness meditation", "supply chains", "the Mongol Empire", "CRISPR",
    "solar panels", "the placebo effect", "microservices", "the American Civil War", "opportunity cost",
    "exoplanets", "baroque music", "the nitrogen cycle", "password managers", "the Treaty of Versailles",
    "marathon training", "carbon taxes", "dark matter", "hash tables", "the Ottoman Empire", "nuclear fusion",
    "the Doppler effect", "object-oriented programming", "minimum wage laws", "bird migration",
    "the Magna Carta", "tidal energy", "probability distributions", "the Apollo program",
    "antibiotic resistance", "version control with git", "the Harlem Renaissance", "monetary policy",
    "rainforest ecosystems", "regular expressions", "the Meiji Restoration", "gradient descent",
    "the periodic table", "small business loans", "jazz improvisation", "the greenhouse effect",
    "graph databases", "ancient Egyptian religion", "remote work", "the speed of light",
)
FORMS = ("short story", "poem", "haiku", "limerick", "blog post", "product description", "cover letter",
         "tweet", "speech", "news headline", "dialogue", "essay outline", "song chorus", "lesson plan",
         "movie synopsis", "press release", "job posting", "thank-you note", "marketing email", "riddle")
AUDIENCES = ("a ten-year-old", "a high school student", "a software engineer", "my grandmother",
             "a first-year medical student", "a non-technical manager", "a curious teenager", "an investor",
             "a new employee", "someone who has never heard of it", "a history teacher", "a small business owner")
QUALIFIERS = ("in simple terms", "in under 100 words", "with a concrete example", "step by step",
              "in three bullet points", "as a table", "briefly", "in detail", "without jargon",
              "using an analogy", "for a beginner", "like I'm five", "with pros and cons")
ADJECTIVES = ("formal", "concise", "persuasive", "friendly", "humorous", "professional", "engaging", "neutral",
              "optimistic", "clear", "polite", "dramatic", "casual", "academic")
PLURALS = ("healthy breakfast ideas", "team-building activities", "ways to save energy at home",
           "interview questions", "names for a pet turtle", "fun facts about octopuses",
           "reasons to learn a second language", "common logical fallacies", "productivity tips",
           "famous inventors", "uses for baking soda", "renewable energy sources", "board games for families",
           "signs of burnout", "slogans for a coffee shop", "questions to ask a landlord", "examples of irony",
           "strategies for negotiating a salary", "weekend hobbies", "ways to reduce plastic waste",
           "icebreaker questions", "budget travel tips", "houseplants that need little light",
           "metaphors for change", "birthday party themes")
LANGS = ("French", "Spanish", "German", "Italian", "Japanese", "Portuguese", "Chinese", "Russian")
NUMS = ("three", "four", "five", "six", "seven", "ten")
ORDINALS = ("first", "second", "third", "last")
PERSONS = ("a teacher", "a student", "a detective", "a chef", "a robot", "a pirate", "a doctor", "a tourist",
           "a farmer", "an astronaut", "a librarian", "a lawyer")
STYLES = ("a nature documentary", "Shakespeare", "a sports commentator", "a children's book", "a news report",
          "a noir detective novel", "a cooking show", "an instruction manual")
HOWTOS = ("changing a flat bicycle tire", "setting up a home Wi-Fi network", "brewing pour-over coffee",
          "writing a cover letter", "planting tomatoes", "preparing for a job interview", "cleaning a laptop keyboard",
          "making a monthly budget", "learning to juggle", "painting a room", "backing up a phone",
          "training for a 5k run", "filing a tax return", "tying a bowline knot")
CODE_TASKS = ("checks whether a string is a palindrome", "returns the n-th Fibonacci number",
              "merges two sorted lists", "counts the words in a text file",
              "removes duplicates from a list while keeping the order", "parses an ISO date string",
              "computes the median of a list of numbers", "validates an email address", "flattens a nested list",
              "finds the longest common prefix of a list of strings", "reverses the words in a sentence",
              "groups a list of records by a key", "converts Roman numerals to integers",
              "checks whether two strings are anagrams", "finds all prime numbers below n")
SQL_TASKS = ("returns the ten customers with the highest total order value",
             "counts the orders placed in each month of 2023", "finds employees who earn more than their manager",
             "lists products that have never been ordered", "computes the average rating of each book",
             "finds duplicate email addresses in the users table")
OBJECT_NOUNS = ("apple", "hammer", "violin", "carrot", "sparrow", "granite", "tulip", "laptop", "salmon", "oak",
                "trumpet", "spinach", "eagle", "marble", "bicycle", "copper", "shark", "daisy", "drill", "banana")
PLACES = ("Lisbon", "Kyoto", "Mexico City", "Edinburgh", "Cape Town", "Hanoi", "Vancouver", "Istanbul",
          "Buenos Aires", "Prague", "Marrakesh", "Seoul")
DISHES = ("lasagna", "pad thai", "banana bread", "chicken curry", "pancakes", "vegetable soup", "tacos",
          "brownies", "risotto", "falafel")
INGREDIENTS = ("eggs", "gluten", "dairy", "sugar", "an oven", "nuts", "garlic", "meat")
RELATIONS = ("boss", "landlord", "teacher", "team", "neighbor", "professor", "client", "sister", "coworker")
EVENTS = ("a missed deadline", "the project delay", "my vacation days", "a broken heater", "next week's meeting",
          "the budget cuts", "a refund", "my resignation", "the noise at night", "a schedule change")
PERSONAS = ("a nurse", "a college student", "a new manager", "a freelance designer", "a retired teacher",
            "a single dad", "a junior developer", "a small bakery owner", "an exchange student")
GOALS = ("learn Python in a month", "save money for a house", "get better at public speaking",
         "organize my week", "pass a statistics exam", "start running again", "write my first novel",
         "switch careers into data analysis", "improve my sleep")
GADGETS = ("laptop", "car", "dishwasher", "phone", "printer", "router", "bike chain", "sourdough starter")
PROBLEMS = ("shutting down randomly", "making a weird noise", "losing connection", "running out of battery",
            "getting very hot", "showing an error on startup", "smelling strange")
ERRORS = ("TypeError: 'NoneType' object is not iterable", "IndexError: list index out of range", "KeyError: 'id'",
          "SyntaxError: invalid syntax", "an empty output", "an infinite loop", "the wrong total")
SUBJECTS = ("The main idea", "This approach", "A common mistake", "In practice, the first step", "One useful trick",
            "The key difference", "Each part of the process", "A good rule of thumb", "The most important factor",
            "Historically, this idea", "For most people, the hardest part", "A simple way to see it",
            "The underlying mechanism", "An experienced practitioner", "The usual recommendation",
            "The standard explanation", "Another perspective", "The short answer", "A typical example",
            "The long-term effect", "The first thing to notice", "What matters most", "The resulting pattern",
            "A frequent source of confusion", "The basic principle", "Modern research", "A well-designed plan",
            "The final result", "A practical consequence", "This step")
VERBS = ("depends on", "is closely related to", "helps explain", "can be improved by", "usually starts with",
         "is often confused with", "makes it easier to understand", "requires careful attention to",
         "builds directly on", "should be weighed against", "tends to amplify", "is limited mainly by",
         "can be summarized as", "works best together with", "reduces the impact of", "comes down to",
         "is shaped by", "draws attention to", "leads naturally to", "is easy to overlook in",
         "becomes clearer when you consider", "has a strong effect on", "rarely works without",
         "is a direct response to", "highlights the role of")
OBJECTS = ("the underlying assumptions", "the order in which things happen", "how the data is collected",
           "the cost of each option", "the context in which it is used", "the people involved",
           "the available resources", "small changes over time", "the balance between speed and accuracy",
           "a clear definition of the goal", "the feedback you receive", "the constraints of the system",
           "the way energy moves through it", "the incentives on each side", "the quality of the inputs",
           "the structure of the problem", "what happened before", "the limits of the model",
           "the interaction between its parts", "the scale of the effect", "a few simple habits",
           "the choices made early on", "long-term consequences", "the surrounding environment",
           "the evidence available")
TAILS = ("", "", "", ", especially for beginners", " in most real-world cases", ", so it is worth checking twice",
         " when time is limited", ", as the example shows", " more than people expect",
         ", at least in the short term", " in almost every situation", ", which is why experts disagree",
         " if you look closely", ", according to most textbooks", " once you have some practice")
NAMES = ("Maria", "John", "Aiko", "Carlos", "Fatima", "Liam", "Priya", "Olga", "Chen", "Amara", "Noah", "Sofia",
         "Ivan", "Leila", "Mateo", "Hannah", "Kwame", "Elena", "Yusuf", "Grace")
SURNAMES = ("Garcia", "Smith", "Tanaka", "Okafor", "Novak", "Patel", "Kowalski", "Haddad", "Lindqvist", "Moreau")
PAST_VERBS = ("bought", "repaired", "painted", "forgot", "found", "sold", "borrowed", "delivered", "cooked", "lost",
              "returned", "ordered", "cleaned", "designed", "photographed")
THINGS = ("old bicycle", "red umbrella", "laptop", "birthday cake", "garden fence", "train ticket", "wooden chair",
          "library book", "guitar", "phone charger", "winter coat", "coffee machine", "paper map",
          "blue notebook", "kitchen table")
WHEN = ("at the market", "before the meeting", "in the rain", "on Sunday morning", "after school",
        "near the station", "during the storm", "at the last minute", "for her sister", "without telling anyone",
        "two days ago", "on the way home")
INTROS = ("Sure! Here is an overview of {topic}.", "Great question. {Topic} is easier to understand in parts.",
          "Here's a clear explanation of {topic}.", "Certainly. Let's look at {topic} from a practical angle.",
          "{Topic} can be explained in a few steps.", "Good question! Let me walk you through {topic}.",
          "Here is what you need to know about {topic}.", "Absolutely. {Topic} comes up a lot, so here goes.")
CLOSERS = ("Let me know if you'd like more detail on any of these points.", "I hope this helps!", "", "", "",
           "In short, {topic} rewards a careful, step-by-step approach.", "Would you like an example as well?")
CODE_TEMPLATES = (
    "def {fn}({arg}):\n    result = []\n    for item in {arg}:\n        if item {op} {k}:\n"
    "            result.append(item * {k2})\n    return result",
    "def {fn}({arg}):\n    seen = set()\n    out = []\n    for x in {arg}:\n        if x not in seen:\n"
    "            seen.add(x)\n            out.append(x)\n    return out",
    "def {fn}({arg}, k={k}):\n    counts = {{}}\n    for x in {arg}:\n        counts[x] = counts.get(x, 0) + 1\n"
    "    return sorted(counts, key=counts.get, reverse=True)[:k]",
    "import csv\n\ndef {fn}(path):\n    with open(path, newline='') as fh:\n        rows = list(csv.DictReader(fh))\n"
    "    return [r for r in rows if int(r['{col}']) {op} {k}]",
    "def {fn}({arg}):\n    lo, hi = 0, len({arg}) - 1\n    while lo <= hi:\n        mid = (lo + hi) // 2\n"
    "        if {arg}[mid] {op} {k}:\n            lo = mid + 1\n        else:\n            hi = mid - 1\n    return lo",
)
SQL_TEMPLATE = ("SELECT {col}, SUM(amount) AS total\nFROM orders\nWHERE created_at >= '2024-0{k}-01'\n"
                "GROUP BY {col}\nORDER BY total DESC\nLIMIT {k2};")
FNAMES = ("solve", "process_items", "find_pairs", "normalize", "merge_intervals", "count_words", "parse_record",
          "rolling_mean", "top_k", "is_valid", "clean_rows", "dedupe")
ARGS = ("items", "values", "nums", "records", "data", "words")
COLS = ("customer_id", "region", "age", "score", "quantity", "user_id")
OPS = (">", "<", ">=", "<=", "==", "!=")

HARVEST_TEMPLATES = (   # (instruction, kind of input it takes or "")
    ("Generate a list of {num} {plural} for {audience}.", ""),
    ("Write a {form} about {topic}.", ""),
    ("Explain {topic} to {audience}.", ""),
    ("Rewrite the following sentence to make it more {adj}.", "sentence"),
    ("Summarize the following paragraph in {num} sentences.", "paragraph"),
    ("Translate the following sentence into {lang}.", "sentence"),
    ("Give {num} examples of {plural} and explain each in one sentence.", ""),
    ("Compare and contrast {topic} and {topic2}.", ""),
    ("Describe the relationship between {topic} and {topic2}.", ""),
    ("Identify the main idea of the following text.", "paragraph"),
    ("Write a Python function named {fn} that {code_task}.", ""),
    ("Create a {form} that mentions {topic}.", ""),
    ("What are the main advantages and disadvantages of {topic}?", ""),
    ("Edit the following sentence for grammar and clarity.", "sentence"),
    ("Suggest {num} {adj} titles for an article about {topic}.", ""),
    ("Find the sum of {n1} and {n2}.", ""),
    ("Convert {n1} degrees Fahrenheit to Celsius.", ""),
    ("Analyze the tone of the following text.", "paragraph"),
    ("Write a SQL query on the {col} column that {sql_task}.", ""),
    ("Provide a step-by-step guide to {howto}.", ""),
    ("Explain why {topic} matters to {audience}.", ""),
    ("Generate a multiple-choice question about {topic}.", ""),
    ("Write a dialogue between {person} and {person2} about {topic}.", ""),
    ("Categorize the following items into groups: {items}.", ""),
    ("Name {num} important facts about {topic}.", ""),
    ("Write the opening paragraph of a {form} about {topic}.", ""),
    ("Describe {topic} in the style of {style}.", ""),
    ("Classify the following sentence as a fact or an opinion.", "sentence"),
    ("Find the error in the following code and fix it.", "code"),
    ("Come up with a {adj} slogan for a company that sells {plural}.", ""),
)
HARVEST_SUFFIXES = ("", "", " Keep it {qualifier}.", " Make it suitable for {audience}.", " Use a {adj} tone.",
                    " Limit your answer to {n1} words.", " Include at least {num} examples.",
                    " Mention {topic2} if it is relevant.", " Format the answer as {fmt}.")
HUMAN_FORMS = (   # (weight, template)
    (3, "What is {topic}?"), (3, "how does {topic} work"), (2, "Why is {topic} important?"),
    (3, "Can you explain {topic} {qualifier}?"), (2, "What's the difference between {topic} and {topic2}?"),
    (2, "explain {topic} to {audience}"), (2, "what are some {plural}"), (1, "ELI5: {topic}"),
    (3, "I'm {persona} and I want to {goal}. Any advice?"), (2, "My {gadget} keeps {problem}. What should I do?"),
    (2, "Help me plan a {ndays}-day trip to {place}."), (2, "Give me a recipe for {dish} without {ingredient}."),
    (2, "Write an email to my {relation} about {event}."), (1, "write a {adj} {form} for my {relation}"),
    (2, "Write a {form} about {topic}."), (1, "Can you give me {num} {plural}?"),
    (1, "How do I get started with {topic}? I have about {n1} minutes a day."),
    (2, "Summarize this for me:\n\n{paragraph}"),
    (2, "Can you fix this code?\n\n```python\n{code}\n```\n\nI get {error}"),
    (1, "Make this sound more {adj}: {sentence}"), (1, "Translate to {lang}: {sentence}"),
    (1, "is it worth learning about {topic} in 2025?"), (1, "{topic} vs {topic2} - which one should I focus on?"),
)
FOLLOWUPS = ("Thanks! Can you make it shorter?", "Can you give me a concrete example?", "What about {topic}?",
             "ok, and how does that relate to {topic}?", "Please rewrite that in a more {adj} tone.",
             "Could you explain the {ordinal} point in more detail?",
             "That's not quite what I meant. I was asking about {topic}.", "Great, now turn that into a {form}.",
             "can you translate that into {lang}", "Summarize everything so far in {num} bullet points.",
             "why?", "Thanks, that helps. One more question: how does {topic} fit in?")
CHAT_SYSTEMS = ("", "You are a helpful assistant.", "You are ChatBuddy, a friendly assistant for our customers.",
                "You are a patient tutor. Explain things clearly.")
REQUIREMENTS = ("Use no more than 300 words.", "Include at least one concrete example.", "Write in a {adj} tone.",
                "Use Markdown headings.", "End with a one-sentence summary.", "Do not use bullet points.",
                "Mention at least two historical facts.", "Avoid technical jargon.", "Answer in {num} paragraphs.")
MCQ_SUBJECTS = ("high school biology", "world history", "microeconomics", "computer science", "physics",
                "philosophy", "nutrition", "astronomy", "statistics", "law")

ZH_TOPICS = ("光合作用", "机器学习", "通货膨胀", "区块链", "量子计算", "气候变化", "中国历史", "股票市场", "人工智能", "健康饮食")
ZH_FORMS = ("请解释一下{t}。", "{t}是什么？请用简单的话说明。", "帮我写一篇关于{t}的短文。", "{t}有哪些优点和缺点？",
            "如何学习{t}？给我一些建议。", "用三个要点总结{t}。")
ZH_S = ("这个概念", "在实际应用中，它", "很多人认为它", "从历史上看，它", "简单来说，它", "研究表明，它", "对于初学者来说，它")
ZH_P = ("与日常生活密切相关", "需要结合具体情况来理解", "可以分为几个重要的部分", "在过去几十年里发展很快", "并不难掌握",
        "经常被误解", "影响着许多行业")
ZH_T = ("。", "，值得深入了解。", "，因此需要认真对待。", "。")
RU_TOPICS = ("фотосинтез", "машинное обучение", "инфляция", "блокчейн", "квантовые компьютеры", "изменение климата",
             "история России", "фондовый рынок", "искусственный интеллект", "здоровое питание")
RU_FORMS = ("Объясни простыми словами тему «{t}».", "Напиши короткое эссе на тему «{t}».",
            "Какие плюсы и минусы у темы «{t}»?", "Что нужно знать новичку о теме «{t}»?",
            "Помоги разобраться в теме «{t}», пожалуйста.")
RU_S = ("Эта тема", "На практике это", "Многие считают, что это", "Исторически это", "Проще говоря, это",
        "Исследования показывают, что это")
RU_P = ("тесно связано с повседневной жизнью", "требует внимательного подхода", "состоит из нескольких важных частей",
        "быстро развивалось в последние десятилетия", "не так сложно, как кажется", "часто понимают неправильно")
RU_T = (".", ", и об этом стоит помнить.", ", особенно для начинающих.", ".")
ES_TOPICS = ("la fotosíntesis", "la inflación", "la inteligencia artificial", "la Revolución Francesa",
             "la bolsa de valores", "la dieta mediterránea", "los agujeros negros", "las energías renovables",
             "la teoría de la evolución", "la economía circular")
ES_FORMS = ("¿Puedes explicarme {t}?", "Escribe un texto corto sobre {t}.",
            "¿Cuáles son las ventajas y desventajas de {t}?", "Explícame {t} como si tuviera diez años.",
            "Dame tres datos curiosos sobre {t}.")
ES_S = ("Este tema", "En la práctica, esto", "Mucha gente piensa que esto", "Históricamente, esto",
        "En pocas palabras, esto", "Los estudios muestran que esto")
ES_P = ("está muy relacionado con la vida diaria", "requiere un enfoque cuidadoso", "tiene varias partes importantes",
        "ha cambiado mucho en las últimas décadas", "no es tan difícil como parece", "se malinterpreta a menudo")
ES_T = (".", ", y conviene recordarlo.", ", sobre todo para principiantes.", ".")

# Wrappers harvesting scripts put around each item ({task}: instruction and input together).
ALPACA = ("Below is an instruction that describes a task, paired with an input that provides further context. "
          "Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n"
          "### Input:\n{input}\n\n### Response:")
ALPACA_NO_INPUT = ("Below is an instruction that describes a task. Write a response that appropriately completes "
                   "the request.\n\n### Instruction:\n{instruction}\n\n### Response:")
BULK_WRAPPERS = (ALPACA, "### Human: {task}\n### Assistant:",
                 "Answer the following request as thoroughly as possible.\n\nRequest: {task}\n\nAnswer:")
COT_WRAPPERS = ("Think step by step and show your complete reasoning before you give the final answer.\n\n"
                "Task: {instruction}\n{input}",
                "You are a world-class expert. Answer the request below in full detail. First explain your chain "
                "of thought, then state the answer.\n\nRequest: {task}",
                "{task}\n\nLet's think step by step.")
PROBE_WRAPPERS = ("{task}", ALPACA)

# Integration templates: (family, prompt with {item}) and how items and answers are made.
INTEGRATION_FAMILIES = (
    ("sentiment", ("Classify the sentiment of the following {product} review as positive, negative or neutral."
                   "\n\nReview: {item}\n\nSentiment:",
                   "Review: {item}\nIs this {product} review positive, negative or neutral? Answer with one word.")),
    ("routing", ("Route this support ticket to one of: billing, technical, account, shipping. Reply with the team "
                 "name only.\n\nTicket: {item}",
                 "You triage tickets for {company}. Which team should handle this? Options: billing, technical, "
                 "account, shipping.\n\n{item}\n\nTeam:")),
    ("extract", ("Extract the customer name and order number from the message below. Return JSON with keys "
                 "\"name\" and \"order\".\n\nMessage: {item}",)),
    ("translate", ("Translate this product title into {lang3}. Output only the translation.\n\n{item}",)),
    ("spam", ("Is the following message spam? Answer yes or no.\n\nMessage: {item}",
              "{company} inbox filter. Message:\n{item}\n\nSpam (yes/no):")),
    ("summary", ("Summarize this customer conversation in one sentence.\n\n{item}",)),
    ("tags", ("Suggest up to three comma-separated tags for this article title: {item}",)),
)
PRODUCT_KINDS = ("headphones", "blender", "running shoes", "phone case", "desk lamp", "backpack", "coffee grinder")
COMPANIES = ("Acme Outdoor", "Northwind Books", "Bluebird Telecom", "Pinecone Games", "Helios Energy", "Tidal Foods")
REVIEW_OPEN = ("I bought this", "We have used this", "Got this", "Ordered this", "My husband bought this",
               "Second time buying this", "I received this", "Picked this up")
REVIEW_WHEN = ("last month", "for my daughter", "on sale", "two weeks ago", "as a gift", "for the office", "")
REVIEW_MID = ("and it stopped working after a week", "and it works exactly as described",
              "and the battery life is amazing", "but the instructions were useless", "and honestly it's just okay",
              "and it arrived with a cracked case", "and I would buy it again", "but shipping took forever",
              "and it does the job", "and the quality is much better than expected", "and it is way too loud",
              "and customer service was very helpful")
REVIEW_END = (".", "!", ". 5 stars.", ". Not worth the price.", ". Meh.", "", " :)")
TICKET_ISSUES = (   # (what the customer writes, what a summary calls it, the team that handles it)
    ("was charged twice for the subscription", "a double charge", "billing"),
    ("can't log in to my account", "a login problem", "account"),
    ("never received my package", "a missing package", "shipping"),
    ("need to change my billing address", "a billing address change", "billing"),
    ("see an error when I upload files", "an upload error", "technical"),
    ("forgot my password", "a forgotten password", "account"),
    ("got the wrong size", "a wrong-size delivery", "shipping"),
    ("want to cancel my plan", "a cancellation", "account"),
    ("was promised a discount that never showed up", "a missing discount", "billing"),
    ("can't download my invoice", "an invoice download problem", "technical"),
    ("keep getting logged out of the app", "repeated logouts", "technical"),
)
TICKET_ASKS = ("Can you help?", "Please fix this asap.", "What should I do?", "Thanks.",
               "This is the third time I'm writing.", "Any update?", "")
SPAM = ("Congratulations! You have won a {prize}. Click {url} to claim it now!",
        "URGENT: your account will be suspended. Verify your details at {url}",
        "Earn $5000 a week from home, no experience needed!!! Reply YES",
        "Your parcel is waiting. Pay the {n1} cent customs fee at {url}",
        "Limited offer: {prize} for only $1. Visit {url}")
PRIZES = ("free cruise", "new iPhone", "$1000 gift card", "luxury watch", "lifetime subscription")
URLS = ("bit.ly/xq{n1}", "claim-now.example.com", "secure-verify.example.net", "win{n1}.example.org")
PRODUCT_TITLES = (   # English, Spanish, German, French
    ("stainless steel water bottle", "botella de agua de acero inoxidable", "Edelstahl-Trinkflasche",
     "bouteille d'eau en acier inoxydable"),
    ("wireless noise-cancelling headphones", "auriculares inalámbricos con cancelación de ruido",
     "kabellose Kopfhörer mit Geräuschunterdrückung", "casque sans fil à réduction de bruit"),
    ("cotton crew-neck T-shirt", "camiseta de algodón de cuello redondo", "Baumwoll-T-Shirt mit Rundhalsausschnitt",
     "T-shirt col rond en coton"),
    ("non-stick frying pan", "sartén antiadherente", "antihaftbeschichtete Bratpfanne", "poêle antiadhésive"),
    ("leather laptop sleeve", "funda de cuero para portátil", "Laptophülle aus Leder",
     "housse en cuir pour ordinateur"),
    ("LED desk lamp", "lámpara de escritorio LED", "LED-Schreibtischlampe", "lampe de bureau LED"),
)
COLOURS = (("black", "negro", "schwarz", "noir"), ("white", "blanco", "weiß", "blanc"),
           ("blue", "azul", "blau", "bleu"), ("red", "rojo", "rot", "rouge"), ("green", "verde", "grün", "vert"))
TAG_WORDS = ("science", "history", "finance", "technology", "health", "lifestyle", "education", "travel",
             "business", "culture")
TITLE_FORMS = ("Why {topic} matters more than ever", "A beginner's guide to {topic}",
               "{Num} things nobody tells you about {topic}", "How {topic} is changing the way we live",
               "The surprising history of {topic}", "{Topic}: myths and facts")


# --------------------------------------------------------------------------- text

class _Slots(dict):
    """Template slots filled on first use, so a template only pays for the words it uses."""
    __slots__ = ("text",)

    def __missing__(self, key):
        v = self.text.slot(key)
        self[key] = v
        return v


# When a prompt names no topic, its answer is about the first of these slots the prompt used.
_SUBJECT_SLOTS = (("topic", "{}"), ("plural", "{}"), ("howto", "{}"), ("place", "a trip to {}"), ("dish", "{}"),
                  ("goal", "how to {}"), ("gadget", "your {}"), ("event", "{}"), ("code_task", "a function that {}"),
                  ("sql_task", "a query that {}"), ("code", "this code"), ("sentence", "this sentence"),
                  ("paragraph", "this text"), ("items", "these items"), ("n1", "this calculation"))


def _subject(slots: dict) -> str:
    for key, form in _SUBJECT_SLOTS:
        v = slots.get(key)
        if v is not None:
            return form.format(v) if len(v) < 80 else form.format("this")
    return "your request"


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


class _Text:
    """Text made from the vocabularies: fresh sentences per call, paragraphs from a pool built once."""

    def __init__(self, r: _Rand, n_sentences: int = 6000, n_paragraphs: int = 6000):
        self.r = r
        self._human = [t for w, t in HUMAN_FORMS for _ in range(w)]
        self._vocab = {"topic": TOPICS, "topic2": TOPICS, "form": FORMS, "audience": AUDIENCES,
                       "qualifier": QUALIFIERS, "adj": ADJECTIVES, "plural": PLURALS, "lang": LANGS, "num": NUMS,
                       "ordinal": ORDINALS, "person": PERSONS, "person2": PERSONS, "style": STYLES,
                       "howto": HOWTOS, "code_task": CODE_TASKS, "sql_task": SQL_TASKS, "place": PLACES,
                       "dish": DISHES, "ingredient": INGREDIENTS, "relation": RELATIONS, "event": EVENTS,
                       "persona": PERSONAS, "goal": GOALS, "gadget": GADGETS, "problem": PROBLEMS,
                       "error": ERRORS, "fn": FNAMES, "arg": ARGS, "col": COLS, "op": OPS, "prize": PRIZES,
                       "url": URLS, "fmt": ("a numbered list", "a table", "JSON", "short paragraphs",
                                            "bullet points", "a single paragraph")}
        self._fns = _Text._fresh_fns(self)
        self.sentences = [self.sentence() for _ in range(n_sentences)]
        self.paragraphs = [self._paragraph() for _ in range(n_paragraphs)]
        self.mean_plen = sum(len(p) + 2 for p in self.paragraphs) / len(self.paragraphs)
        self.para_idx = _Indices(r.gen, len(self.paragraphs))
        self.foreign = {"zh": [self._foreign_paragraph(ZH_S, ZH_P, ZH_T, "") for _ in range(300)],
                        "ru": [self._foreign_paragraph(RU_S, RU_P, RU_T, " ") for _ in range(300)],
                        "es": [self._foreign_paragraph(ES_S, ES_P, ES_T, " ") for _ in range(300)]}

    def with_rand(self, r: _Rand) -> "_Text":
        """The same pools, drawing with another random stream."""
        other = object.__new__(_Text)
        other.__dict__.update(self.__dict__)
        other.r = r
        other._fns = _Text._fresh_fns(other)
        other.para_idx = _Indices(r.gen, len(self.paragraphs))
        return other

    @staticmethod
    def _fresh_fns(t: "_Text") -> dict:
        return {"n1": lambda: str(t.r.randint(2, 999)), "n2": lambda: str(t.r.randint(2, 999)),
                "k": lambda: str(t.r.randint(1, 9)), "k2": lambda: str(t.r.randint(2, 20)),
                "ndays": lambda: str(t.r.randint(2, 10)), "sentence": t.narrative,
                "paragraph": lambda: t.narrative_paragraph(t.r.randint(3, 6)), "code": t.code,
                "items": lambda: ", ".join(t.r.sample(OBJECT_NOUNS, t.r.randint(4, 8))),
                "Topic": lambda: _cap(t.r.pick(TOPICS)), "Num": lambda: _cap(t.r.pick(NUMS))}

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
            forms, topics = {"zh": (ZH_FORMS, ZH_TOPICS), "ru": (RU_FORMS, RU_TOPICS),
                             "es": (ES_FORMS, ES_TOPICS)}[lang]
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


def _fill_wrapper(wrapper: str, instruction: str, inp: str) -> str:
    if wrapper is ALPACA and not inp:
        wrapper = ALPACA_NO_INPUT
    task = instruction if not inp else f"{instruction}\n\n{inp}"
    return wrapper.replace("{task}", task).replace("{instruction}", instruction).replace("{input}", inp or "(none)")


# --------------------------------------------------------------------------- integrations and benchmarks

def _integration_template(r: _Rand) -> dict:
    """One integration's fixed prompt: a family, one phrasing of it, its constants."""
    family, phrasings = r.pick(INTEGRATION_FAMILIES)
    lang = r.randint(1, 3)
    prompt = (r.pick(phrasings).replace("{product}", r.pick(PRODUCT_KINDS)).replace("{company}", r.pick(COMPANIES))
              .replace("{lang3}", ("", "Spanish", "German", "French")[lang]))
    return {"family": family, "prompt": prompt, "lang": lang, "upper": r.u() < 0.3}


def _integration_item(t: _Text, tpl: dict) -> tuple[str, str]:
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
        return item, '{"name": "%s", "order": "%s"}' % (name, order)
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
        done = p((("I have fixed it", "fixed it"), ("I have escalated it", "escalated it"),
                  ("I have issued a refund", "issued a refund"), ("I have sent a new link", "sent a new link")))
        item = (f"Customer: Hi, I {issue}.\nAgent: Sorry about that! Let me check.\nAgent: {done[0]}.\n"
                f"Customer: {p(('Thanks!', 'ok', 'Great, thank you.', 'Finally.'))}")
        return item, f"The customer reported {what} and the agent {done[1]}."
    topic = p(TOPICS)
    item = t.fill(p(TITLE_FORMS), topic=topic, Topic=_cap(topic))[0]
    return item, ", ".join([topic.replace("the ", "")] + r.sample(TAG_WORDS, 2))


def _benchmark_suite(seed: int, suite: int, pools: _Text, size: int = 500) -> dict:
    """A fixed benchmark: the same prompts for every account that runs it."""
    r = _Rand(_rng(seed, _S_SUITE, suite))
    t = pools.with_rand(r)
    kind = ("mcq", "open", "code")[suite % 3]
    prompts = []
    for _ in range(size):
        if kind == "mcq":
            topic = r.pick(TOPICS)
            opts = "\n".join(f"{c}. {t.sentence()}" for c in "ABCD")
            q = r.pick(("Which of the following best describes {t}?", "Which statement about {t} is correct?",
                        "Which claim about {t} is best supported by evidence?")).replace("{t}", topic)
            prompts.append((f"The following is a multiple choice question about {r.pick(MCQ_SUBJECTS)}. Answer with "
                            f"the letter of the correct option.\n\n{q}\n{opts}\nAnswer:", topic))
        elif kind == "open":
            task, slots = t.fill(r.pick(HARVEST_TEMPLATES)[0])
            reqs = "\n".join(f"{i}. {t.fill(x)[0]}" for i, x in enumerate(r.sample(REQUIREMENTS, r.randint(2, 4)), 1))
            prompts.append((f"{task}\n\nRequirements:\n{reqs}", _subject(slots)))
        else:
            fn, task = r.pick(FNAMES), r.pick(CODE_TASKS)
            prompts.append((f"Write a Python function `{fn}` that {task}.\n\n```python\ndef {fn}({r.pick(ARGS)}):\n"
                            f"    \"\"\"{_cap(task)}.\"\"\"\n```\n\nReturn only the code.", "this function"))
    return {"kind": kind, "prompts": prompts}


# --------------------------------------------------------------------------- the plan

class _Pop:
    __slots__ = ("key", "label", "kind", "campaign", "role", "base", "median", "sigma", "lo", "hi", "min_accounts")

    def __init__(self, key, label, kind, campaign, role, base, median, sigma, lo, hi, min_accounts=1):
        self.key, self.label, self.kind, self.campaign, self.role = key, label, kind, campaign, role
        self.base, self.median, self.sigma, self.lo, self.hi = base, median, sigma, lo, hi
        self.min_accounts = min_accounts


# base: accounts per BASE_ACCOUNTS (per campaign for extractors); requests per account per BASE_DAYS
_POPS = (
    _Pop("casual", "benign", "casual", "", "casual", 0, 4, 1.2, 1, 150),
    _Pop("power", "benign", "power", "", "casual", 6, 150, 0.5, 60, 600),
    _Pop("chat", "benign", "chat", "", "chat", 24, 80, 0.6, 20, 600),
    _Pop("integration", "benign", "integration", "", "integration", 15, 300, 0.8, 60, 3000),
    _Pop("eval_run", "benign", "eval_run", "", "eval_run", 3, 400, 0.15, 250, 500),
    _Pop("solo-bulk", "extractor", "harvest", "solo-bulk", "bulk", 1, 2500, 0.0, 2500, 2500),
    _Pop("sybil-ring", "extractor", "harvest", "sybil-ring", "ring", 12, 150, 0.35, 60, 500, min_accounts=3),
    _Pop("logit-probe", "extractor", "harvest", "logit-probe", "probe", 1, 800, 0.3, 400, 2000),
)


class _Account:
    """One planned account: who it is, how many requests, and the constants of its traffic."""

    def __init__(self, index: int, account_id: str, pop: _Pop, campaign: str, n: int):
        self.index, self.account_id, self.pop, self.campaign, self.n = index, account_id, pop, campaign, n
        self.role = pop.role
        self.model = ""
        self.tz = 0
        self.system = ""
        self.wrappers: tuple = ()
        self.timing = ""
        self.cv = 0.5
        self.window = (0, 0)
        self.template: dict = {}
        self.suite = 0
        self.max_tokens = 0
        self.models: tuple = ()
        self.state = None   # generation state: a chat's conversation, an eval run's prompt order
        self.sent = 0

    def label(self, requests: int | None = None) -> AccountLabel:
        return AccountLabel(self.account_id, self.pop.label, self.pop.kind, self.campaign,
                            self.n if requests is None else requests)


def _groups(accounts: int) -> list:
    """(population, campaign number, campaign name, accounts, request multiplier) for a log size.

    Populations keep their share of accounts; one below its minimum keeps the minimum and sends
    proportionally fewer requests, and the last campaign of a kind may be a fraction of one, so
    the volume of every population grows smoothly with `accounts`.
    """
    s = accounts / BASE_ACCOUNTS
    out = []
    for pop in _POPS[1:]:
        want = pop.base * s
        if pop.campaign:
            if s < 1:
                per = max(pop.min_accounts, round(want))
                out.append((pop, 0, pop.campaign, per, want / per))
                continue
            n_campaigns = math.ceil(s - 1e-9)
            for c in range(n_campaigns):
                name = pop.campaign if c == 0 else f"{pop.campaign}-{c + 1}"
                out.append((pop, c, name, pop.base, min(1.0, s - c)))
        else:
            got = max(pop.min_accounts, round(want))
            out.append((pop, 0, "", got, min(1.0, want / got)))
    n_casual = max(1, accounts - sum(g[3] for g in out))
    return [(_POPS[0], 0, "", n_casual, 1.0)] + out


def _plan(accounts: int, seed: int, days: int) -> list:
    """Accounts, their request counts and the constants of their traffic, for about `accounts` accounts.

    Each population (each campaign) draws from its own stream, so the k-th account of a population
    is the same in a log of any size: a larger log is a superset of a smaller one, which is what
    lets `target_bytes` find its size by a few trials.
    """
    day_scale = days / BASE_DAYS
    groups = _groups(accounts)
    n_suites = max(1, -(-sum(g[3] for g in groups if g[0].role == "eval_run") // 4))
    used, out = set(), []
    for pop, c, campaign, n_acc, mult in groups:
        r = _Rand(_rng(seed, _S_PLAN, _POPS.index(pop), c), block=256)
        models = {"bulk": BULK_MODELS, "probe": PROBE_MODELS}.get(pop.role, EXTRACTOR_MODELS)
        camp_model = r.weighted(models)
        for k in range(n_acc):
            aid = "acct_%012x" % int(r.u() * (1 << 48))
            while aid in used:
                aid = "acct_%012x" % int(r.u() * (1 << 48))
            used.add(aid)
            base_n = pop.median * math.exp(pop.sigma * r.z()) if pop.sigma else pop.median
            n = min(pop.hi, max(pop.lo, round(base_n)))
            n = max(1, round(n * mult * (1.0 if pop.role == "eval_run" else day_scale)))
            a = _Account(len(out), aid, pop, campaign, n)
            # every account makes the same draws whatever its role, so streams stay aligned
            a.tz = r.randint(-8, 9)
            a.cv = r.uniform(0.15, 0.6)
            benign_model = r.weighted(BENIGN_MODELS)
            pick = r.u()
            if pop.label == "benign":
                a.model = benign_model
            else:
                a.model, a.models = camp_model, models
            if pop.role == "chat":
                a.system = CHAT_SYSTEMS[int(pick * len(CHAT_SYSTEMS))]
            elif pop.role == "integration":
                a.template = _integration_template(r)
                a.model = r.pick(("frontier-mini", "frontier-mini", "frontier-large"))
                a.max_tokens = r.pick((16, 32, 64, 128, 256))
                a.system = r.pick(("", "Answer with the label only.", "You are a precise data-labelling assistant."))
                a.timing = r.pick(("steady", "steady", "business", "nightly"))
                a.cv = r.uniform(0.2, 1.0)
            elif pop.role == "eval_run":
                a.suite = int(pick * n_suites)
            elif pop.role == "bulk":
                a.wrappers = (BULK_WRAPPERS[c % len(BULK_WRAPPERS)],)
            elif pop.role == "ring":
                a.wrappers = tuple(r.sample(COT_WRAPPERS, 1 + int(pick * len(COT_WRAPPERS))))
                a.window = (k, n_acc)
            elif pop.role == "probe":
                a.wrappers = tuple(r.sample(PROBE_WRAPPERS, 1 + int(pick * len(PROBE_WRAPPERS))))
            out.append(a)
    return out


# --------------------------------------------------------------------------- times

def _diurnal(g: np.random.Generator, n: int, tz: int, active_days: np.ndarray, start: int) -> np.ndarray:
    """Sessions of a few requests a minute or two apart, at waking hours of the account's zone."""
    sizes = 1 + g.exponential(3.0, size=n).astype(np.int64)
    cs = np.cumsum(sizes)
    m = int(np.searchsorted(cs, n)) + 1
    sizes = sizes[:m]
    sizes[-1] -= int(cs[m - 1]) - n
    day = g.choice(active_days, size=m)
    hour = g.choice(24, size=m, p=_DIURNAL)
    t0 = start + day * DAY_MS + ((hour - tz) % 24) * HOUR_MS + g.integers(0, HOUR_MS, size=m)
    gaps = 4_000 + g.exponential(75_000.0, size=n).astype(np.int64)
    first = np.cumsum(sizes) - sizes
    gaps[first] = 0
    cum = np.cumsum(gaps)
    return np.repeat(t0, sizes) + cum - np.repeat(cum[first], sizes)


def _steady(g: np.random.Generator, n: int, t0: int, t1: int, cv: float) -> np.ndarray:
    """A script's pace: gamma gaps with coefficient of variation `cv`, n requests spread over [t0, t1)."""
    shape = 1.0 / max(cv, 0.05) ** 2
    c = np.cumsum(g.gamma(shape, 1.0, size=n + 1))
    return t0 + ((t1 - t0) * (c[:n] / c[n])).astype(np.int64)


def _schedule(plan: list, seed: int, days: int, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Every request's (time, account index), sorted by time, then account."""
    g = _rng(seed, _S_TIMES, len(plan), days)
    span = days * DAY_MS
    end = start + span
    weekday0 = dt.datetime.fromtimestamp(start / 1000, tz=dt.timezone.utc).weekday()
    weekdays = np.array([d for d in range(days) if (weekday0 + d) % 7 < 5] or list(range(days)))
    ts = np.empty(sum(a.n for a in plan), dtype=np.int64)
    acct = np.empty(len(ts), dtype=np.int32)
    at = 0
    for a in plan:
        n, role = a.n, a.role
        if role in ("casual", "chat"):
            lo = 1 if a.pop.key == "casual" else min(days, 3 if role == "chat" else max(1, days * 2 // 3))
            k = int(g.integers(lo, max(lo, min(days, n)) + 1))
            t = _diurnal(g, n, a.tz, np.sort(g.choice(days, size=k, replace=False)), start)
        elif role == "integration":
            if a.timing == "steady":
                t = _steady(g, n, start, end, a.cv)
            elif a.timing == "business":
                day = g.choice(weekdays, size=n)
                hour = g.integers(8, 18, size=n)
                t = start + day * DAY_MS + ((hour - a.tz) % 24) * HOUR_MS + g.integers(0, HOUR_MS, size=n)
            else:   # a nightly batch from 02:00 local, a few hours long
                day = np.sort(g.integers(0, days, size=n))
                t = (start + day * DAY_MS + ((2 - a.tz) % 24) * HOUR_MS
                     + (g.beta(2.0, 5.0, size=n) * 3 * HOUR_MS).astype(np.int64))
        elif role == "eval_run":
            t0 = start + int(g.integers(0, max(1, span - 4 * HOUR_MS)))
            t = t0 + np.sort(g.uniform(0, g.uniform(0.5, 3.0) * HOUR_MS, size=n)).astype(np.int64)
        elif role == "ring":
            k, n_acc = a.window
            width = min(span, 3 * DAY_MS)
            step = (span - width) // max(1, n_acc - 1)
            t0 = start + min(k * step, span - width) + int(g.integers(0, HOUR_MS))
            t = _steady(g, n, t0, min(end, t0 + width), a.cv)
        else:   # bulk and probe: around the clock, the whole log
            t = _steady(g, n, start, end, a.cv)
        t = np.where(t >= end, t - span, t)   # a late session that runs past the end wraps to the start
        ts[at:at + n] = np.sort(t)
        acct[at:at + n] = a.index
        at += n
    order = np.lexsort((acct, ts))
    return ts[order], acct[order]


# --------------------------------------------------------------------------- records

def _tokens(s: str) -> int:
    """About four bytes of UTF-8 per token, at least one (the evaluation logs' rule)."""
    return max(1, ((len(s) if s.isascii() else len(s.encode())) + 3) >> 2)


def flat_prompt(messages: list) -> str:
    """A messages list as one prompt string: "role: content" blocks joined by a blank line."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)


class _Generator:
    """Makes the requests of planned accounts and renders them as JSON lines."""

    def __init__(self, text: _Text, seed: int, fmt: str, pools: _Text):
        self.t, self.r, self.seed, self.fmt, self.pools = text, text.r, seed, fmt, pools
        self.suites: dict = {}
        self.rid_prefix = f"{seed}:"
        self.makers = {"casual": self._casual, "chat": self._chat, "integration": self._integration,
                       "eval_run": self._eval_run, "bulk": self._bulk, "ring": self._ring, "probe": self._probe}

    def line(self, a: _Account, i: int, ts: int, iso: str) -> bytes:
        """The JSON line of request number `i` of the log (account `a`, time `ts` in epoch ms)."""
        model, messages, prompt_tokens, completion, max_tokens, temperature, n, logprobs, rf = self.makers[a.role](a)
        visible = _tokens(completion)
        reasoning = int(visible * rf)
        finish = "length" if visible + reasoning >= max_tokens else "stop"
        completion_tokens = min(max_tokens, visible + reasoning) * n
        rid = "req_" + hashlib.blake2b((self.rid_prefix + str(i)).encode(), digest_size=8).hexdigest()
        if self.fmt == "flat":
            return orjson.dumps({
                "request_id": rid, "account_id": a.account_id, "ts": iso, "model": model,
                "prompt": flat_prompt(messages), "completion": completion, "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens, "max_tokens": max_tokens, "temperature": temperature,
                "n": n, "logprobs": logprobs, "finish_reason": finish}, option=_OPT)
        req = {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": temperature, "n": n}
        if logprobs:
            req["logprobs"] = True
            req["top_logprobs"] = 5
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        if reasoning:
            usage["completion_tokens_details"] = {"reasoning_tokens": min(reasoning, max_tokens) * n}
        choice_msg = {"role": "assistant", "content": completion}
        choices = [{"index": k, "message": choice_msg, "finish_reason": finish} for k in range(n)]
        return orjson.dumps({"id": rid, "created": ts // 1000, "user": a.account_id, "request": req,
                             "response": {"choices": choices, "usage": usage}}, option=_OPT)

    # -- helpers
    def _answer(self, median_tokens: float, sigma: float, max_tokens: int, topic: str, lang: str = "en",
                steps: bool = False) -> str:
        want = int(self.r.lognormal(median_tokens, sigma)) + 1
        # an answer cut at max_tokens is written a little longer, then cut
        text = self.t.completion(4 * want if want < max_tokens else 4 * max_tokens + 800, topic, lang, steps)
        if want >= max_tokens:   # cut off by max_tokens, mid-sentence as a real one is
            text = text[:4 * max_tokens] if text.isascii() else text[:max_tokens]
        return text

    def _reasoning(self, model: str, cot: bool) -> float:
        if model != REASONING_MODEL:
            return 0.0
        return self.r.uniform(4.0, 12.0) if cot else self.r.uniform(0.3, 1.5)

    @staticmethod
    def _single(system: str, user: str) -> tuple[list, int]:
        if system:
            return ([{"role": "system", "content": system}, {"role": "user", "content": user}],
                    _tokens(system) + _tokens(user) + 6)
        return [{"role": "user", "content": user}], _tokens(user) + 3

    # -- populations
    def _casual(self, a: _Account):
        r = self.r
        prompt, topic, lang = self.t.human_prompt()
        messages, pt = self._single("You are a helpful assistant." if r.u() < 0.2 else "", prompt)
        model = a.model if r.u() < 0.8 else r.weighted(BENIGN_MODELS)
        mt = r.pick((1024, 2048, 4096))
        completion = self._answer(220, 0.8, mt, topic, lang)
        return (model, messages, pt, completion, mt, r.pick((0.7, 1.0, 1.0, 0.2)), 1, False,
                self._reasoning(model, False))

    def _chat(self, a: _Account):
        """Each turn re-sends the whole conversation so far, the previous answers included."""
        r = self.r
        st = a.state
        if st is None or st["left"] <= 0:
            history = [{"role": "system", "content": a.system}] if a.system else []
            prompt, topic, lang = self.t.human_prompt()
            st = a.state = {"history": history, "tokens": _tokens(a.system) + 3 if a.system else 0,
                            "left": 2 + min(12, int(-3.0 * math.log(1.0 - r.u()))), "topic": topic, "lang": lang,
                            "reply": None}
        else:
            # the last answer joins the history now, after the request that produced it was written
            st["history"].append({"role": "assistant", "content": st["reply"]})
            st["tokens"] += _tokens(st["reply"]) + 3
            prompt, topic = self.t.followup()
            topic, lang = topic or st["topic"], st["lang"]
        st["history"].append({"role": "user", "content": prompt})
        st["tokens"] += _tokens(prompt) + 3
        completion = self._answer(150, 0.7, 4096, topic, lang)
        st["reply"] = completion
        st["left"] -= 1
        a.sent += 1
        if a.sent >= a.n:   # the account's last request: its conversation is no longer needed
            a.state = None
        return (a.model, st["history"], st["tokens"], completion, 4096, 0.7, 1, False,
                self._reasoning(a.model, False))

    def _integration(self, a: _Account):
        tpl = a.template
        item, ans = _integration_item(self.t, tpl)
        messages, pt = self._single(a.system, tpl["prompt"].replace("{item}", item))
        return (a.model, messages, pt, ans, a.max_tokens, 0.0, 1, False, 0.0)

    def _eval_run(self, a: _Account):
        r = self.r
        suite = self.suites.get(a.suite)
        if suite is None:
            suite = self.suites[a.suite] = _benchmark_suite(self.seed, a.suite, self.pools)
        if a.state is None:
            order = list(range(len(suite["prompts"])))
            for i in range(len(order) - 1, 0, -1):   # Fisher-Yates with our stream
                j = int(r.u() * (i + 1))
                order[i], order[j] = order[j], order[i]
            a.state = [order, 0]
        order, k = a.state
        prompt, topic = suite["prompts"][order[k % len(order)]]
        a.state[1] = k + 1
        messages, pt = self._single("", prompt)
        if suite["kind"] == "mcq":
            letter = r.pick("ABCD")
            completion = r.pick((letter, f"Answer: {letter}", f"The correct answer is {letter}. {self.t.sentence()}"))
        elif suite["kind"] == "code":
            completion = "```python\n" + self.t.code() + "\n```"
        else:
            completion = self._answer(400, 0.5, 4096, topic)
        return (a.model, messages, pt, completion, 4096, 0.0, 1, False, self._reasoning(a.model, False))

    def _harvest(self, a: _Account, instruction: str, inp: str, topic: str, *, median: float, sigma: float,
                 mt: int, n: int = 1, logprobs: bool = False, cot: bool = False):
        r = self.r
        text = _fill_wrapper(r.pick(a.wrappers), instruction, inp)
        model = a.model if r.u() < 0.9 else r.weighted(a.models)
        rf = self._reasoning(model, cot)
        if cot and not rf:
            median *= 3   # no hidden reasoning: the chain of thought is in the visible answer
        completion = self._answer(median, sigma, mt, topic, steps=cot)
        temperature = r.pick((0.7, 1.0)) if n > 1 else r.pick((0.0, 0.3, 0.7))
        messages, pt = self._single("", text)
        return (model, messages, pt, completion, mt, temperature, n, logprobs, rf)

    def _bulk(self, a: _Account):
        inst, inp, topic = self.t.harvest_item()
        return self._harvest(a, inst, inp, topic, median=850, sigma=0.5, mt=1024)

    def _ring(self, a: _Account):
        r = self.r
        if r.u() < 0.6:
            inst, inp, topic = self.t.harvest_item()
        else:   # people's questions, re-asked
            inst, topic, _ = self.t.human_prompt()
            inp = ""
        return self._harvest(a, inst, inp, topic, median=350, sigma=0.6, mt=r.pick((4096, 8192)), cot=True)

    def _probe(self, a: _Account):
        r = self.r
        inst, inp, topic = self.t.harvest_item()
        return self._harvest(a, inst, inp, topic, median=200, sigma=0.6, mt=r.pick((256, 512)),
                             n=r.pick((4, 8)), logprobs=r.u() < 0.95)


def _iso(ts: np.ndarray) -> list:
    """Epoch ms as ISO-8601 UTC with milliseconds and Z, e.g. 2025-09-01T00:00:00.000Z."""
    return [s + "Z" for s in np.datetime_as_string(ts.astype("datetime64[ms]"), unit="ms").tolist()]


# --------------------------------------------------------------------------- sizing

def _calibrate(pools: _Text, seed: int, accounts: int, days: int, fmt: str, start: int) -> dict:
    """Mean bytes of a request of each population, measured by rendering a sample of them."""
    plan = _plan(accounts, seed, days)
    gen = _Generator(pools.with_rand(_Rand(_rng(seed, _S_CALIBRATE))), seed, fmt, pools)
    iso = _iso(np.array([start], dtype=np.int64))[0]
    sums: dict = {}
    for a in plan:
        done, nbytes = sums.get(a.pop.key, (0, 0))
        # at most an eighth of the sample from one account, so that several accounts are seen
        for _ in range(min(a.n, _CALIBRATION_REQUESTS // 8, _CALIBRATION_REQUESTS - done)):
            nbytes += len(gen.line(a, done, start, iso))
            done += 1
        sums[a.pop.key] = (done, nbytes)
    return {k: b / max(1, n) for k, (n, b) in sums.items()}


def _accounts_for(target_bytes: int, accounts: int, pools: _Text, seed: int, days: int, fmt: str,
                  start: int) -> int:
    """The account count whose planned requests are expected to make about `target_bytes`."""
    mean = _calibrate(pools, seed, accounts, days, fmt, start)
    tried = {}
    n = accounts
    for _ in range(8):
        est = sum(a.n * mean[a.pop.key] for a in _plan(n, seed, days))
        tried[n] = abs(est - target_bytes)
        if tried[n] <= 0.01 * target_bytes:
            break
        n = max(1, round(n * target_bytes / max(est, 1.0)))
        if n in tried:
            break
    return min(tried, key=lambda k: (tried[k], k))


# --------------------------------------------------------------------------- output

class _Sink:
    """A file written through a temporary name; plain, gzip (.gz) or zstandard (.zst)."""

    def __init__(self, path: str):
        self.path = path
        self.tmp = path + ".part"
        self.raw = open(self.tmp, "wb")
        if path.endswith(".gz"):
            # mtime=0 and no file name in the header: the same log gives the same bytes
            self.fh = gzip.GzipFile(filename="", mode="wb", fileobj=self.raw, compresslevel=6, mtime=0)
        elif path.endswith(".zst"):
            import zstandard
            self.fh = zstandard.ZstdCompressor(level=3).stream_writer(self.raw, closefd=False)
        else:
            self.fh = self.raw

    def write(self, data: bytes) -> None:
        self.fh.write(data)

    def commit(self) -> None:
        if self.fh is not self.raw:
            self.fh.close()
        self.raw.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            if self.fh is not self.raw:
                self.fh.close()
            self.raw.close()
        finally:
            if os.path.exists(self.tmp):
                os.remove(self.tmp)


def _parse_start(start: str) -> int:
    try:
        t = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"start: not an ISO-8601 time: {start!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return int(t.timestamp() * 1000)


def write_log(path, *, accounts: int = 300, seed: int = 0, fmt: str = "flat", target_bytes: int | None = None,
              days: int = 7, start: str = "2025-09-01T00:00:00Z",
              progress: Callable[[int], None] | None = None) -> SynthSummary:
    """Write a synthetic, labelled request log as JSON Lines, sorted by time.

    path: where to write; a name ending in .gz is gzip-compressed, one ending in .zst zstandard.
    accounts: about how many accounts (populations keep their shares, see the module docstring).
    fmt: "flat" records have request_id, account_id, ts (ISO-8601 UTC, ms, Z), model, prompt,
        completion, prompt_tokens, completion_tokens, max_tokens, temperature, n, logprobs,
        finish_reason; a multi-message prompt is flattened to "role: content" blocks joined by a
        blank line. "openai" records have id, created (epoch s), user, request{model, messages,
        max_tokens, temperature, n, logprobs and top_logprobs when asked}, response{choices,
        usage{prompt_tokens, completion_tokens, total_tokens, completion_tokens_details when there
        are reasoning tokens}}. Both formats of one seed describe the same requests.
    target_bytes: when given, `accounts` is only the starting point: the account count is chosen
        so that about this many bytes of JSON (before compression) are written.
    days, start: the time the log covers.
    progress: called with the number of uncompressed bytes after each block is written.

    Returns a SynthSummary with the counts, the time taken and every account's label.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if int(accounts) < 1 or int(days) < 1:
        raise ValueError("accounts and days must be at least 1")
    if int(seed) < 0:
        raise ValueError("seed must be a non-negative integer")
    if target_bytes is not None and target_bytes <= 0:
        raise ValueError("target_bytes must be positive")
    accounts, days, seed, path = int(accounts), int(days), int(seed), os.fspath(path)
    t_start = time.perf_counter()
    start_ms = _parse_start(start)

    pools = _Text(_Rand(_rng(seed, _S_POOLS)))
    if target_bytes is not None:
        accounts = _accounts_for(int(target_bytes), accounts, pools, seed, days, fmt, start_ms)
    plan = _plan(accounts, seed, days)
    ts, acct = _schedule(plan, seed, days, start_ms)
    gen = _Generator(pools.with_rand(_Rand(_rng(seed, _S_TEXT))), seed, fmt, pools)
    line = gen.line

    sink = _Sink(path)
    nbytes = 0
    try:
        for b0 in range(0, len(ts), _BLOCK_RECORDS):
            block_ts = ts[b0:b0 + _BLOCK_RECORDS]
            block = zip(range(b0, b0 + len(block_ts)), acct[b0:b0 + _BLOCK_RECORDS].tolist(), block_ts.tolist(),
                        _iso(block_ts))
            # appended one by one: orjson's bytes keep spare capacity, a list of 2048 of them is ~40 MB
            data = bytearray()
            for i, j, t, iso in block:
                data += line(plan[j], i, t, iso)
            sink.write(data)
            nbytes += len(data)
            if progress is not None:
                progress(len(data))
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    counts = np.bincount(acct, minlength=len(plan))
    labels = tuple(a.label(int(c)) for a, c in zip(plan, counts.tolist()))
    return SynthSummary(path=path, fmt=fmt, seed=seed, records=int(len(ts)), bytes_written=nbytes,
                        file_bytes=os.path.getsize(path), seconds=time.perf_counter() - t_start, labels=labels)


def write_labels(path, summary: SynthSummary) -> None:
    """Write the accounts' labels as CSV: account_id,label,kind,campaign,requests (sorted by account)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["account_id", "label", "kind", "campaign", "requests"])
        for a in sorted(summary.labels, key=lambda a: a.account_id):
            w.writerow([a.account_id, a.label, a.kind, a.campaign, a.requests])


def main(argv=None) -> int:
    """python -m fastscan.synth LOG [--labels CSV] [--accounts N] [--target-mb M] ...: write a log."""
    import argparse
    import sys
    ap = argparse.ArgumentParser(prog="python -m fastscan.synth", description=main.__doc__.split(": ", 1)[1])
    ap.add_argument("out")
    ap.add_argument("--labels")
    ap.add_argument("--accounts", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--format", choices=FORMATS, default="flat")
    ap.add_argument("--target-mb", type=float, help="write about this many MB (1e6 bytes) of JSON")
    ap.add_argument("--days", type=int, default=7)
    args = ap.parse_args(argv)
    s = write_log(args.out, accounts=args.accounts, seed=args.seed, fmt=args.format, days=args.days,
                  target_bytes=int(args.target_mb * 1e6) if args.target_mb else None)
    if args.labels:
        write_labels(args.labels, s)
    print(f"wrote {s.records:,} requests from {len(s.labels):,} accounts ({s.n_extractors} extractors), "
          f"{s.bytes_written / 1e6:,.1f} MB ({s.file_bytes / 1e6:,.1f} MB on disk) in {s.seconds:.2f} s, "
          f"{s.mb_per_s:,.0f} MB/s, to {s.path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
