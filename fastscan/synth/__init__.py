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

from fastscan.synth.base import FORMATS, AccountLabel, SynthSummary
from fastscan.synth.generator import flat_prompt
from fastscan.synth.write import write_labels, write_log

__all__ = ["FORMATS", "AccountLabel", "SynthSummary", "flat_prompt", "write_labels", "write_log"]
