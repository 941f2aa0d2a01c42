"""The flags page's load in a real browser, for bench/ui.py: Debian's chromium, headless, driven
through chromedriver as tests/bot/test_dashboard.py drives it; each load timed by the browser
itself, from navigation start to the end of the load event (the Navigation Timing entry)."""

from __future__ import annotations

import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

__all__ = ["browser_loads"]

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if Path(p).exists()), "")
DRIVER = "/usr/bin/chromedriver"
_LOADED = """const e = performance.getEntriesByType('navigation')[0];
return e && e.loadEventEnd > 0 ? [e.loadEventEnd - e.startTime, e.transferSize, e.encodedBodySize] : null;"""


def browser_loads(signin_url: str, page_url: str, rounds: int) -> tuple[list[float], int]:
    """Sign in through ``signin_url``, then load ``page_url`` ``rounds`` times: each load's time
    (ms) and the body's size as it came over the wire (bytes, compressed)."""
    assert CHROMIUM and Path(DRIVER).exists(), "install Debian's chromium and chromium-driver (.ci/run does)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.get(signin_url)  # the link's page: its button signs in (the session cookie), then the flags page
        driver.find_element(By.CSS_SELECTOR, "form[action='/ui/signin'] button").click()
        driver.get(page_url)  # warm: the first navigation of a new browser is not the page's cost
        times, size = [], 0
        for _ in range(rounds):
            driver.get(page_url)
            deadline = time.monotonic() + 30
            while (entry := driver.execute_script(_LOADED)) is None:
                assert time.monotonic() < deadline, "the page did not finish loading"
                time.sleep(0.01)
            times.append(float(entry[0]))
            size = int(entry[2])
        return times, size
    finally:
        driver.quit()
