"""When content first shows, timed inside the page (the browser's own clock), not by Playwright's polling.

Playwright's ``locator.wait_for`` re-checks the page on a backing-off schedule (0, 20, 50, 100, 100,
then every 500 ms), so after the first ~0.3 s it notices an element up to half a second after it was
drawn. Measured on an empty Streamlit page, the same 15 loads: Playwright 948 ms median (bimodal,
~0.55 s or ~1.0 s), in-page 612 ms. A bench that times what a person waits for must not add that.

Here a script checks a condition on every animation frame (from the document's creation, or from
a click's pointerdown) and stores ``performance.now()`` of the first frame it holds; Playwright only
waits for that value to exist. Conditions are small JavaScript expressions over the helpers below:
``sel(css)`` (an element matching ``css`` has a box), ``text(s)`` (a laid-out text node contains
``s``), ``button(s)`` (a button whose text contains ``s`` has a box).
"""

from __future__ import annotations

from playwright.sync_api import Locator, Page

TIMEOUT_MS = 60_000

_HELPERS = """
const __box = el => !!el && el.getClientRects().length > 0;
const sel = css => Array.from(document.querySelectorAll(css)).some(__box);
const button = s => Array.from(document.querySelectorAll('button')).some(b => __box(b) && b.textContent.includes(s));
const text = s => {
  if (!document.body) return false;
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (n.nodeValue.includes(s) && __box(n.parentElement)) return true;
  }
  return false;
};
"""

_WATCH = """
window.__shownAt = undefined;
const __holds = () => { try { return !!(%s); } catch (e) { return false; } };
const __tick = () => {
  if (window.__shownAt !== undefined) return;
  if (__holds()) { window.__shownAt = performance.now(); return; }
  requestAnimationFrame(__tick);
};
"""


def watch_load(page: Page, condition: str) -> None:
    """Before ``page.goto``: time navigation start (0 on the page's clock) to the first frame ``condition`` holds."""
    page.add_init_script(_HELPERS + _WATCH % condition + "requestAnimationFrame(__tick);")


def shown_after_load(page: Page) -> float:
    """Seconds from navigation start to the content (after ``watch_load`` and ``page.goto``)."""
    page.wait_for_function("window.__shownAt !== undefined", timeout=TIMEOUT_MS)
    return float(page.evaluate("window.__shownAt")) / 1000


def click_until(page: Page, target: Locator, condition: str) -> float:
    """Click ``target``: seconds from its pointerdown (the event's timestamp) to the first frame ``condition`` holds."""
    page.evaluate(
        "(source) => {"
        "  window.__clickAt = undefined; window.__shownAt = undefined;"
        "  document.addEventListener('pointerdown', (e) => {"
        "    window.__clickAt = e.timeStamp;"
        "    (0, eval)(source + 'requestAnimationFrame(__tick);');"
        "  }, {capture: true, once: true});"
        "}",
        _HELPERS + _WATCH % condition,
    )
    target.click()
    page.wait_for_function("window.__shownAt !== undefined", timeout=TIMEOUT_MS)
    return float(page.evaluate("window.__shownAt - window.__clickAt")) / 1000
