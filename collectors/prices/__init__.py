"""Machine prices: refreshed over HTTP from declared sources, appended to a history, never lost.

- `refresh.refresh(...)`: `costperf prices refresh`; `refresh.add_manual(...)`: `costperf prices add`.
- `history.price_history(machine)` / `history.price_as_of(machine, date, kind)`: for the report.
- `sources.READERS`: source kinds (json_url, vastai); `http`: the careful HTTP session.

Importing this package imports neither requests nor pandas; the submodules do what they need.
"""

from collectors.prices.history import latest_price, price_as_of, price_history

__all__ = ["latest_price", "price_as_of", "price_history"]
