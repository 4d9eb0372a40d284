"""A headless Chromium driven over the DevTools protocol, for tests that look at a page as a reader would.

Chromium's `--remote-debugging-pipe` speaks the protocol over file descriptors 3 (commands in) and 4
(replies and events out), NUL-separated JSON: no websocket client, no browser download, no port.
Every wait is on a reply or an event, bounded by a timeout.
"""

import base64
import fcntl
import itertools
import json
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path

WAIT_S = 60.0  # upper bound for one reply or event; reached only when the browser is broken
VIEWPORT = (1280, 800)


def chromium_binary() -> str:
    """ORCH_CHROMIUM, else Debian's `chromium` (installed by .ci/browser-setup.sh)."""
    for candidate in (os.environ.get("ORCH_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    raise RuntimeError("no Chromium found: run `bash .ci/browser-setup.sh` (Debian's chromium) or set ORCH_CHROMIUM")


class BrowserError(RuntimeError):
    pass


class Chromium:
    """One headless browser with one page; `with Chromium(profile_dir) as browser: ...`."""

    def __init__(self, profile_dir: Path):
        self.profile_dir = Path(profile_dir)
        self.ids = itertools.count(1)
        self.replies: dict[int, queue.Queue] = {}
        self.events: queue.Queue = queue.Queue()
        self.session: str | None = None
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Chromium":
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()

        def as_fds_3_and_4() -> None:  # in the child, before exec: the protocol's fixed descriptors
            low_in = fcntl.fcntl(commands_read, fcntl.F_DUPFD, 10)
            low_out = fcntl.fcntl(replies_write, fcntl.F_DUPFD, 10)
            os.dup2(low_in, 3)
            os.dup2(low_out, 4)

        width, height = VIEWPORT
        command = [
            chromium_binary(),
            "--headless=new",
            "--remote-debugging-pipe",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--mute-audio",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            f"--user-data-dir={self.profile_dir}",
            f"--window-size={width},{height}",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            command, preexec_fn=as_fds_3_and_4, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        os.close(commands_read)
        os.close(replies_write)
        threading.Thread(target=self._read_replies, daemon=True).start()
        self.stderr_lines: list[str] = []
        threading.Thread(target=self._read_stderr, daemon=True).start()
        page = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.process.poll() is None:
                self.call("Browser.close", session=False)
                self.process.wait(timeout=WAIT_S)
        except (BrowserError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait(timeout=WAIT_S)
        finally:
            os.close(self._commands)

    # -- the protocol ------------------------------------------------------------------------
    def _read_replies(self) -> None:
        buffer = b""
        with os.fdopen(self._replies, "rb", buffering=0) as stream:
            while chunk := stream.read(1 << 16):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self.replies.setdefault(message["id"], queue.Queue()).put(message)
                    else:
                        self.events.put(message)
        self.events.put({"method": "closed"})

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.stderr_lines.append(line.decode(errors="replace").rstrip())

    def call(self, method: str, session: bool = True, **params) -> dict:
        """Send one command and wait (bounded) for its reply."""
        number = next(self.ids)
        inbox = self.replies.setdefault(number, queue.Queue())
        message = {"id": number, "method": method, "params": params}
        if session and self.session is not None:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        try:
            reply = inbox.get(timeout=WAIT_S)
        except queue.Empty:
            raise BrowserError(
                f"no reply to {method} within {WAIT_S}s; browser stderr: {self.stderr_lines[-5:]}"
            ) from None
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        return reply["result"]

    def wait_event(self, method: str, seen: list[dict]) -> dict:
        """Wait (bounded) for the next `method` event; every event on the way is appended to `seen`."""
        while True:
            try:
                event = self.events.get(timeout=WAIT_S)
            except queue.Empty:
                raise BrowserError(f"no {method} event within {WAIT_S}s") from None
            seen.append(event)
            if event["method"] == method:
                return event
            if event["method"] == "closed":
                raise BrowserError(f"the browser closed before {method}; stderr: {self.stderr_lines[-5:]}")

    def drain_events(self, seen: list[dict]) -> None:
        while True:
            try:
                seen.append(self.events.get_nowait())
            except queue.Empty:
                return

    # -- what a test asks ----------------------------------------------------------------------
    def open(self, url: str) -> list[dict]:
        """Navigate and wait for the load event; returns every event seen (console messages, errors)."""
        seen: list[dict] = []
        reply = self.call("Page.navigate", url=url)
        if reply.get("errorText"):
            raise BrowserError(f"cannot open {url}: {reply['errorText']}")
        self.wait_event("Page.loadEventFired", seen)
        self.evaluate(
            "new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
        )  # laid out, painted
        self.drain_events(seen)
        return seen

    def evaluate(self, expression: str):
        reply = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in reply:
            raise BrowserError(f"script failed: {reply['exceptionDetails'].get('text')}: {expression[:80]}")
        return reply["result"].get("value")

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))


def console_errors(events: list[dict]) -> list[str]:
    """Console errors, uncaught exceptions and failed loads (Log entries of level error), one line each."""
    errors = []
    for event in events:
        params = event.get("params", {})
        if event["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(
                "console: " + " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params["args"])
            )
        elif event["method"] == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append("exception: " + details.get("exception", {}).get("description", details.get("text", "")))
        elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            errors.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
    return errors
