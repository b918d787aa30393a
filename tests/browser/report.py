"""Load a wsdissect HTML report in headless Chromium, click a frame, say what the page shows.

Usage: python report.py PAGE.html FRAME_ID [SCREENSHOT_DIR]

Drives Chromium over the DevTools protocol (CDP) with the `websockets` package the live tests
already use: no driver binary, no browser-automation package. Prints one JSON object:
  hint_visible_before  the panel's hint showed before the click (no detail open)
  shown_id             the id of the detail block visible after the click
  selected             the frame's arrow carries the selected class
  key                  the masking-key bytes shown in the header bytes, space separated
  unmasked             the "Unmasked:" line's quoted text
  text                 the visible text of the detail block
  requests             URLs the page asked for besides itself (must be none)
  list_target, list_shown  after opening the frame list and clicking its first line: the frame
                       that line links to, and the detail then shown (they must agree)
With SCREENSHOT_DIR: overview.png (the top of the page) and frame.png (the clicked frame and
its detail panel), 1400 pixels wide.
"""

import asyncio
import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
]


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("no chromium on PATH (apt-get install -y chromium)")


def devtools_port(profile, proc):
    """Chromium writes its port to DevToolsActivePort in the profile once it listens."""
    marker = pathlib.Path(profile, "DevToolsActivePort")
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"chromium exited with {proc.returncode}")
        if marker.exists():
            lines = marker.read_text().split("\n")
            if lines and lines[0].strip().isdigit():
                return int(lines[0])
        time.sleep(0.1)
    sys.exit("chromium did not open its DevTools port within 30 s")


class Cdp:
    """One page's DevTools session: commands by id, events collected as they come."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.events = []

    async def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        await self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    async def wait_event(self, method, timeout=30):
        deadline = time.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    return self.events.pop(i)
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError(method)
            self.events.append(json.loads(await asyncio.wait_for(self.ws.recv(), left)))

    async def js(self, expression):
        r = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    async def screenshot(self, path):
        shot = await self.call("Page.captureScreenshot", format="png")
        pathlib.Path(path).write_bytes(base64.b64decode(shot["data"]))


QUERY = """(() => {
  const d = document.querySelector('.detail.shown');
  const key = d ? [...d.querySelectorAll('.bytes .k-key')].map(e => e.textContent).join(' ') : null;
  const q = d ? d.querySelector('.unmasked q') : null;
  const arrow = document.querySelector('a.fr[data-frame="%s"]');
  return {
    shown_id: d ? d.id : null,
    selected: !!(arrow && arrow.classList.contains('sel')),
    key: key,
    unmasked: q ? q.textContent : null,
    text: d ? d.innerText : null,
  };
})()"""


async def run(page, frame_id, shots):
    profile = tempfile.mkdtemp(prefix="wsdissect-chromium-")
    proc = subprocess.Popen(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port = devtools_port(profile, proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.load(r)
        target = next(t for t in targets if t.get("type") == "page")
        async with websockets.connect(target["webSocketDebuggerUrl"], max_size=None) as ws:
            cdp = Cdp(ws)
            await cdp.call("Page.enable")
            await cdp.call("Network.enable")
            await cdp.call(
                "Emulation.setDeviceMetricsOverride",
                width=1400, height=1000, deviceScaleFactor=1, mobile=False,
            )
            url = pathlib.Path(page).resolve().as_uri()
            await cdp.call("Page.navigate", url=url)
            await cdp.wait_event("Page.loadEventFired")
            requests = [
                e["params"]["request"]["url"]
                for e in cdp.events
                if e.get("method") == "Network.requestWillBeSent"
                and e["params"]["request"]["url"] != url
            ]
            hint = await cdp.js(
                "getComputedStyle(document.querySelector('.panel .hint')).display !== 'none'"
            )
            if shots:
                await cdp.screenshot(os.path.join(shots, "overview.png"))
            # A real click at the arrow's position, as a person would.
            box = await cdp.js(
                "(() => { const a = document.querySelector('a.fr[data-frame=\"%s\"] line');"
                " a.scrollIntoView({block: 'center'});"
                " const r = a.getBoundingClientRect();"
                " return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()" % frame_id
            )
            for kind in ("mousePressed", "mouseReleased"):
                await cdp.call(
                    "Input.dispatchMouseEvent",
                    type=kind, x=box["x"], y=box["y"], button="left", clickCount=1,
                )
            await asyncio.sleep(0.2)
            result = await cdp.js(QUERY % frame_id)
            if shots:
                await cdp.js(
                    "document.querySelector('a.fr[data-frame=\"%s\"]').closest('.seqwrap')"
                    ".scrollIntoView({block: 'start'})" % frame_id
                )
                await asyncio.sleep(0.2)
                await cdp.screenshot(os.path.join(shots, "frame.png"))
            result["hint_visible_before"] = hint
            result["requests"] = requests
            # The same frames as a list: open it, click its first line.
            listed = await cdp.js(
                "(() => { const d = document.querySelector('details.frames');"
                " d.open = true; const a = d.querySelector('a.fi'); a.click();"
                " const shown = document.querySelector('.detail.shown');"
                " return {target: a.getAttribute('href').slice(1),"
                " shown: shown ? shown.id : null}; })()"
            )
            result["list_target"] = listed["target"]
            result["list_shown"] = listed["shown"]
            return result
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    shots = sys.argv[3] if len(sys.argv) == 4 else None
    if shots:
        os.makedirs(shots, exist_ok=True)
    print(json.dumps(asyncio.run(run(sys.argv[1], sys.argv[2], shots))))


if __name__ == "__main__":
    main()
