"""report.html of a real run, opened in headless Chromium as a reader opens it: it loads without
console errors, every figure loads, and the summary table is on the first screen (1280x800).
The screenshot stays under results/ci-artifacts/ for CI (git-ignored)."""

import shutil

from tests.support.browser import VIEWPORT, Chromium, console_errors
from tests.support.helpers import REPO
from tests.support.real_runs import baseline_runs  # noqa: F401  (the session fixture)

SCREENSHOT = REPO / "results" / "ci-artifacts" / "report.png"
SUMMARY_TABLE = "table#verdict-summary"

PAGE_FACTS = (
    """(() => {
  const table = document.querySelector('%s');
  const box = table && table.getBoundingClientRect();
  const style = table && getComputedStyle(table);
  return {
    images: [...document.images].map(i => ({src: i.getAttribute('src'), complete: i.complete, width: i.naturalWidth})),
    table: table && {top: box.top + window.scrollY, height: box.height, width: box.width,
                     shown: style.display !== 'none' && style.visibility !== 'hidden' && table.offsetParent !== null,
                     rows: table.rows.length},
    viewport: [window.innerWidth, window.innerHeight],
  };
})()"""
    % SUMMARY_TABLE
)


def test_report_reads_in_a_real_browser(baseline_runs, tmp_path):  # noqa: F811
    report = baseline_runs.results / "report.html"
    assert report.is_file()
    with Chromium(tmp_path / "chromium-profile") as browser:
        events = browser.open(report.as_uri())
        facts = browser.evaluate(PAGE_FACTS)
        browser.screenshot(tmp_path / "report.png")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp_path / "report.png", SCREENSHOT)  # the CI artifact, kept whether or not the checks pass

    assert facts["viewport"] == list(VIEWPORT)
    assert console_errors(events) == []
    assert facts["images"], "the report shows no figure"
    broken = [image["src"] for image in facts["images"] if not (image["complete"] and image["width"] > 0)]
    assert broken == [], f"images that did not load: {broken}"
    table = facts["table"]
    assert table is not None, f"the report has no {SUMMARY_TABLE} (the summary a reader looks for first)"
    assert table["shown"] and table["height"] > 0 and table["rows"] > 1, table
    assert 0 <= table["top"] < VIEWPORT[1], f"{SUMMARY_TABLE} starts at y={table['top']}, below the first screen"
