"""The capstone running continuously (`lab capstone live`): the dashboard's numbers move while events flow.

One fresh LAB_HOME (a space in its name), CI-scale data. The platform's dashboard is served, then
`live` starts: the replayer sends the telemetry at a rate that makes the replay last several
calibration units (so several cycles on any machine: a slower machine replays more slowly), bronze
and silver run as streaming queries, and the driver's cycles rebuild gold, train the first champion
and score the new machine-hours. While the replayer is still sending, the real page, loaded twice in
Chromium, shows more machine-hours scored the second time. When live has stopped: every topic record
is in bronze once, silver holds one row per key, the champion has scored every gold machine-hour
once, and the page says so. A second `live` sends nothing and adds nothing.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from delta_readers import read_with_delta_rs

from lablib.config import ensure_dir, settings

REPO = Path(__file__).resolve().parent.parent
CAPSTONE = REPO / "capstone"
#: hang guards only (a stuck broker or query), far above a run on a loaded machine
HANG_SECONDS = 900
#: how long the replay lasts, in calibration units at the judging rate (at least the reference's 15 s):
#: long enough for the first champion and one more scoring cycle before the last event is sent.
#: Measured on this machine: the first hours were scored 5.4-7.5 c.u. after live started (the model
#: needs failures in its training and held-out hours: 11-52 % of the events had reached silver), a
#: scoring cycle takes 1.5-2.2 c.u. on 2 cores; with 8 c.u. one run of three saw a single scoring
#: cycle while events flowed. CI's runner (1 c.u. = 10.0 s, so a 120 s replay at 12 c.u. before the
#: floor) scored first at 97 s and its cycles took 32-40 s: the replay had ended before the second.
REPLAY_CU = 16
#: the queries' trigger and the driver's cycle, in calibration units
INTERVAL_CU = 0.5
METRIC = "Machine-hours scored"
#: the run folder of the suite's own LAB_HOME (read at start-up, as tests/browser.py does)
RUNS = settings().runs


def lab(*args: str, env: dict, timeout: float = HANG_SECONDS) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lablib.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def telemetry_events() -> int:
    """The events the replayer sends at CI scale: the manifest's telemetry rows."""
    manifest = json.loads((REPO / "datasets" / "MANIFEST.json").read_text())
    return manifest["scales"]["ci"]["telemetry"]["rows"]


def read(root: Path) -> dict[str, dict]:
    """{layer.table: {version, rows, distinct keys}} as delta-rs reads each table."""
    tables = {root / "bronze" / "telemetry": ("partition", "offset"),
              root / "silver" / "telemetry": ("machine_id", "event_time"),
              root / "gold" / "machine_hour_features": ("machine_id", "hour"),
              root / "gold" / "daily_sales": ("order_date", "channel"),
              root / "gold" / "machine_risk": ("machine_id", "hour")}
    seen = read_with_delta_rs(list(tables), timeout=HANG_SECONDS, keys=tables)
    unreadable = {p: got["error"] for p, got in seen.items() if "error" in got}
    assert not unreadable, unreadable
    return {f"{p.parent.name}.{p.name}": got for p, got in seen.items()}


#: in the platform's own process: the topic's size from the broker, the champion, who scored the hours
_FACTS = r"""
import json, os, sys
from deltalake import DeltaTable
from mat_platform import model, pipeline, settings
conf = settings.load("dev")
risk = DeltaTable(str(conf.table("gold", "machine_risk"))).to_pyarrow_table(columns=["model_version"])
print(json.dumps({"topic": pipeline.topic_size(conf), "champion": model.champion_version(conf),
                  "versions": model.versions(conf), "scored_by": sorted(set(risk.column("model_version").to_pylist()))}))
sys.stdout.flush()
os._exit(0)
"""


class Live:
    """`lab capstone live` running in its own process; its cycle lines as they come."""

    def __init__(self, args: list[str], env: dict, log: Path):
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        self._log = log.open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "lablib.cli", "capstone", "live", *args], env=env,
                                     stdout=subprocess.PIPE, stderr=self._log, text=True, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        self.t0 = time.monotonic()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._new.put(line.rstrip("\n"))
        self._new.put(None)

    def cycle(self, timeout: float, scored_above: int = 0) -> dict:
        """Wait for the next cycle line whose scored machine-hours exceed ``scored_above``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._new.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no cycle scored more than {scored_above:,} hours within {timeout:.0f} s: "
                            + "\n".join(self.lines[-10:]))
            if line is None:
                pytest.fail("live stopped before that: " + "\n".join(self.lines[-15:]) + self.stderr())
            got = re.search(r"scored ([\d,]+) \(\+([\d,]+)\)", line)
            if got and int(got[1].replace(",", "")) > scored_above:
                return {"line": line, "scored": int(got[1].replace(",", "")), "replaying": line.endswith("replaying")}

    def wait(self) -> subprocess.CompletedProcess:
        code = self.proc.wait(timeout=HANG_SECONDS)
        self.seconds = time.monotonic() - self.t0
        return subprocess.CompletedProcess(self.proc.args, code, "\n".join(self.lines), self.stderr())

    def stderr(self) -> str:
        self._log.flush()
        return Path(self._log.name).read_text()[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:  # Ctrl-C, as a learner stops it: to `lab` and the platform's process
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


@pytest.fixture(scope="module")
def platform(tmp_path_factory, cu):
    home = tmp_path_factory.mktemp("capstone-live") / "capstone home"
    env = {**os.environ, "LAB_HOME": str(home), "LAB_SCALE": "ci"}
    root = home / "capstone" / "dev-ci"
    rate, interval = round(telemetry_events() / (REPLAY_CU * cu)), round(INTERVAL_CU * cu, 1)
    running = None
    try:
        up = lab("capstone", "up", "--scale", "ci", env=env)
        assert up.returncode == 0, up.stdout + up.stderr[-3000:]
        served = lab("capstone", "dashboard", "--scale", "ci", env=env, timeout=300)
        assert served.returncode == 0, served.stdout + served.stderr[-3000:]
        url = re.search(r"dashboard: (http://127\.0\.0\.1:\d+)", served.stdout)[1]
        running = Live(["--scale", "ci", "--rate", str(rate), "--interval", str(interval)], env,
                       home.parent / "live.log")
        state = {"root": root, "env": env, "url": url, "live": running, "rate": rate, "interval": interval}
        done = {}

        def finished() -> dict:
            """live's end, its report and the tables as it left them (waited for once)."""
            if not done:
                proc = running.wait()
                assert proc.returncode == 0, proc.stdout + proc.stderr
                done.update(proc=proc, seconds=running.seconds, tables=read(root),
                            report=json.loads((root / "state" / "last_live.json").read_text()),
                            facts=in_platform(env, _FACTS))
                # kept where CI keeps the run's artifacts: the cycles, lags and times the README quotes
                ensure_dir(RUNS).joinpath("capstone-live.json").write_text(
                    json.dumps({**done["report"], "rate": rate, "cu": cu, "live_seconds": running.seconds}, indent=1))
            return done

        state["finished"] = finished
        yield state
    finally:
        if running is not None:
            running.stop()
        down = lab("capstone", "down", env=env)
        assert down.returncode == 0, down.stdout + down.stderr


def in_platform(env: dict, code: str) -> dict:
    """Run ``code`` as the platform's own process would (its folder, home and scale); its last line as JSON."""
    env = {**env, "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([sys.executable, "-c", code], cwd=CAPSTONE / "src", env=env, capture_output=True,
                          text=True, timeout=HANG_SECONDS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def scored_on_page(page, cu) -> int:
    """The dashboard's "Machine-hours scored", as the page shows it."""
    value = page.locator('[data-testid="stMetric"]').filter(has_text=METRIC).locator('[data-testid="stMetricValue"]')
    value.wait_for(timeout=cu * 2000)
    return int(value.inner_text().strip().replace(",", ""))


@pytest.mark.services
@pytest.mark.browser
def test_the_dashboard_shows_more_hours_scored_while_events_flow(platform, tab, cu):
    live, page, produced = platform["live"], tab.page, platform["root"] / "state" / "produced.json"
    budget = REPLAY_CU * cu * 2  # hang guard for one wait: the whole replay, twice
    shown = []
    first = live.cycle(budget)  # the first hours scored: a champion exists
    page.goto(platform["url"], timeout=cu * 2000)
    page.get_by_text("Mega Awesome Toys: platform dashboard").wait_for()
    shown.append(scored_on_page(page, cu))
    assert shown[0] >= first["scored"] > 0
    later = live.cycle(budget, scored_above=shown[0])  # a cycle that scored hours the page did not show
    page.reload()
    shown.append(scored_on_page(page, cu))
    flowing = not produced.exists()  # the replayer records its count only when it has sent the last event
    tab.screenshot("capstone-live-dashboard")
    assert flowing, (f"the replay ended before the second page load ({platform['rate']:,} events/s): "
                     + "\n".join(live.lines))
    assert first["replaying"] and later["replaying"]
    assert shown[1] >= later["scored"] > shown[0], shown

    # when live has stopped, the page shows every gold machine-hour scored
    end = platform["finished"]()
    page.reload()
    hours = end["tables"]["gold.machine_hour_features"]["rows"]
    page.locator('[data-testid="stMetricValue"]').filter(has_text=re.compile(f"^{hours:,}$")).wait_for()
    assert scored_on_page(page, cu) == hours
    assert tab.offsite == [], f"the dashboard called out: {tab.offsite}"


@pytest.mark.services
def test_bronze_holds_every_topic_record_exactly_once(platform):
    end = platform["finished"]()
    bronze, sent = end["tables"]["bronze.telemetry"], json.loads(
        (platform["root"] / "state" / "produced.json").read_text())["sent"]
    # 0 lost, 0 duplicated: each (partition, offset) once, as many as the topic holds and the replayer sent
    assert bronze["rows"] == bronze["distinct"] == end["facts"]["topic"] == sent == telemetry_events()
    assert end["report"]["rows"]["bronze"] == sent and end["report"]["replay"]["stopped"] == "end of data"
    # bronze ran behind the topic while events flowed, and had caught up when live stopped
    lags = [c["lag"] for c in end["report"]["cycles"]]
    assert max(lags) > 0 and lags[-1] == 0 and min(lags) >= 0


@pytest.mark.services
def test_silver_holds_one_row_per_event_key(platform):
    tables = platform["finished"]()["tables"]
    silver = tables["silver.telemetry"]
    assert 0 < silver["rows"] == silver["distinct"] < tables["bronze.telemetry"]["rows"]


@pytest.mark.services
def test_the_champion_scored_every_gold_machine_hour_once(platform):
    end = platform["finished"]()
    hours, risk = end["tables"]["gold.machine_hour_features"], end["tables"]["gold.machine_risk"]
    assert 0 < risk["rows"] == risk["distinct"] == hours["rows"] == hours["distinct"]
    # live trains one model (the first champion) and that champion scored every hour
    assert end["facts"]["versions"] == 1 and end["facts"]["scored_by"] == [end["facts"]["champion"]] == ["1"]
    report = end["report"]
    assert report["stopped"] == "caught up" and report["rows"]["gold.machine_risk"] == hours["rows"]
    # hours were scored in more than one cycle while the replay ran: scoring followed the stream
    assert sum(1 for c in report["cycles"] if c["replaying"] and c["new_scored"]) >= 2
    assert report["last_event_to_last_score_seconds"] is not None


@pytest.mark.services
def test_a_second_live_sends_nothing_and_adds_nothing(platform):
    before = platform["finished"]()
    again = lab("capstone", "live", "--scale", "ci", "--rate", str(platform["rate"]), "--interval",
                str(platform["interval"]), env=platform["env"])
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    assert "replay: the topic already held it, nothing sent" in again.stdout
    assert read(platform["root"]) == before["tables"]  # same rows, same versions: not even an empty commit
    assert in_platform(platform["env"], _FACTS) == before["facts"]
    status = lab("capstone", "status", "--scale", "ci", env=platform["env"], timeout=300)
    assert status.returncode == 0, status.stdout + status.stderr[-3000:]
    assert re.search(r"^last live: stopped \(caught up\) after \d+ cycle\(s\) in [\d.]+ s; bronze behind the topic "
                     r"by at most 0 events$", status.stdout, re.M), status.stdout  # the second live's: it sent nothing


def test_a_bad_rate_or_interval_is_one_sentence(tmp_path):
    env = {**os.environ, "LAB_HOME": str(tmp_path)}
    for args, said in ((["--rate", "0"], "error: the rate must be more than 0 events per second, not 0"),
                       (["--interval", "-2"], "error: the interval must be more than 0 seconds, not -2")):
        proc = lab("capstone", "live", *args, env=env, timeout=120)
        assert proc.returncode == 1
        assert proc.stderr.strip().splitlines() == [said]
    assert not (tmp_path / "capstone").exists()  # refused before anything was started or written


@pytest.mark.services
def test_every_published_table_kept_its_contract_as_live_left_it(platform):
    # the cycles leave the contracts out (their gates run every few seconds); the end of live tests them once
    end = platform["finished"]()
    kept = json.loads((platform["root"] / "state" / "contracts.json").read_text())
    assert sorted(kept) == ["gold.daily_sales", "gold.machine_hour_features", "gold.machine_risk", "silver.telemetry"]
    for label, record in kept.items():
        assert record["table_version"] == end["tables"][label]["version"], label
