"""Interactive explorers for notebooks and the Voila dashboard (ipywidgets).

Three explorers, each a thin view over the library's public functions:

* :class:`ScenarioExplorer` - edit one scenario's calibrated estimates and watch
  its annual-loss distribution and loss exceedance curve move.
* :class:`PriorExplorer` - add or remove incidents and watch the posterior of
  the event rate and the loss exceedance curve update (exact Gamma-Poisson
  update, instant).
* :class:`BudgetExplorer` - the joint CIO/CISO view: split a budget between
  security controls and IT projects, toggle what is funded, and read the ALE,
  VaR95, TVaR95, expected net value, appetite status, the LEC against the
  tolerance curve and the plan's place on the efficient frontier.

Design
------
Every explorer keeps its computation in plain methods (``update()``,
``optimise()``...) and its last good view in ``values`` (raw numbers) and
``shown`` (the rounded strings on screen), so tests and benchmarks drive it by
setting ``.value`` on its controls, exactly as a person does, without a browser.
A value that makes no sense (a negative budget, a share above 100%, a 90%
interval with ``low > high``) shows a plain message in the widget and keeps the
last good view; no traceback reaches the screen.

Charts are matplotlib figures rendered off-screen to PNG into an
``ipywidgets.Image`` (no pyplot state, no Output widget), so a change redraws
in a few tens of milliseconds and the notebook's saved outputs stay stable.

This module imports ipywidgets and matplotlib at import time; ``import
riskbudget`` never imports it.

Examples
--------
>>> import riskbudget as rb
>>> from riskbudget.widgets import ScenarioExplorer
>>> ex = ScenarioExplorer(rb.read_register(rb.io.example_path()), years=2_000, seed=7)
>>> ex.estimates["primary_loss"]["high"].value = 24_000_000   # what a person types
>>> ex.shown["ALE"].startswith("$")
True
"""

from __future__ import annotations

from ._common import BEFORE, LIMIT, NOW, log  # noqa: F401 (module-level names of the single module)
from .budget import BudgetExplorer, Snapshot
from .prior import PriorExplorer, with_rate
from .scenario import ScenarioExplorer

__all__ = ["ScenarioExplorer", "PriorExplorer", "BudgetExplorer", "Snapshot", "with_rate"]
