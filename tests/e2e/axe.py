"""axe-core, the accessibility checker, run inside a page of the real browser (WCAG 2.1 A and AA
rules and axe's best practices). The script comes from the npm registry through the repository's
`package.json` (`npm ci`); without it the checks skip with the reason, except on CI, where they fail.

The script is evaluated through the browser's debugging protocol, which the page's Content-Security-
Policy does not govern: the page itself is checked as served, CSP and all."""

from __future__ import annotations

from functools import cache
from typing import Any

from tests.e2e.conftest import REPO, skip_or_fail

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      nodes: v.nodes.map(n => n.target.join(" "))}));
}"""


@cache
def _script() -> str:
    if not AXE.exists():
        skip_or_fail(f"axe-core is not installed: run `npm ci` in the repository ({AXE} is missing)")
    return AXE.read_text(encoding="utf-8")


def assert_accessible(page: Any) -> None:
    """No axe-core violation on the page as it now stands."""
    page.evaluate(_script())
    violations = page.evaluate(_RUN)
    assert violations == [], f"axe-core on {page.url}: {violations}"
