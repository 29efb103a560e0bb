"""Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe): no
port, no extra Python package. Chromium reads commands from fd 3 and writes replies and events
to fd 4, one JSON message each, ended by a NUL byte.

    with Chromium() as browser:
        page = browser.open(Path("report.html"))   # waits for the load event
        page.evaluate("document.title"); page.screenshot(path)
        page.console_errors, page.requests
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

INSTALL_HINT = ("chromium is not installed: run `make setup` (it installs Debian's chromium), or "
                "`apt-get install -y --no-install-recommends chromium`")

# Flags that keep the browser off the network and quiet: no sync, updates, metrics, extensions
# or background requests, and every connection that is not to this machine sent to a closed port.
FLAGS = ("--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         "--disable-background-networking", "--disable-sync", "--disable-component-update",
         "--disable-default-apps", "--disable-domain-reliability", "--disable-breakpad",
         "--disable-client-side-phishing-detection", "--metrics-recording-only", "--mute-audio",
         "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", "--hide-scrollbars",
         "--force-device-scale-factor=1", "--window-size=1280,900", "--remote-debugging-pipe")


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(INSTALL_HINT)


class Page:
    def __init__(self, browser: "Chromium", session: str):
        self.browser, self.session = browser, session

    def send(self, method: str, params: dict | None = None) -> dict:
        return self.browser.send(method, params, self.session)

    def evaluate(self, expression: str):
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression!r} raised {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page, not just the window."""
        reply = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path.write_bytes(base64.b64decode(reply["data"]))
        return path

    def _events(self, *methods) -> list[dict]:
        return [e["params"] for e in self.browser.events if e.get("sessionId") == self.session
                and e.get("method") in methods]

    @property
    def console_errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log errors (e.g. a resource that failed)."""
        errors = [" ".join(str(a.get("value", a.get("description", ""))) for a in e["args"])
                  for e in self._events("Runtime.consoleAPICalled") if e["type"] in ("error", "assert")]
        errors += [e["exceptionDetails"].get("text", "") + " " + str(e["exceptionDetails"].get("exception", {})
                                                                     .get("description", ""))
                   for e in self._events("Runtime.exceptionThrown")]
        errors += [e["entry"]["text"] for e in self._events("Log.entryAdded") if e["entry"]["level"] == "error"]
        return errors

    @property
    def requests(self) -> list[str]:
        """The URLs the page asked for (data: URIs are not requests)."""
        return [e["request"]["url"] for e in self._events("Network.requestWillBeSent")
                if not e["request"]["url"].startswith("data:")]


class Chromium:
    def __init__(self, timeout: float = 60.0):
        self.timeout = timeout
        self.events: list[dict] = []
        self._buffer = b""
        self._next_id = 0

    def __enter__(self) -> "Chromium":
        binary = chromium_binary()
        self._profile = tempfile.mkdtemp(prefix="winnow-chromium-")
        to_browser_read, to_browser_write = os.pipe()
        from_browser_read, from_browser_write = os.pipe()

        def on_fds_3_and_4():  # in the child: its ends of the pipes as fds 3 (commands) and 4 (replies)
            commands = fcntl.fcntl(to_browser_read, fcntl.F_DUPFD, 10)
            replies = fcntl.fcntl(from_browser_write, fcntl.F_DUPFD, 10)
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        flags = [*FLAGS, f"--user-data-dir={self._profile}"]
        if os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        # close_fds=False: the fds made in on_fds_3_and_4 must survive to exec; every other fd of
        # ours is close-on-exec (Python's default), so the browser gets only these two.
        self.process = subprocess.Popen(["nice", "-n", "19", binary, *flags, "about:blank"], close_fds=False,
                                        preexec_fn=on_fds_3_and_4, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._commands = os.fdopen(to_browser_write, "wb", buffering=0)
        self._replies = os.fdopen(from_browser_read, "rb", buffering=0)
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self._commands, self._replies, self.process.stderr):
            stream.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._commands.write(json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError(f"chromium did not answer within {self.timeout} s")
            chunk = self._replies.read(1 << 16)
            if not chunk:
                stderr = self.process.stderr.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"chromium closed the DevTools pipe; its stderr ends with:\n{stderr}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def open(self, path: Path, width: int = 1280, height: int = 900) -> Page:
        """A new tab showing the file `path`, after its load event."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        page = Page(self, self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"])
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": False})
        page.send("Page.navigate", {"url": Path(path).resolve().as_uri()})
        deadline = time.monotonic() + self.timeout
        while not page._events("Page.loadEventFired"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} did not finish loading within {self.timeout} s")
            page.evaluate("1")  # a round trip, so the events that arrived are read
            time.sleep(0.05)
        return page
