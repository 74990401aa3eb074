"""One request of one account as a JSON Lines record, in the flat or OpenAI shape."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import orjson

from fastscan.synth.base import BENIGN_MODELS, OPT, REASONING_MODEL
from fastscan.synth.plan import Account
from fastscan.synth.text import Text, benchmark_suite, fill_wrapper, integration_item


def _tokens(s: str) -> int:
    """About four bytes of UTF-8 per token, at least one (the evaluation logs' rule)."""
    return max(1, ((len(s) if s.isascii() else len(s.encode())) + 3) >> 2)


def flat_prompt(messages: list) -> str:
    """A messages list as one prompt string: "role: content" blocks joined by a blank line."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)


class Generator:
    """Makes the requests of planned accounts and renders them as JSON lines."""

    def __init__(self, text: Text, seed: int, fmt: str, pools: Text):
        self.t, self.r, self.seed, self.fmt, self.pools = text, text.r, seed, fmt, pools
        self.suites: dict = {}
        self.rid_prefix = f"{seed}:"
        self.makers = {
            "casual": self._casual,
            "chat": self._chat,
            "integration": self._integration,
            "eval_run": self._eval_run,
            "bulk": self._bulk,
            "ring": self._ring,
            "probe": self._probe,
        }

    def line(self, a: Account, i: int, ts: int, iso: str) -> bytes:
        """The JSON line of request number `i` of the log (account `a`, time `ts` in epoch ms)."""
        model, messages, prompt_tokens, completion, max_tokens, temperature, n, logprobs, rf = self.makers[a.role](a)
        visible = _tokens(completion)
        reasoning = int(visible * rf)
        finish = "length" if visible + reasoning >= max_tokens else "stop"
        completion_tokens = min(max_tokens, visible + reasoning) * n
        rid = "req_" + hashlib.blake2b((self.rid_prefix + str(i)).encode(), digest_size=8).hexdigest()
        if self.fmt == "flat":
            return orjson.dumps(
                {
                    "request_id": rid,
                    "account_id": a.account_id,
                    "ts": iso,
                    "model": model,
                    "prompt": flat_prompt(messages),
                    "completion": completion,
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "max_tokens": max_tokens,
                    "temperature": temperature,
                    "n": n,
                    "logprobs": logprobs,
                    "finish_reason": finish,
                },
                option=OPT,
            )
        req = {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": temperature, "n": n}
        if logprobs:
            req["logprobs"] = True
            req["top_logprobs"] = 5
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if reasoning:
            usage["completion_tokens_details"] = {"reasoning_tokens": min(reasoning, max_tokens) * n}
        choice_msg = {"role": "assistant", "content": completion}
        choices = [{"index": k, "message": choice_msg, "finish_reason": finish} for k in range(n)]
        return orjson.dumps(
            {
                "id": rid,
                "created": ts // 1000,
                "user": a.account_id,
                "request": req,
                "response": {"choices": choices, "usage": usage},
            },
            option=OPT,
        )

    # -- helpers
    def _answer(
        self, median_tokens: float, sigma: float, max_tokens: int, topic: str, lang: str = "en", steps: bool = False
    ) -> str:
        want = int(self.r.lognormal(median_tokens, sigma)) + 1
        # an answer cut at max_tokens is written a little longer, then cut
        text = self.t.completion(4 * want if want < max_tokens else 4 * max_tokens + 800, topic, lang, steps)
        if want >= max_tokens:  # cut off by max_tokens, mid-sentence as a real one is
            text = text[: 4 * max_tokens] if text.isascii() else text[:max_tokens]
        return text

    def _reasoning(self, model: str, cot: bool) -> float:
        if model != REASONING_MODEL:
            return 0.0
        return self.r.uniform(4.0, 12.0) if cot else self.r.uniform(0.3, 1.5)

    @staticmethod
    def _single(system: str, user: str) -> tuple[list, int]:
        if system:
            return (
                [{"role": "system", "content": system}, {"role": "user", "content": user}],
                _tokens(system) + _tokens(user) + 6,
            )
        return [{"role": "user", "content": user}], _tokens(user) + 3

    # -- populations
    def _casual(self, a: Account):
        r = self.r
        prompt, topic, lang = self.t.human_prompt()
        messages, pt = self._single("You are a helpful assistant." if r.u() < 0.2 else "", prompt)
        model = a.model if r.u() < 0.8 else r.weighted(BENIGN_MODELS)
        mt = r.pick((1024, 2048, 4096))
        completion = self._answer(220, 0.8, mt, topic, lang)
        return (
            model,
            messages,
            pt,
            completion,
            mt,
            r.pick((0.7, 1.0, 1.0, 0.2)),
            1,
            False,
            self._reasoning(model, False),
        )

    def _chat(self, a: Account):
        """Each turn re-sends the whole conversation so far, the previous answers included."""
        r = self.r
        st = a.state
        if st is None or st["left"] <= 0:
            history = [{"role": "system", "content": a.system}] if a.system else []
            prompt, topic, lang = self.t.human_prompt()
            st = a.state = {
                "history": history,
                "tokens": _tokens(a.system) + 3 if a.system else 0,
                "left": 2 + min(12, int(-3.0 * math.log(1.0 - r.u()))),
                "topic": topic,
                "lang": lang,
                "reply": None,
            }
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
        if a.sent >= a.n:  # the account's last request: its conversation is no longer needed
            a.state = None
        return (a.model, st["history"], st["tokens"], completion, 4096, 0.7, 1, False, self._reasoning(a.model, False))

    def _integration(self, a: Account):
        tpl = a.template
        item, ans = integration_item(self.t, tpl)
        messages, pt = self._single(a.system, tpl["prompt"].replace("{item}", item))
        return (a.model, messages, pt, ans, a.max_tokens, 0.0, 1, False, 0.0)

    def _eval_run(self, a: Account):
        r = self.r
        suite = self.suites.get(a.suite)
        if suite is None:
            suite = self.suites[a.suite] = benchmark_suite(self.seed, a.suite, self.pools)
        if a.state is None:
            order = list(range(len(suite["prompts"])))
            for i in range(len(order) - 1, 0, -1):  # Fisher-Yates with our stream
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

    def _harvest(
        self,
        a: Account,
        instruction: str,
        inp: str,
        topic: str,
        *,
        median: float,
        sigma: float,
        mt: int,
        n: int = 1,
        logprobs: bool = False,
        cot: bool = False,
    ):
        r = self.r
        text = fill_wrapper(r.pick(a.wrappers), instruction, inp)
        model = a.model if r.u() < 0.9 else r.weighted(a.models)
        rf = self._reasoning(model, cot)
        if cot and not rf:
            median *= 3  # no hidden reasoning: the chain of thought is in the visible answer
        completion = self._answer(median, sigma, mt, topic, steps=cot)
        temperature = r.pick((0.7, 1.0)) if n > 1 else r.pick((0.0, 0.3, 0.7))
        messages, pt = self._single("", text)
        return (model, messages, pt, completion, mt, temperature, n, logprobs, rf)

    def _bulk(self, a: Account):
        inst, inp, topic = self.t.harvest_item()
        return self._harvest(a, inst, inp, topic, median=850, sigma=0.5, mt=1024)

    def _ring(self, a: Account):
        r = self.r
        if r.u() < 0.6:
            inst, inp, topic = self.t.harvest_item()
        else:  # people's questions, re-asked
            inst, topic, _ = self.t.human_prompt()
            inp = ""
        return self._harvest(a, inst, inp, topic, median=350, sigma=0.6, mt=r.pick((4096, 8192)), cot=True)

    def _probe(self, a: Account):
        r = self.r
        inst, inp, topic = self.t.harvest_item()
        return self._harvest(
            a, inst, inp, topic, median=200, sigma=0.6, mt=r.pick((256, 512)), n=r.pick((4, 8)), logprobs=r.u() < 0.95
        )


def iso_times(ts: np.ndarray) -> list:
    """Epoch ms as ISO-8601 UTC with milliseconds and Z, e.g. 2025-09-01T00:00:00.000Z."""
    return [s + "Z" for s in np.datetime_as_string(ts.astype("datetime64[ms]"), unit="ms").tolist()]


# --------------------------------------------------------------------------- sizing
