"""HTTP under load (DESIGN §8, issue #8): the app served by gunicorn (gunicorn.conf.py) on
loopback, loaded by wrk with a Lua script that rotates over realistic search URLs (postcodes ×
filters × languages), detail pages and results maps, compared in the same run with a
hello-world Flask route served the same way. Caches on, then every cache off.

wrk is Debian's package (`apt-get install wrk`); without it this part is skipped and says so.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LUA = """
local paths = {}
for line in io.lines(os.getenv("MEEGAAN_PATHS")) do paths[#paths + 1] = line end
local threads = {}
function setup(thread)
  thread:set("counter", #threads * 101)  -- each thread starts elsewhere in the list
  table.insert(threads, thread)
end
counter = 0
misses = 0
request = function()
  counter = counter + 1
  local headers = {["Accept-Encoding"] = "gzip, deflate, br"}
  return wrk.format("GET", paths[(counter % #paths) + 1], headers)
end
response = function(status, headers, body)
  if headers["X-Cache"] ~= "hit" then misses = misses + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("misses") end
  io.write(string.format("misses: %d\\n", total))
end
"""
_POSTCODES = [
    "9000",
    "9040",
    "9050",
    "2000",
    "2060",
    "2018",
    "1000",
    "1030",
    "1080",
    "1210",
    "2800",
    "3000",
    "3500",
    "8000",
    "8500",
    "9100",
    "9300",
    "4000",
    "6000",
    "1020",
]
_FILTERS = ["", "&tag=free", "&tag=free_drinks&tag=walk_in", "&when=week", "&category=coffee_chat"]
_LANGS = ["nl", "fr", "ar"]
# Extra warm-up rounds of 5 s at most, until one has no miss.
WARM_ROUNDS = 12
HELLO = """
from flask import Flask
app = Flask(__name__)

@app.get("/hello")
def hello():
    return "Hello, world!"
"""


def urls(detail_ids: list[int]) -> list[str]:
    """300 search URLs, up to 100 detail pages and the maps of 100 searches, interleaved: a
    family scrolls to the map (map.js then fetches it) about as often as it opens an
    activity."""
    queries = [
        f"?where={p}{f}&lang={lang}"
        for p, f, lang in itertools.product(_POSTCODES, _FILTERS, _LANGS)
    ]
    details = [f"/activities/{i}?lang={_LANGS[i % 3]}" for i in detail_ids[:100]]
    mixed = []
    for i, query in enumerate(queries):
        mixed.append("/activities" + query)
        if details and i % 3 == 0:
            mixed.append(details[(i // 3) % len(details)])
        if i % 3 == 1:
            mixed.append("/activities/map" + query)
    return mixed


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# Each server gets an address of its own in 127.0.0.0/8: without keep-alive every request is a
# new connection, and tens of thousands of them linger in TIME_WAIT after a run; a new run on
# the same address and port collides with them (1 s retransmits in the next run's tail).
_HOSTS = (f"127.0.0.{n}" for n in itertools.cycle(range(2, 250)))


@contextmanager
def gunicorn(
    app_spec: str, env: dict[str, str], cwd: Path, probe: str, host: str = ""
) -> Iterator[str]:
    """gunicorn.conf.py serving `app_spec` on a free port, on `host` or on the next loopback
    address; yields its base URL once `probe` answers."""
    host = host or next(_HOSTS)
    port = _free_port(host)
    base = f"http://{host}:{port}"
    # The app answers only for the host it is served on (TRUSTED_HOSTS), as in production.
    served_as = {"PUBLIC_BASE_URL": base, "TRUSTED_HOSTS": host}
    env = {**os.environ, **env, **served_as, "HOST": host, "PORT": str(port), "ACCESS_LOG": ""}
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), app_spec],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + probe, timeout=2).read()
                break
            except urllib.error.HTTPError as exc:  # up, but not answering as it should
                raise RuntimeError(f"{app_spec} answered {exc.code} to {base}{probe}") from exc
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{app_spec} did not start on {base}")
        yield base
    finally:
        server.terminate()
        server.wait(20)


def wrk(base: str, paths_file: Path, seconds: int, connections: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(LUA)
    result = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            lua.name,
            base,
        ],
        env={**os.environ, "MEEGAAN_PATHS": str(paths_file)},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    os.unlink(lua.name)
    out = result.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def latency(pct: str) -> float:
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    requests = re.search(r"(\d+) requests in", out)
    misses = re.search(r"misses: (\d+)", out)
    return {
        "rps": round(rps, 1),
        "p50_ms": round(latency("50"), 1),
        "p90_ms": round(latency("90"), 1),
        "p99_ms": round(latency("99"), 1),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "requests": int(requests.group(1)) if requests else 0,
        "misses": int(misses.group(1)) if misses else -1,  # answers not served from the cache
    }


def _flush_pages(redis_url: str) -> None:
    import redis

    store = redis.Redis.from_url(redis_url)
    for key in store.scan_iter("meegaan:page:*"):
        store.delete(key)


def run(
    database_url: str,
    detail_ids: list[int],
    label: str,
    seconds: int = 10,
    warmup: int = 10,
    redis_url: str = "",
) -> dict[str, Any]:
    """Hello world, the app with caches, the app without: throughput and latency at 50
    connections, all served by gunicorn the same way."""
    if shutil.which("wrk") is None:
        print("http: wrk is not installed (apt-get install wrk); skipped", flush=True)
        return {}
    with tempfile.TemporaryDirectory(prefix="meegaan-http-") as tmp:
        work = Path(tmp)
        paths = work / "paths.txt"
        paths.write_text("\n".join(urls(detail_ids)) + "\n")
        (work / "hello.py").write_text(HELLO)
        hello_paths = work / "hello.txt"
        hello_paths.write_text("/hello\n")
        with gunicorn("hello:app", {}, work, "/hello") as base:
            hello = wrk(base, hello_paths, seconds, 50)
        env = {
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": tmp,
            "MAP_TILE_URL": "/static/img/tile.png",
            "GEOCODER_ENABLED": "0",
            # Served as in production, on loopback (where plain http is allowed); gunicorn()
            # sets PUBLIC_BASE_URL and TRUSTED_HOSTS to where it serves.
            "MEEGAAN_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32),
        }
        figures = {"hello": hello}
        modes = [("cached", {"PAGE_CACHE": "memory"}), ("uncached", {"PAGE_CACHE": "off"})]
        if redis_url:  # one cache shared by every worker, as on several machines
            modes.insert(1, ("redis", {"PAGE_CACHE": "redis", "REDIS_URL": redis_url}))
        for mode, cache_env in modes:
            if redis_url and mode == "redis":
                _flush_pages(redis_url)
            with gunicorn("wsgi:app", {**env, **cache_env}, ROOT, "/") as base:
                # Warm up (imports, first renders) over every URL, as a running site is; with a
                # cache, until every worker has every page (a round without a miss).
                warm = wrk(base, paths, warmup, 10)
                for _ in range(WARM_ROUNDS if mode != "uncached" else 0):
                    if warm["misses"] == 0:
                        break
                    warm = wrk(base, paths, 5, 10)
                figures[mode] = wrk(base, paths, seconds, 50)
    for name, f in figures.items():
        served = f"{f['misses']} of {f['requests']} not from the cache" if name != "hello" else ""
        print(
            f"http, {label}, {name:8}: {f['rps']:8.1f} req/s, p50 {f['p50_ms']} ms, "
            f"p90 {f['p90_ms']} ms, p99 {f['p99_ms']} ms, non-2xx {f['non_2xx']}; {served}",
            flush=True,
        )
    return figures
