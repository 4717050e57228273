"""The report in a real browser: headless Chromium (Debian's package) renders it at 1400 px; the
screenshot is not blank and nothing on the page overflows its width."""

import os
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from hpo.cli import cli

WIDTH = 1400


def chromium() -> str:
    found = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if found is None:
        why = "no chromium here (Debian: apt-get install chromium)"
        if "chromium" in os.environ.get("HPO_TEST_REQUIRE", "").split(","):
            pytest.fail(f"{why}, but HPO_TEST_REQUIRE says it must be tested here")
        pytest.skip(why)
    return found


def browse(tmp_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={WIDTH},2400", *args],
        capture_output=True, text=True, timeout=120)


# added to a copy of the report only: the report itself has no script
MEASURE = """<script>
const inner = document.documentElement.clientWidth;
const wide = [...document.querySelectorAll('body *')].filter(el => {
  if (el.closest('.scroll')) return false;  // a table scrolls inside its own box
  return el.getBoundingClientRect().right > inner + 1;
}).map(el => el.tagName + (el.id ? '#' + el.id : ''));
document.body.setAttribute('data-page-width', document.documentElement.scrollWidth + '/' + inner);
document.body.setAttribute('data-too-wide', wide.slice(0, 5).join(' '));
</script>"""


@pytest.fixture(scope="module")
def report(logged, tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "hb.html"
    result = CliRunner().invoke(cli, ["report", "hb", "-o", str(out)], env={"HPO_DB": str(logged["db"])})
    assert result.exit_code == 0, result.output
    return out


def test_the_screenshot_at_1400_px_is_not_blank(report, tmp_path):
    from matplotlib import image

    shot = tmp_path / "report.png"
    proc = browse(tmp_path, f"--screenshot={shot}", report.as_uri())
    assert shot.exists(), proc.stderr[-2000:]
    pixels = image.imread(str(shot))[:, :, :3]
    assert pixels.shape[1] == WIDTH
    inked = (pixels.sum(axis=2) < 2.9).mean()  # not white
    assert inked > 0.03, f"only {inked:.1%} of the page is drawn"
    colours = {tuple(p) for p in (pixels[::7, ::7] * 255).astype(int).reshape(-1, 3)}
    assert len(colours) > 50  # charts, not a page of text only


def test_nothing_overflows_the_page(report, tmp_path):
    measured = tmp_path / "measured.html"
    measured.write_text(report.read_text().replace("</body>", MEASURE + "</body>"))
    proc = browse(tmp_path, "--dump-dom", measured.as_uri())
    body = re.search(r"<body([^>]*)>", proc.stdout)
    assert body, proc.stderr[-2000:]
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))
    scroll, inner = map(int, attrs["data-page-width"].split("/"))
    assert scroll <= inner, f"the page is {scroll} px wide in a {inner} px window"
    assert attrs["data-too-wide"] == ""
