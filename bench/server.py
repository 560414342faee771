"""gunicorn as production runs it (the Procfile's `gunicorn portal.wsgi --workers 3`), on a free port, with
the bench's environment, its log kept for the report; and the aiosmtpd server the outbox delivers to."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

from .client import Client

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {seconds} s")


class Gunicorn:
    def __init__(self, port: int, log_path: Path):
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(WORKERS),
            ],
            cwd=ROOT,
            env={**os.environ, "LOG_LEVEL": "INFO"},  # production's default
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        _wait_for_port(self.port, self.process, "gunicorn")
        # Every worker up and able to answer (a redirect to the sign-in page) before anything is timed.
        deadline = time.monotonic() + 30
        while len(self.workers()) < WORKERS and time.monotonic() < deadline:
            time.sleep(0.1)
        client = Client(self.port)
        for _ in range(WORKERS * 2):
            status = client.get("/bench/floor/").status
            if status != 302:
                raise RuntimeError(f"gunicorn answered {status} to an anonymous /bench/floor/; see {self.log_path}")
        client.close()

    def workers(self) -> list[int]:
        """The worker processes' ids (the master's children)."""
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def worker_memory(self) -> list[dict]:
        """Resident and peak memory of each worker, in MiB (from /proc/<pid>/status)."""
        result = []
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            fields = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
            result.append(
                {
                    "pid": pid,
                    "rss_mib": round(int(fields["VmRSS"]) / 1024, 1),
                    "peak_mib": round(int(fields["VmHWM"]) / 1024, 1),
                }
            )
        return result

    def cpu_seconds(self) -> float:
        """CPU time the workers have used so far (user + system)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.workers():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / ticks

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def server_errors(self) -> list[dict]:
        """The 500s in the log: the request's path and the end of its traceback, once per path and error."""
        if not self.log_path.exists():
            return []
        text = self.log_path.read_text(errors="replace")
        records = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|\[\d{4}-\d\d-\d\d )", text)
        seen, errors = set(), []
        for record in records:
            match = re.search(r"(?:Internal Server Error|Error handling request): (\S+)", record)
            if match is None and "Traceback" not in record and "WORKER TIMEOUT" not in record:
                continue
            lines = [line for line in record.splitlines() if line.strip()]
            last = lines[-1].strip() if lines else ""
            path = match.group(1) if match else "(no request)"
            key = (path.split("?")[0], last)
            if key in seen:
                continue
            seen.add(key)
            errors.append({"path": path, "error": last, "traceback": "\n".join(lines[-12:])})
        return errors


class SmtpServer:
    """aiosmtpd in its own process (not a thread of the process that sends, which would share its GIL),
    counting what it receives (bench.smtp.Counter)."""

    def __init__(self, port: int, count_file: Path):
        self.port = port
        self.count_file = count_file
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.count_file.parent.mkdir(parents=True, exist_ok=True)
        self.count_file.write_text("")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"127.0.0.1:{self.port}",
                "-c",
                "bench.smtp.Counter",
                str(self.count_file),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, self.process, "aiosmtpd")

    def received(self) -> int:
        return self.count_file.read_text().count("\n")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
