#!/usr/bin/python3
"""The dashboard in a real headless Chromium (OBSERVABILITY.md, "The dashboard").

Run by a Swift end-to-end test that has started the real daemon and seeded
jobs. Reads from the environment:

  DASHBOARD_URL   the login URL, http://127.0.0.1:PORT/?token=HEX (sets the cookie, redirects to /)
  DASHBOARD_BASE  http://127.0.0.1:PORT: every request the page makes must start with it
  DASHBOARD_TOKEN the token, for this script's own API calls (bearer header)
  SCREENSHOT_DIR  where the screenshots go
  FAILED_JOB_ID   a failed job whose handler succeeds when retried

Steps: the overview shows the counts of /api/v1/stats; the jobs page filtered
by state=failed lists FAILED_JOB_ID; its page shows "failed"; Retry; the page
shows "succeeded" by its own polling, without a reload; no request went to
another host. Exit 0 on success; else prints expected vs seen, saves
failure.png and exits 1.

Needs Debian's python3-selenium (4.8), chromium and chromium-driver; run it
with /usr/bin/python3 (a pyenv or venv python does not see Debian's packages).
"""
import json
import os
import sys
import time
import traceback
import urllib.request

try:
    from selenium import webdriver
except ImportError:  # a python3 other than Debian's: look where apt put selenium
    sys.path.append("/usr/lib/python3/dist-packages")
    from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

URL = os.environ["DASHBOARD_URL"]
BASE = os.environ["DASHBOARD_BASE"].rstrip("/")
TOKEN = os.environ["DASHBOARD_TOKEN"]
SHOTS = os.environ.get("SCREENSHOT_DIR", ".")
FAILED_JOB_ID = os.environ["FAILED_JOB_ID"]
TERMINAL = ("succeeded", "failed", "cancelled")
SLOW = float(os.environ.get("DASHBOARD_TIMEOUT_SCALE", "4"))


class Failure(Exception):
    """A check that did not hold: what was expected, and what the page showed."""

    def __init__(self, what, expected, seen):
        super().__init__(f"{what}\n  expected: {expected}\n  seen:     {seen}")


def wait_for(what, expected, probe, timeout):
    """Polls probe() until it returns a truthy value; fails with the last value seen.

    probe returns (ok, seen): seen is what the failure message shows. The
    timeouts are stretched by SLOW (CI is a busy machine): a passing check
    returns as soon as it holds, so only a failure waits that long."""
    deadline = time.monotonic() + timeout * SLOW
    seen = None
    while True:
        try:
            ok, seen = probe()
            if ok:
                return seen
        except (StaleElementReferenceException, WebDriverException) as error:  # the page re-rendered mid-read
            seen = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        if time.monotonic() > deadline:
            raise Failure(what, expected, seen)
        time.sleep(0.2)


def api(path):
    """The daemon's own answer, read with the bearer header (not through the page)."""
    request = urllib.request.Request(f"{BASE}/api/v1{path}", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10 * SLOW) as response:
        return json.load(response)


def start_browser():
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


class Run:
    def __init__(self, driver):
        self.driver = driver
        self.requests = []  # every URL the page asked for, from the performance log
        self.js_errors = []

    def drain_logs(self):
        # get_log empties the buffer: keep what it returns.
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                self.requests.append(message["params"]["request"]["url"])
        for entry in self.driver.get_log("browser"):
            # An uncaught error, or something the server's Content-Security-Policy refused.
            if entry.get("level") == "SEVERE" and (entry.get("source") == "javascript" or "Content Security Policy" in entry.get("message", "")):
                self.js_errors.append(entry["message"])

    def shot(self, name):
        path = os.path.join(SHOTS, name)
        self.driver.save_screenshot(path)
        print(f"screenshot: {path}")

    def find(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css):
        for _ in range(5):
            found = self.find(css)
            try:
                return found[0].text.strip() if found else None
            except StaleElementReferenceException:
                continue  # the live view re-rendered it between the find and the read
        return None

    def click(self, css, what):
        """Clicks the element, finding it again if a poll re-rendered it in between."""
        def probe():
            found = self.find(css)
            if found:
                found[0].click()
            return bool(found), f"no element {css}"
        wait_for(what, css, probe, 10)

    def banner(self):
        found = self.find("#error-banner")
        return self.text("#error-message") if found and found[0].is_displayed() else None

    # ---- the steps

    def login_and_overview(self):
        self.driver.get(URL)
        wait_for("the login URL redirects to / without the token", f"{BASE}/ (no token in the URL)",
                 lambda: ("token=" not in self.driver.current_url and self.driver.current_url.startswith(BASE), self.driver.current_url), 10)
        csrf = self.driver.execute_script('return document.querySelector(\'meta[name="csrf-token"]\').content')
        if not csrf or csrf == "__CSRF_TOKEN__":
            raise Failure("the server fills in the CSRF token", "a token in <meta name=csrf-token>", repr(csrf))
        wait_for("the overview lists the queues", "at least one [data-testid=queue-row]",
                 lambda: (len(self.find('[data-testid="queue-row"]')) > 0, f"{len(self.find('[data-testid=queue-row]'))} rows, banner: {self.banner()}"), 10)

    def page_counts(self):
        counts = {}
        for row in self.find('[data-testid="queue-row"]'):
            queue = row.get_attribute("data-queue")
            cells = row.find_elements(By.CSS_SELECTOR, "[data-state-count]")
            # textContent, not .text: a cell scrolled out of its table's box has no "visible" text.
            counts[queue] = {c.get_attribute("data-state-count"): int(c.get_attribute("textContent").replace(",", "").strip() or 0) for c in cells}
        return counts

    def overview_matches_stats(self):
        def probe():
            stats = api("/stats")["queues"]
            shown = self.page_counts()
            expected = {q: {st: int(v.get(st, 0)) for st in TERMINAL} for q, v in stats.items()}
            seen = {q: {st: v.get(st) for st in TERMINAL} for q, v in shown.items()}
            # Counts of jobs still moving may differ by a poll; the seed keeps terminal counts still.
            return expected == seen, {"expected (stats)": expected, "seen (page)": seen}
        result = wait_for("the overview's per-queue terminal counts equal /api/v1/stats", "the same counts", probe, 10)
        # Every state the daemon counts has its cell on the page.
        stats = api("/stats")["queues"]
        for queue, values in stats.items():
            for state, value in values.items():
                if isinstance(value, int) and not isinstance(value, bool) and state != "concurrency":
                    cell = self.find(f'[data-testid="queue-row"][data-queue="{queue}"] [data-state-count="{state}"]')
                    if not cell:
                        raise Failure(f"queue {queue} shows a {state} count", "a [data-state-count] cell", "none")
        wait_for("the chart is drawn", "an <svg> in #chart with 60 bars",
                 lambda: (len(self.find('#chart svg [data-testid="chart-bar"]')) == 60, f"{len(self.find('#chart svg [data-testid=chart-bar]'))} bars"), 10)
        for card in ("#stat-workers", "#stat-version", "#stat-uptime"):
            if not self.text(card):
                raise Failure(f"the overview shows {card}", "text", self.text(card))
        print(f"overview counts match stats: {result['seen (page)']}")
        self.shot("overview.png")

    def failed_jobs(self):
        self.click('[data-nav="jobs"]', "the nav links to the jobs page")
        wait_for("the jobs page opens", "#filter-state", lambda: (bool(self.find("#filter-state")), self.driver.current_url), 10)
        Select(self.find("#filter-state")[0]).select_by_value("failed")

        def probe():
            rows = self.find('[data-testid="job-row"]')
            states = sorted({r.get_attribute("data-state") for r in rows})
            ids = [r.get_attribute("data-job-id") for r in rows]
            return (FAILED_JOB_ID in ids and states == ["failed"]), {"ids": ids[:20], "states": states, "banner": self.banner()}
        wait_for(f"filtered by state=failed, the list shows job {FAILED_JOB_ID} and only failed jobs",
                 f"a row with data-job-id={FAILED_JOB_ID}, every row failed", probe, 10)
        if "state=failed" not in self.driver.current_url:
            raise Failure("the filter is in the URL", "#/jobs?state=failed", self.driver.current_url)
        self.shot("jobs-failed.png")
        self.click(f'[data-testid="job-row"][data-job-id="{FAILED_JOB_ID}"]', f"job {FAILED_JOB_ID}'s row opens it")

    def retry_job(self):
        wait_for(f"job {FAILED_JOB_ID}'s page shows its state", "failed",
                 lambda: (self.text("#job-state") == "failed", {"state": self.text("#job-state"), "url": self.driver.current_url, "banner": self.banner()}), 10)
        if self.find("#action-cancel"):
            raise Failure("a failed job offers no Cancel", "no #action-cancel", "a Cancel button")
        if not self.find("#job-payload"):
            raise Failure("the job page shows the payload", "#job-payload", "none")
        # The marker survives only if the page is never reloaded: the test sees live polling.
        self.driver.execute_script("window.__noReload = true")
        self.click("#action-retry", "the job page offers Retry")
        seen_states = []

        def probe():
            state = self.text("#job-state")
            if not seen_states or seen_states[-1] != state:
                seen_states.append(state)
            return state == "succeeded", {"states seen": seen_states, "banner": self.banner()}
        wait_for("after Retry the page shows the job succeeded, by its own polling", "succeeded", probe, 20)
        if self.driver.execute_script("return window.__noReload") is not True:
            raise Failure("the job page updated without a reload", "window.__noReload still set", "the page was reloaded")
        if self.find("#action-cancel") or self.find("#action-retry"):
            raise Failure("a succeeded job offers no action", "neither Retry nor Cancel",
                          [b.text for b in self.find(".actions button")])
        print(f"job {FAILED_JOB_ID}: states seen after Retry: {' -> '.join(map(str, seen_states))}")
        self.shot("job.png")

    def narrow_overview(self):
        self.driver.set_window_size(360, 800)
        # The window may keep a minimum width: emulate the phone's viewport exactly.
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 360, "height": 800, "deviceScaleFactor": 1, "mobile": True})
        self.driver.get(f"{BASE}/")  # a fresh load, laid out at this width from the start
        wait_for("the overview at 360 px lists the queues", "queue rows",
                 lambda: (len(self.find('[data-testid="queue-row"]')) > 0 and len(self.find("#chart svg")) > 0, self.banner()), 10)
        width = self.driver.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]")
        if width[1] > width[0]:
            raise Failure("at 360 px the page does not scroll sideways (tables scroll in their box)",
                          f"scrollWidth <= {width[0]}", f"scrollWidth {width[1]}")
        self.shot("overview-360.png")

    def no_foreign_requests(self):
        self.drain_logs()
        foreign = [u for u in self.requests if not (u.startswith(BASE + "/") or u == BASE or u.startswith(("data:", "about:")))]
        if foreign:
            raise Failure("every request stays on the dashboard's origin", f"URLs starting with {BASE}", foreign)
        if not self.requests:
            raise Failure("the performance log recorded the page's requests", "some requests", "none")
        if self.js_errors:
            raise Failure("no JavaScript error and no CSP refusal", "none", self.js_errors)
        print(f"{len(self.requests)} requests, all to {BASE}")


def main():
    os.makedirs(SHOTS, exist_ok=True)
    driver = start_browser()
    run = Run(driver)
    try:
        run.login_and_overview()
        run.overview_matches_stats()
        run.failed_jobs()
        run.retry_job()
        run.narrow_overview()
        run.no_foreign_requests()
        print("dashboard test passed")
        return 0
    except Exception as error:  # report anything, then fail
        print("dashboard test FAILED:", file=sys.stderr)
        print(error if isinstance(error, Failure) else traceback.format_exc(), file=sys.stderr)
        try:
            print(f"  at: {driver.current_url}; banner: {run.banner()}", file=sys.stderr)
            run.shot("failure.png")
        except WebDriverException:
            pass
        return 1
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
