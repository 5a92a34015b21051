"""Issue 25, item 11 (listening address): a plain ``streamlit run dashboard/app.py`` stays on this machine.

Without a flag, Streamlit listened on every interface; ``make dashboard`` passed ``--server.address`` but a
user starting the app by hand shared it with the network. ``.streamlit/config.toml`` in the repository root
(read from the working directory) now binds it to 127.0.0.1. The test starts the real server from the
repository root on a free port, with no address flag, reads its listening sockets, and stops it by its PID.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.hostile

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_repository_config_names_the_loopback_address():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["address"] == "127.0.0.1"


@pytest.mark.slow
def test_plain_streamlit_run_listens_on_loopback_only(tmp_path):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CLIR_DB": str(tmp_path / "none.duckdb")}
    env.pop("STREAMLIT_SERVER_ADDRESS", None)  # only the repository's config file may decide
    cmd = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        me = psutil.Process(proc.pid)
        listening: set[str] = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            listening = {c.laddr.ip for c in me.net_connections(kind="inet")
                         if c.status == psutil.CONN_LISTEN and c.laddr.port == port}  # fmt: skip
            if listening:
                break
            time.sleep(0.2)
        assert listening == {"127.0.0.1"}, listening
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
