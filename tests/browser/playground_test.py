"""The playground page in a real browser (headless Chromium, Debian's, driven by Selenium
through chromedriver) against a real ovseg-server on the demo model.

It loads the page the server serves at /, picks an image of the synthetic world, types its
labels, presses Segment and checks what a user sees: the segment list, the overlay drawn
over the image, the timings; then that a bad image shows the server's error. A screenshot
of each state is saved to $OVSEG_ARTIFACTS (default out/test-artifacts/). Run by
scripts/test_playground.sh (Debian's python3, which has python3-selenium).
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ARTIFACTS = os.environ.get("OVSEG_ARTIFACTS", os.path.join(ROOT, "out", "test-artifacts"))

# Reads the overlay canvas back and compares it with the chosen image drawn plain: how
# many pixels the overlay changed.
OVERLAY_CHANGE = """
const done = arguments[arguments.length - 1];
const file = document.getElementById('image').files[0];
createImageBitmap(file).then((bitmap) => {
  const plain = new OffscreenCanvas(bitmap.width, bitmap.height).getContext('2d');
  plain.drawImage(bitmap, 0, 0);
  const a = plain.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const canvas = document.getElementById('overlay');
  const b = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let changed = 0;
  if (a.length === b.length) {
    for (let i = 0; i < a.length; i += 4) {
      if (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) > 40) changed++;
    }
  }
  done({width: canvas.width, height: canvas.height, image_width: bitmap.width,
        image_height: bitmap.height, changed: changed, pixels: a.length / 4});
});
"""


class PlaygroundTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ovseg-playground-")
        os.makedirs(ARTIFACTS, exist_ok=True)
        # An image of the synthetic world the demo model was trained on, and its classes.
        subprocess.run([os.path.join(ROOT, "build/tools/ovseg-synth"), "--out",
                        os.path.join(cls.tmp, "world"), "--train", "0", "--val", "1",
                        "--seed", "11"], check=True, stdout=subprocess.DEVNULL)
        val = os.path.join(cls.tmp, "world", "val")
        cls.image = os.path.join(val, "images", sorted(os.listdir(os.path.join(val, "images")))[0])
        with open(os.path.join(val, "panoptic.json")) as f:
            categories = json.load(f)["categories"]
        cls.labels = [c["name"] for c in categories]
        cls.stuff = [c["name"] for c in categories if not c.get("isthing", 1)]

        cls.log = open(os.path.join(cls.tmp, "server.log"), "w+")
        cls.server = subprocess.Popen(
            [os.path.join(ROOT, "build/server/ovseg-server"), "--config", "configs/server.pbtxt",
             "--port", "0", "--metrics_address", "none", "--http_port", "0"],
            cwd=ROOT, stdout=cls.log, stderr=subprocess.STDOUT)
        cls.http_port = None
        for _ in range(240):
            cls.log.seek(0)
            m = re.search(r"HTTP on port (\d+)", cls.log.read())
            if m:
                cls.http_port = int(m.group(1))
                break
            if cls.server.poll() is not None:
                break
            time.sleep(0.5)
        if cls.http_port is None:
            cls.log.seek(0)
            raise RuntimeError("the server did not start:\n" + cls.log.read())
        cls.url = f"http://127.0.0.1:{cls.http_port}/"

        options = webdriver.ChromeOptions()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,1000"):
            options.add_argument(arg)
        options.binary_location = "/usr/bin/chromium"
        cls.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        cls.driver.set_script_timeout(30)
        # The page answers once the model is warm: poll readiness as a load balancer would.
        import urllib.request
        for _ in range(240):
            try:
                if urllib.request.urlopen(cls.url + "readyz", timeout=2).status == 200:
                    break
            except Exception:
                time.sleep(0.5)

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.server.terminate()
        cls.server.wait(timeout=60)
        cls.log.close()

    def load(self):
        self.driver.get(self.url)
        WebDriverWait(self.driver, 30).until(
            lambda d: d.find_element(By.ID, "model").text.startswith("Model "))

    def submit(self, image, labels, stuff=(), task="panoptic"):
        d = self.driver
        d.find_element(By.ID, "image").send_keys(image)
        d.find_element(By.ID, "labels").send_keys(", ".join(labels))
        if stuff:
            d.find_element(By.ID, "stuff").send_keys(", ".join(stuff))
        Select(d.find_element(By.ID, "task")).select_by_visible_text(task)
        d.find_element(By.ID, "submit").click()
        WebDriverWait(d, 120).until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state")
            in ("done", "error"))
        return d.find_element(By.TAG_NAME, "body").get_attribute("data-state")

    def test_segments_an_image_and_draws_the_overlay(self):
        self.load()
        head_modes = [o.text for o in Select(self.driver.find_element(By.ID, "head_mode")).options]
        self.assertIn("mask", head_modes)  # filled from GET /v1/model
        state = self.submit(self.image, self.labels, self.stuff)
        self.driver.save_screenshot(os.path.join(ARTIFACTS, "playground.png"))
        self.assertEqual(state, "done", self.driver.find_element(By.ID, "error").text)
        rows = self.driver.find_elements(By.CSS_SELECTOR, "#segments tr.segment")
        self.assertGreater(len(rows), 0)
        for row in rows:
            label = row.find_elements(By.TAG_NAME, "td")[0].text
            self.assertIn(label, self.labels)
        self.assertRegex(self.driver.find_element(By.ID, "timings").text, r"segments at \d+x\d+")
        overlay = self.driver.execute_async_script(OVERLAY_CHANGE)
        self.assertEqual((overlay["width"], overlay["height"]),
                         (overlay["image_width"], overlay["image_height"]))
        # Segments cover much of a synthetic scene; at least a tenth of it is tinted.
        self.assertGreater(overlay["changed"], overlay["pixels"] // 10, overlay)

    def test_shows_the_servers_error(self):
        self.load()
        not_an_image = os.path.join(self.tmp, "notes.txt")
        with open(not_an_image, "w") as f:
            f.write("not an image")
        state = self.submit(not_an_image, ["cat"])
        self.driver.save_screenshot(os.path.join(ARTIFACTS, "playground-error.png"))
        self.assertEqual(state, "error")
        self.assertIn("INVALID_ARGUMENT", self.driver.find_element(By.ID, "error").text)
        self.assertEqual(self.driver.find_elements(By.CSS_SELECTOR, "#segments tr.segment"), [])


if __name__ == "__main__":
    sys.exit(unittest.main())
