"""The version of riskbudget, defined once.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``) and
``riskbudget.__version__`` (hence ``riskbudget --version``) imports it.
"""

__version__ = "0.1.0"
