"""The web client (web/, served by the local gateway at /) driven in headless Chromium.

Two people sign up in two browsers; A follows B by handle; B posts a picture (a PNG made here)
through the page's upload flow (upload form, the file straight to the emulator's S3, the media
processor's verdict); A's home timeline shows B's post with the picture, once fan-out has
carried it (bounded wait, no fixed sleeps); A reposts it. Then A's access token goes bad and the
page refreshes it on the API's 401 and retries, without signing A out.

Then, as a person uses it (issue 26): A replies to B's post from the timeline ("Replying to
@B"), opens its page (#/post/<id>: the post, its replies oldest first) and the reply's page
(the post it answers above it, linked, to climb back up); likes it, and after a reload the
like and the repost are still shown, and A's own repost is in A's timeline. On B's profile A
blocks B (asked first), sees the posts hidden and the sidebar updated, and unblocks; mutes and
unmutes. A posts and deletes a post (asked first; the API no longer has it), and a post the API
refuses says the API's own reason. Each page is shot; with DOC_SCREENSHOTS=1 the timeline and a
thread are also written, small, to docs/images/ for the README.

A link to the real page naming another server as its API (`?api=`, issue 22) gets nothing
from the person who signs in there: the page keeps to its own API, and its policy lets no
request or image reach the other server (a local one here, which records what it gets).

Chromium and its driver come from Debian's packages (`chromium`, `chromium-driver`; .ci/run
installs them). Selenium is given both paths, so Selenium Manager never downloads anything.
Screenshots go to tests/e2e/artifacts/.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import requests
from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import WAIT

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,1000")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DOC_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
DOC_WIDTH = 960  # the README's copies: scaled to this width, 256 colours
UI_WAIT = 15.0  # one step of the page (a request or two, an upload and its check)
PASSWORD = "web-client-pass-1"


# ---------------------------------------------------------------- the browser
@pytest.fixture(scope="module")
def chromium() -> tuple[str, str]:
    """Debian's Chromium and chromedriver, or a failure saying how to get them (never a skip:
    CI installs them, so their absence is a broken machine, not an optional test)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not (p.is_file() and os.access(p, os.X_OK))]
    if missing:
        pytest.fail(f"headless Chromium is needed for the web client test, missing: {', '.join(missing)}; "
                    "install Debian's packages: apt-get install -y chromium chromium-driver (.ci/run does)",
                    pytrace=False)
    return str(CHROMIUM), str(CHROMEDRIVER)


@pytest.fixture()
def browsers(chromium, request):
    """A factory of fresh browsers (each its own profile, so its own session); all are shot and
    closed at the end, pass or fail."""
    opened: list[tuple[str, WebDriver]] = []
    profiles: list[tempfile.TemporaryDirectory] = []

    def open_browser(name: str) -> WebDriver:
        profile = tempfile.TemporaryDirectory(prefix="web-client-chromium-")
        profiles.append(profile)
        options = webdriver.ChromeOptions()
        options.binary_location = chromium[0]
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile.name}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(executable_path=chromium[1]), options=options)
        driver.set_page_load_timeout(UI_WAIT)
        opened.append((name, driver))
        return driver

    yield open_browser
    ARTIFACTS.mkdir(exist_ok=True)
    for name, driver in opened:
        try:
            driver.save_screenshot(str(ARTIFACTS / f"{request.node.name}-{name}-last.png"))
            errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            if errors:
                print(f"browser {name} console errors:\n  " + "\n  ".join(errors))
        except WebDriverException:
            pass
        driver.quit()
    for profile in profiles:
        profile.cleanup()


def wait_for(driver: WebDriver, what: str, check: Callable[[WebDriver], object], timeout: float = UI_WAIT):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)).until(check)
    except TimeoutException:
        toasts = [t.text for t in driver.find_elements(By.CSS_SELECTOR, ".toast")]
        errors = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".form-error, .feed-error") if e.text]
        pytest.fail(f"the page did not show {what} within {timeout:.0f}s (messages: {toasts + errors})")


def shown(css: str) -> Callable[[WebDriver], WebElement | bool]:
    def check(driver: WebDriver):
        found = [e for e in driver.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]
        return found[0] if found else False
    return check


def shot(driver: WebDriver, name: str, doc: str | None = None) -> None:
    """A screenshot to the artifacts; with DOC_SCREENSHOTS=1, a small copy as docs/images/<doc>."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"web_client_{name}.png"
    driver.save_screenshot(str(path))
    if doc and os.environ.get("DOC_SCREENSHOTS") == "1":
        driver.execute_script("document.getElementById('toasts').replaceChildren()")  # the page, not the news
        driver.save_screenshot(str(path))
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        image = Image.open(path).convert("RGB")
        small = image.resize((DOC_WIDTH, round(image.height * DOC_WIDTH / image.width)), Image.Resampling.LANCZOS)
        small.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(DOC_IMAGES / doc, optimize=True)


def toast_saying(text: str) -> Callable[[WebDriver], WebElement | bool]:
    def check(driver: WebDriver):
        found = [t for t in driver.find_elements(By.CSS_SELECTOR, ".toast") if text in t.text]
        return found[0] if found else False
    return check


def pressed(element: WebElement, css: str, value: bool) -> Callable[[WebDriver], bool]:
    """The toggle `css` inside `element` says aria-pressed=value."""
    return lambda d: element.find_element(By.CSS_SELECTOR, css).get_attribute("aria-pressed") == str(value).lower()


def count_of(element: WebElement, kind: str) -> str:
    return element.find_element(By.CSS_SELECTOR, f".act-{kind} .act-count").get_attribute("textContent")


def confirm(driver: WebDriver, button_text: str) -> None:
    """Answer the page's confirmation dialog with its confirming button."""
    dialog = wait_for(driver, "the confirmation dialog", shown("dialog[open]"))
    yes = dialog.find_element(By.ID, "confirm-yes")
    assert yes.text == button_text, yes.text
    yes.click()
    wait_for(driver, "the dialog closed", lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))


def focus_post(driver: WebDriver, tweet_id: str) -> WebElement:
    return wait_for(driver, f"the page of post {tweet_id}",
                    shown(f'.page-thread .thread-focus article.post[data-id="{tweet_id}"]'))


# ---------------------------------------------------------------- what a person does
def sign_up(driver: WebDriver, url: str, handle: str, name: str) -> None:
    driver.get(url + "/")
    wait_for(driver, "the sign-in form", shown("#tab-signup"))
    # served from this machine: the sign-in card names the demo login (infra/console/seed.py)
    note = driver.find_element(By.ID, "demo-login").text
    assert "demo" in note and "demo-password-1" in note, note
    driver.find_element(By.ID, "tab-signup").click()
    driver.find_element(By.ID, "signup-name").send_keys(name)
    driver.find_element(By.ID, "signup-handle").send_keys(handle)
    driver.find_element(By.ID, "signup-password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "#signup-form button[type=submit]").click()
    wait_for(driver, "the composer after signing up", shown("#composer"))
    assert driver.find_element(By.CSS_SELECTOR, ".session-me span:last-child").text == f"@{handle}"


def follow(driver: WebDriver, handle: str) -> None:
    box = driver.find_element(By.ID, "find-handle")
    box.send_keys(handle, Keys.ENTER)
    wait_for(driver, f"@{handle} found", shown(f'#find-result .follow-button[data-handle="{handle}"]')).click()
    wait_for(driver, f"@{handle} followed", shown(f'#following-list .user-row[data-handle="{handle}"]'))
    button = driver.find_element(By.CSS_SELECTOR, f'#find-result .follow-button[data-handle="{handle}"]')
    assert button.get_attribute("aria-pressed") == "true"


def picture_file(directory: Path) -> Path:
    gradient = Image.linear_gradient("L").resize((320, 200))
    image = Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                                Image.new("L", (320, 200), 200)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    path = directory / "sunrise.png"
    path.write_bytes(buffer.getvalue())
    return path


def post_with_picture(driver: WebDriver, text: str, picture: Path) -> WebElement:
    driver.find_element(By.ID, "compose-text").send_keys(text)
    driver.find_element(By.ID, "compose-files").send_keys(str(picture))
    wait_for(driver, "the picture checked by the media processor", shown(".thumb[data-media-id]"))
    submit = wait_for(driver, "the post button enabled",
                      lambda d: (b := d.find_element(By.ID, "compose-submit")).is_enabled() and b)
    submit.click()
    return wait_for(driver, "the new post on top of the author's timeline", post_card(text))


def image_fits(driver: WebDriver, card: WebElement) -> None:
    """The card's one image keeps its aspect ratio and is not drawn larger than it is."""
    natural_w, natural_h, shown_w, shown_h = driver.execute_script(
        "const i = arguments[0].querySelector('.media-grid img');"
        "return [i.naturalWidth, i.naturalHeight, i.getBoundingClientRect().width, i.getBoundingClientRect().height]",
        card)
    assert shown_w <= natural_w + 0.5 and shown_h <= natural_h + 0.5, (natural_w, natural_h, shown_w, shown_h)
    assert abs(shown_w / shown_h - natural_w / natural_h) < 0.02, (natural_w, natural_h, shown_w, shown_h)


def post_card(text: str) -> Callable[[WebDriver], WebElement | bool]:
    def check(driver: WebDriver):
        for card in driver.find_elements(By.CSS_SELECTOR, "article.post"):
            if text in card.find_element(By.CSS_SELECTOR, ".post-main").text:
                return card
        return False
    return check


def images_loaded(driver: WebDriver, card: WebElement) -> int:
    """How many of the card's images the browser fetched and decoded."""
    return driver.execute_script(
        "return [...arguments[0].querySelectorAll('.media-grid img')]"
        ".filter(i => i.complete && i.naturalWidth > 0).length", card)


def in_home_timeline(text: str) -> Callable[[WebDriver], WebElement | bool]:
    """The post once fan-out has written it to the reader's timeline: reload the feed (the
    Refresh button) until it shows, at most once a second."""
    last = [0.0]

    def check(driver: WebDriver):
        card = post_card(text)(driver)
        if card:
            return card
        if time.monotonic() - last[0] > 1.0 and driver.find_element(By.CSS_SELECTOR, ".feed").get_attribute(
                "aria-busy") == "false":
            last[0] = time.monotonic()
            driver.find_element(By.ID, "refresh").click()
        return False
    return check


# ---------------------------------------------------------------- the test
def test_two_people_follow_post_a_picture_read_it_and_the_token_is_refreshed(local_stack, browsers, tmp_path):
    url = local_stack.url
    suffix = f"{os.getpid() % 1000}{int(time.time()) % 1000}"
    reader, author = f"ann{suffix}", f"bob{suffix}"
    text = f"Sunrise over the bay, from {author}"

    # Given two people who sign up in the page, each in their own browser
    a, b = browsers("reader"), browsers("author")
    sign_up(a, url, reader, "Ann Reader")
    sign_up(b, url, author, "Bob Author")

    # When A follows B by handle
    follow(a, author)

    # And B posts a picture (upload form, S3, the processor's verdict, then the post)
    own = post_with_picture(b, text, picture_file(tmp_path))
    wait_for(b, "the picture in the author's own post", lambda d: images_loaded(d, own) == 1)
    image_fits(b, own)
    # B has a follower, so the toast may say they see it
    wait_for(b, "the toast saying B's followers see it", toast_saying("Your followers see it in a moment"))
    shot(b, "author")

    # Then A's home timeline shows B's post with its picture, once fan-out has carried it
    card = wait_for(a, "B's post in A's home timeline", in_home_timeline(text), timeout=WAIT)
    assert card.get_attribute("data-author") == author
    tweet_id = card.get_attribute("data-id")
    wait_for(a, "the picture loaded from the timeline's URL", lambda d: images_loaded(d, card) == 1)
    src = card.find_element(By.CSS_SELECTOR, ".media-grid img").get_attribute("src")
    assert "X-Amz-Signature=" in src, src  # a presigned URL from the timeline, not the local file
    image_fits(a, card)

    # And A can repost it: the button says so, and A's repost is on top of A's timeline at once
    card.find_element(By.CSS_SELECTOR, ".act-repost").click()
    wait_for(a, "the repost acknowledged", pressed(card, ".act-repost", True))
    mine = wait_for(a, "A's own repost on top of A's timeline", shown(f'article.post[data-id="{tweet_id}"][data-reposted-by-me]'))
    said = " ".join(mine.find_element(By.CSS_SELECTOR, ".post-repost-line").text.split())
    assert said.startswith("You reposted"), said
    wait_for(a, "the repost counted", lambda d: count_of(card, "repost") == "1")
    shot(a, "home")

    # When A's access token stops being valid (tampered signature) and the page is opened again
    key = f"timeline.session:{url}"
    tampered = a.execute_script(
        "const s = JSON.parse(localStorage.getItem(arguments[0]));"
        "s.access = s.access.slice(0, -4) + (s.access.endsWith('AAAA') ? 'BBBB' : 'AAAA');"
        "localStorage.setItem(arguments[0], JSON.stringify(s)); return s.access;", key)
    log_mark = len(local_stack.lines)
    a.get(url + "/")

    # Then the page gets a 401, refreshes the token once, retries, and A stays signed in
    wait_for(a, "the timeline again after the token refresh", post_card(text))
    fresh = a.execute_script("return JSON.parse(localStorage.getItem(arguments[0])).access", key)
    assert fresh and fresh != tampered
    assert not a.find_elements(By.ID, "signin-form")
    log = "\n".join(local_stack.lines[log_mark:])
    assert "signature does not verify" in log and "POST /v1/auth/refresh 200" in log, log

    # And after that reload the page still says A reposted it (the timeline shows a post once:
    # the post itself, or A's repost of it when the post is older than the read's window)
    for each in a.find_elements(By.CSS_SELECTOR, f'article.post[data-id="{tweet_id}"]'):
        wait_for(a, "the repost after the reload", pressed(each, ".act-repost", True))

    read_a_thread(a, url, author, tweet_id, text)
    block_and_unblock(a, reader, author, text)
    post_delete_and_be_refused(a, url, key, suffix)


def read_a_thread(a: WebDriver, url: str, author: str, tweet_id: str, text: str) -> None:
    """A replies from the timeline, reads the post's page and the reply's, climbs back, likes
    the post, and after a reload the like and the repost are still shown."""
    card = wait_for(a, "B's post in A's timeline", shown(f'article.post[data-id="{tweet_id}"]:not([data-reposted-by-me])'))
    reply_text = f"What a light! ({author}, where is that?)"

    # When A replies to it from the timeline: the composer says whom the reply answers
    card.find_element(By.CSS_SELECTOR, ".act-reply").click()
    box = wait_for(a, "the reply composer under the post", lambda d: card.find_element(By.CSS_SELECTOR, ".reply-composer"))
    whom = box.find_element(By.CSS_SELECTOR, ".composer-replying a")
    assert whom.text == f"@{author}" and whom.get_attribute("href").endswith(f"#/u/{author}")
    box.find_element(By.CSS_SELECTOR, "textarea").send_keys(reply_text)
    box.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(a, "the reply acknowledged", toast_saying("Reply posted."))
    # And the reply is on top of A's timeline, saying whom it answers, linked to the post
    mine = wait_for(a, "A's reply on top of A's timeline", post_card(reply_text))
    note = mine.find_element(By.CSS_SELECTOR, ".post-reply-note")
    assert note.find_element(By.CSS_SELECTOR, ".reply-to-handle").text == f"@{author}"
    assert note.find_element(By.CSS_SELECTOR, ".reply-to-post").get_attribute("href").endswith(f"#/post/{tweet_id}")
    wait_for(a, "the reply counted", lambda d: count_of(card, "reply") == "1")

    # Then the post's page shows the post and, below it, the reply (replies oldest first)
    card.find_element(By.CSS_SELECTOR, ".post-time").click()
    focus = focus_post(a, tweet_id)
    assert text in focus.text
    assert a.find_element(By.CSS_SELECTOR, ".thread-reply .composer-replying a").text == f"@{author}"
    # the sidebar's list of whom A follows is drawn on this view too, not left spinning
    wait_for(a, "the following list on the post's page", shown(f'#following-list .user-row[data-handle="{author}"]'))
    assert not a.find_elements(By.CSS_SELECTOR, "#following-list .spinner")
    reply = wait_for(a, "the reply on the post's page", lambda d: next(
        (r for r in d.find_elements(By.CSS_SELECTOR, ".replies-list article.post") if reply_text in r.text), False))
    reply_id = reply.get_attribute("data-id")
    note = reply.find_element(By.CSS_SELECTOR, ".post-reply-note")
    assert note.find_element(By.CSS_SELECTOR, ".reply-to-handle").text == f"@{author}"
    shot(a, "thread", doc="web-thread.png")

    # When A opens the reply's own page: the post it answers is above it, linked
    reply.find_element(By.CSS_SELECTOR, ".post-time").click()
    focus_post(a, reply_id)
    parent = wait_for(a, "the post the reply answers", shown(f'.thread-parent article.post[data-id="{tweet_id}"]'))
    assert text in parent.text
    shot(a, "thread_reply")

    # And climbs back up to it
    a.find_element(By.CSS_SELECTOR, ".thread-up").click()
    focus = focus_post(a, tweet_id)

    # When A likes the post: at once, then as the API answers
    focus.find_element(By.CSS_SELECTOR, ".act-like").click()
    wait_for(a, "the like shown", pressed(focus, ".act-like", True))
    wait_for(a, "the like counted", lambda d: count_of(focus, "like") == "1")
    assert not a.find_elements(By.CSS_SELECTOR, ".toast-error"), [t.text for t in a.find_elements(By.CSS_SELECTOR, ".toast")]

    # Then after a reload the post's page still says A liked and reposted it
    a.refresh()
    focus = focus_post(a, tweet_id)
    wait_for(a, "the like after a reload", pressed(focus, ".act-like", True))
    assert focus.find_element(By.CSS_SELECTOR, ".act-repost").get_attribute("aria-pressed") == "true"
    assert count_of(focus, "like") == "1"
    a.get(url + "/#/")
    wait_for(a, "the home timeline", post_card(text))
    shot(a, "home_after_reload", doc="web-timeline.png")


def block_and_unblock(a: WebDriver, reader: str, author: str, text: str) -> None:
    """On B's profile A blocks B (asked first): the posts are hidden and A no longer follows
    B; then unblocks, and mutes and unmutes."""
    a.find_element(By.CSS_SELECTOR, f'article.post[data-author="{author}"] .post-name').click()
    wait_for(a, "B's profile", lambda d: f"@{author}" in d.find_element(By.CSS_SELECTOR, ".profile-card").text)
    wait_for(a, "B's posts on the profile", post_card(text))
    profile = a.find_element(By.CSS_SELECTOR, ".profile-card")
    assert profile.find_element(By.CSS_SELECTOR, ".follow-button").get_attribute("aria-pressed") == "true"
    shot(a, "profile")

    # Its lists: B's followers (A) and whom B follows (nobody, which the page says)
    a.find_element(By.CSS_SELECTOR, '.profile-tab[href$="/followers"]').click()
    wait_for(a, "B's followers", shown(f'.people-list .user-row[data-handle="{reader}"]'))
    a.find_element(By.CSS_SELECTOR, '.profile-tab[href$="/following"]').click()
    wait_for(a, "whom B follows: nobody", lambda d: "follows nobody yet" in d.find_element(By.CSS_SELECTOR, ".people-card").text)
    a.find_element(By.CSS_SELECTOR, ".profile-tab:first-child").click()
    wait_for(a, "B's posts again", post_card(text))

    # When A blocks B, confirming in the dialog
    a.find_element(By.CSS_SELECTOR, ".profile-block").click()
    confirm(a, "Block")
    wait_for(a, "the block shown", lambda d: d.find_element(By.CSS_SELECTOR, ".profile-block").get_attribute(
        "aria-pressed") == "true")
    # Then B's posts are hidden, the follow is gone, and the sidebar says A follows nobody
    wait_for(a, "the blocked notice", shown(".profile-blocked"))
    assert not a.find_elements(By.CSS_SELECTOR, "article.post")
    assert not a.find_elements(By.CSS_SELECTOR, ".profile-card .follow-button")
    wait_for(a, "the sidebar without B", lambda d: "follow nobody" in d.find_element(By.ID, "following-list").text)
    shot(a, "profile_blocked")

    # When A unblocks B (one click): the posts are back, and A may follow B again
    a.find_element(By.CSS_SELECTOR, ".profile-block").click()
    wait_for(a, "the unblock shown", lambda d: d.find_element(By.CSS_SELECTOR, ".profile-block").get_attribute(
        "aria-pressed") == "false")
    wait_for(a, "B's posts again", post_card(text))
    button = wait_for(a, "the follow button again", shown(".profile-card .follow-button"))
    assert button.get_attribute("aria-pressed") == "false"

    # And muting asks first; unmuting does not
    a.find_element(By.CSS_SELECTOR, ".profile-mute").click()
    confirm(a, "Mute")
    wait_for(a, "the mute shown", lambda d: d.find_element(By.CSS_SELECTOR, ".profile-mute").get_attribute(
        "aria-pressed") == "true")
    a.find_element(By.CSS_SELECTOR, ".profile-mute").click()
    wait_for(a, "the unmute shown", lambda d: d.find_element(By.CSS_SELECTOR, ".profile-mute").get_attribute(
        "aria-pressed") == "false")


def post_delete_and_be_refused(a: WebDriver, url: str, key: str, suffix: str) -> None:
    """A (no followers) posts and is told it is posted, not that followers see it; deletes it
    (asked first), and the API no longer has it; a like the API refuses is taken back; a post
    the API refuses says the API's reason."""
    a.get(url + "/#/")
    note = f"A note to delete, {suffix}"
    a.find_element(By.ID, "compose-text").send_keys(note)
    a.find_element(By.ID, "compose-submit").click()
    card = wait_for(a, "A's new post", post_card(note))
    told = wait_for(a, "the posted toast", toast_saying("Posted."))
    assert "followers" not in told.text, told.text  # A has none: nobody else sees it in a moment
    tweet_id = card.get_attribute("data-id")

    card.find_element(By.CSS_SELECTOR, ".act-delete").click()
    confirm(a, "Delete")
    wait_for(a, "the post gone from the page", lambda d: not d.find_elements(
        By.CSS_SELECTOR, f'article.post[data-id="{tweet_id}"]'))
    wait_for(a, "the deletion acknowledged", toast_saying("Post deleted."))
    token = a.execute_script("return JSON.parse(localStorage.getItem(arguments[0])).access", key)
    auth = {"authorization": f"Bearer {token}"}
    gone = requests.get(f"{url}/v1/tweets/{tweet_id}", headers=auth, timeout=30)
    assert gone.status_code == 404, gone.text

    # A like the API refuses (the post was deleted behind the page's back) is taken back, and
    # the page says why
    other = f"Another note, {suffix}"
    a.find_element(By.ID, "compose-text").send_keys(other)
    a.find_element(By.ID, "compose-submit").click()
    card = wait_for(a, "A's other post", post_card(other))
    deleted = requests.delete(f"{url}/v1/tweets/{card.get_attribute('data-id')}", headers=auth, timeout=30)
    assert deleted.status_code == 204, deleted.text
    card.find_element(By.CSS_SELECTOR, ".act-like").click()
    refused = wait_for(a, "the like's refusal", lambda d: next(
        (t for t in d.find_elements(By.CSS_SELECTOR, ".toast-error") if t.text), False))
    wait_for(a, "the like taken back", pressed(card, ".act-like", False))
    assert "route" not in refused.text and "not valid" not in refused.text, refused.text
    a.execute_script("document.getElementById('toasts').replaceChildren()")

    # A post the API refuses shows the API's reason, not a generic "not valid": one character
    # (as the page counts) of 41 code points, past the API's 32
    box = a.find_element(By.ID, "compose-text")
    box.send_keys("e" + "\u0301" * 40)
    a.find_element(By.ID, "compose-submit").click()
    refused = wait_for(a, "the API's reason", lambda d: next(
        (t for t in d.find_elements(By.CSS_SELECTOR, ".toast-error") if t.text), False))
    assert "code points; the limit is 32" in refused.text and "not valid" not in refused.text, refused.text
    shot(a, "refused")


# ---------------------------------------------------------------- a link naming another API (issue 22)
class Received(NamedTuple):
    method: str
    path: str
    body: str


class Elsewhere:
    """Another origin (a port of its own) that records every request it gets and answers as a
    willing API would: CORS allowed, any JSON. What a link's `?api=` would point the page at."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode(errors="replace") if length else ""
                recorder.received.append(Received(self.command, self.path, body))
                self.send_response(204 if self.command == "OPTIONS" else 200)
                self.send_header("access-control-allow-origin", "*")
                self.send_header("access-control-allow-headers", "*")
                self.send_header("access-control-allow-methods", "*")
                self.send_header("content-type", "application/json")
                payload = b"" if self.command == "OPTIONS" else json.dumps({"access_token": "x.e30.x"}).encode()
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_OPTIONS = do_PUT = do_DELETE = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def elsewhere() -> Iterator[Elsewhere]:
    server = Elsewhere()
    yield server
    server.close()


def emulator_origin(local_stack) -> str:
    """The stack's emulator (its media bucket's origin), from the banner."""
    for line in local_stack.lines:
        m = re.match(r"\s+Emulator\s+(http://\S+)", line)
        if m:
            return m.group(1)
    pytest.fail("no Emulator line in the banner:\n" + local_stack.log())


def csp_sources(page_html: str, directive: str) -> list[str]:
    policy = re.search(r'http-equiv="Content-Security-Policy"\s+content="([^"]*)"', page_html).group(1)
    found = [d.split() for d in policy.split(";") if d.split() and d.split()[0] == directive]
    return found[0][1:] if found else []


def test_a_link_naming_another_api_gets_nothing_from_who_signs_in(local_stack, browsers, elsewhere):
    url = local_stack.url
    handle = f"cat{os.getpid() % 1000}{int(time.time()) % 1000}"
    created = requests.post(f"{url}/v1/auth/signup", timeout=30,
                            json={"handle": handle, "password": PASSWORD, "display_name": "Cat Visitor"})
    assert created.status_code == 201, created.text

    # Given the real page, opened from a link that names another server as its API
    driver = browsers("visitor")
    driver.get(f"{url}/?api={elsewhere.url}")

    # When the person signs in on it
    wait_for(driver, "the sign-in form", shown("#signin-handle")).send_keys(handle)
    driver.find_element(By.ID, "signin-password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "#signin-form button[type=submit]").click()
    wait_for(driver, "the composer or a sign-in error", lambda d: shown("#composer")(d) or any(
        e.text for e in d.find_elements(By.CSS_SELECTOR, "#signin-form .form-error")))

    # Then nothing reached the other server: not the handle, not the password
    assert elsewhere.received == [], f"the page sent to {elsewhere.url}: {elsewhere.received}"

    # And the person is signed in through the page's own API, whose session it keeps
    wait_for(driver, "the composer after signing in", shown("#composer"))
    assert driver.find_element(By.CSS_SELECTOR, ".session-me span:last-child").text == f"@{handle}"
    sessions = driver.execute_script(
        "return Object.keys(localStorage).filter(k => k.startsWith('timeline.session:'))")
    assert sessions == [f"timeline.session:{url}"]
    note = driver.find_element(By.ID, "api-note")
    assert note.is_displayed() and "ignored" in note.text.lower() and elsewhere.url not in note.text, note.text

    # And the page's policy lets no request or image reach another origin, even by script
    outcome = driver.execute_async_script("""
        const [target, done] = arguments;
        const fetched = fetch(target + "/probe-fetch", { mode: "no-cors" }).then(() => "fetched", () => "blocked");
        const loaded = new Promise((resolve) => {
          const img = new Image();
          img.onload = () => resolve("loaded");
          img.onerror = () => resolve("blocked");
          img.src = target + "/probe-image.png";
        });
        Promise.all([fetched, loaded]).then(done);
    """, elsewhere.url)
    assert outcome == ["blocked", "blocked"]
    assert elsewhere.received == [], f"the page sent to {elsewhere.url}: {elsewhere.received}"

    # And that policy names only the page's own origin and the stack's media bucket
    page = requests.get(url + "/", timeout=30).text
    media = emulator_origin(local_stack)
    assert csp_sources(page, "connect-src") == ["'self'", media]
    assert csp_sources(page, "img-src") == ["'self'", "blob:", media]

    # And ?api= naming the page's own API is still accepted, without a note
    driver.get(f"{url}/?api={url}/")
    wait_for(driver, "the composer on the page's own API", shown("#composer"))
    assert not driver.find_element(By.ID, "api-note").is_displayed()
