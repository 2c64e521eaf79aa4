"""A small CPU text service for the BentoML + OpenTelemetry example (examples/README.md, `bentoml-otel/`).

No model to download: two endpoints that do plain-Python text work, enough to produce request metrics, access-log
lines and traces. Tracing is not configured here but in the BentoML configuration file the Deployment mounts
(BENTOML_CONFIG), so the same code runs locally without a collector.
"""

from __future__ import annotations

import collections
import re

import bentoml
from bentoml.exceptions import InvalidArgument

WORD = re.compile(r"[A-Za-z0-9']+")


@bentoml.service(traffic={"timeout": 10})
class TextStats:
    """Counts words and returns the most frequent ones; `normalize` lower-cases and collapses whitespace."""

    @bentoml.api
    def analyze(self, text: str, top: int = 3) -> dict:
        if top < 1:
            raise InvalidArgument("top must be at least 1")  # answered as HTTP 400
        words = [w.lower() for w in WORD.findall(text)]
        counts = collections.Counter(words)
        return {
            "characters": len(text),
            "words": len(words),
            "distinct_words": len(counts),
            "top_words": [{"word": w, "count": n} for w, n in counts.most_common(top)],
        }

    @bentoml.api
    def normalize(self, text: str) -> str:
        return " ".join(text.lower().split())
