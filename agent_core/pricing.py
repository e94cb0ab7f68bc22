"""The price table: token usage -> USD, from an editable YAML file (``agent_core/prices.yaml``).

A model is looked up exactly, then with a date or ``-latest`` suffix removed
(``claude-sonnet-4-5-20250929`` -> ``claude-sonnet-4-5``). An unknown model is not guessed:
``price`` answers ``(0.0, False)`` and the event records ``priced: false``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from agent_core.errors import ConfigError
from agent_core.events import CostRecorded, Usage

DEFAULT_PRICES_PATH = Path(__file__).resolve().parent / "prices.yaml"
_VERSION_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$")


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens."""

    input_per_mtok: float
    output_per_mtok: float


class PriceTable:
    """Per-model prices; build it from a mapping or ``PriceTable.load(path)``."""

    def __init__(self, prices: Mapping[str, ModelPrice]) -> None:
        self._prices = dict(prices)

    @classmethod
    def load(cls, path: Path) -> PriceTable:
        """Read ``models: {name: {input: USD/Mtok, output: USD/Mtok}}``; a malformed file is a ``ConfigError``."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as error:
            raise ConfigError(f"cannot read the price table {str(path)!r}: {error.strerror}") from error
        except yaml.YAMLError as error:
            raise ConfigError(f"the price table {str(path)!r} is not valid YAML: {error}") from error
        models = data.get("models") if isinstance(data, dict) else None
        if not isinstance(models, dict):
            raise ConfigError(f"the price table {str(path)!r} needs a top-level 'models:' mapping")
        prices: dict[str, ModelPrice] = {}
        for name, entry in models.items():
            try:
                prices[str(name)] = ModelPrice(float(entry["input"]), float(entry["output"]))
            except (TypeError, KeyError, ValueError) as error:
                raise ConfigError(
                    f"price table {str(path)!r}, model {name!r}: expected {{input: number, output: number}} "
                    "in USD per million tokens"
                ) from error
        return cls(prices)

    def lookup(self, model: str) -> ModelPrice | None:
        """The model's price: an exact match, else the name without a trailing date or ``-latest``."""
        if model in self._prices:
            return self._prices[model]
        return self._prices.get(_VERSION_SUFFIX.sub("", model))

    def cost_event(self, source: str, model: str, usage: Usage, spent_usd: float) -> CostRecorded:
        """The ``CostRecorded`` for one answer, its running total carried on from ``spent_usd``."""
        usd, priced = self.price(model, usage)
        return CostRecorded(
            source=source,
            model=model,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            usd=usd,
            total_usd=round(spent_usd + usd, 6),
            priced=priced,
        )

    def price(self, model: str, usage: Usage) -> tuple[float, bool]:
        """(USD, priced): priced is False for a model the table does not know (its cost is then 0)."""
        if usage.input_tokens == 0 and usage.output_tokens == 0:
            return 0.0, True
        entry = self.lookup(model)
        if entry is None:
            return 0.0, False
        usd = (usage.input_tokens * entry.input_per_mtok + usage.output_tokens * entry.output_per_mtok) / 1_000_000
        return round(usd, 8), True

    def models(self) -> list[str]:
        """The priced model names, sorted."""
        return sorted(self._prices)


def default_prices() -> PriceTable:
    """The shipped table (``agent_core/prices.yaml``)."""
    return PriceTable.load(DEFAULT_PRICES_PATH)
