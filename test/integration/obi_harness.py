# SPDX-License-Identifier: Apache-2.0
"""Harness for obi's integration tests (Python standard library only).

A test is a standalone script:

    import obi_harness as h

    def main():
        port = h.free_port()
        srv = h.start_backend(port)
        obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port)})
        ...
        spans = obi.wait_spans(1)
        h.expect_span(spans[0], "the GET", {"kind": "SERVER", "url.path": "/"})

    h.run(main)

run() skips with exit code 77 when not root or OBI_BIN is missing, turns a failure into exit
code 1 with a message of what was expected and what was got, followed by obi's stderr, its
spans and the output of every process the test started, and kills every process it started
(process groups; also on failure, on SIGTERM/SIGINT, and via PR_SET_PDEATHSIG if the test itself
is killed).

The OTLP receiver (OtlpReceiver and the decoded request helpers) is in harness_otlp.py.
"""
import atexit
import ctypes
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = os.path.join(HERE, "servers")
PYTHON = sys.executable
SKIP_CODE = 77

OBI_BIN = os.environ.get("OBI_BIN", "")

_procs = []      # every Proc started, killed at exit
_obis = []       # every Obi started, stopped at exit, dumped on failure
_tmpdirs = []
_main_thread = threading.main_thread()


class TestFailure(AssertionError):
    pass


class Skip(Exception):
    pass


# --- assertions --------------------------------------------------------------------------------

def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def check_eq(got, want, what):
    if got != want:
        fail(f"{what}: expected {want!r}, got {got!r}")


class Problems(list):
    """Collects every mismatch before failing, so one run shows them all."""

    def eq(self, what, got, want):
        if got != want or type(got) is not type(want):
            self.append(f"{what}: expected {want!r}, got {got!r}")

    def true(self, cond, what):
        if not cond:
            self.append(what)

    def raise_if_any(self, header):
        if self:
            shown = self[:40]
            more = f"\n  ... and {len(self) - 40} more" if len(self) > 40 else ""
            fail(header + ":\n  " + "\n  ".join(shown) + more)


# --- process management ------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _child_setup():
    # Dies with the test (the test runner may SIGKILL us); the child is a session leader, so
    # killpg reaches everything it forks.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def clean_env(extra=None):
    """The test's environment without OTEL_* and proxy variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OTEL_") and k.lower() not in ("http_proxy", "https_proxy",
                                                               "all_proxy", "no_proxy")}
    env.update(extra or {})
    return env


def tmpdir(prefix="obi-it-"):
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    _tmpdirs.append(d)
    return d


class Proc:
    """A child process in its own process group; stdout and stderr go to a log file."""

    def __init__(self, argv, name=None, env=None, cwd=None, stdin=False):
        check(threading.current_thread() is _main_thread,
              "harness bug: start processes from the main thread (PR_SET_PDEATHSIG)")
        self.name = name or os.path.basename(argv[0])
        self.argv = list(argv)
        self.log_path = os.path.join(tmpdir("obi-it-log-"), self.name + ".log")
        self._log = open(self.log_path, "wb")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=self._log, stderr=subprocess.STDOUT,
                                  env=clean_env(env), cwd=cwd, start_new_session=True,
                                  preexec_fn=_child_setup)
        _procs.append(self)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_output(self, pattern, timeout=10.0):
        """Waits for a line matching the regex `pattern` in the output; returns the match."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.output())
            if m:
                return m
            if not self.alive():
                fail(f"{self.name} (pid {self.pid}) exited with code {self.p.returncode} before "
                     f"printing /{pattern}/; its output:\n{self.output()}")
            if time.monotonic() > deadline:
                fail(f"{self.name} (pid {self.pid}) did not print /{pattern}/ within {timeout} s;"
                     f" its output:\n{self.output()}")
            time.sleep(0.02)

    def send_line(self, line):
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()

    def kill(self, timeout=3.0):
        if self.p.poll() is None:
            _signal_group(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # the group may outlive its leader (e.g. nginx workers)
        _signal_group(self.p.pid, signal.SIGKILL)
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        if self.p.stdin:
            try:
                self.p.stdin.close()
            except OSError:
                pass
        self._log.close()


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def children_of(pid):
    """Pids whose parent is `pid`."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(d))
    return sorted(out)


def exe_basename(pid):
    """Basename of the process's executable (/proc/<pid>/exe): obi's default service name."""
    return os.path.basename(os.readlink(f"/proc/{pid}/exe"))


# --- ports -------------------------------------------------------------------------------------

def free_port(host="127.0.0.1"):
    """A TCP port the kernel considers free on `host` (127.0.0.1; "::1"; "::" means free for a
    dual-stack socket, i.e. on every IPv6 and IPv4 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        if host == "::":
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind((host, 0))
        return s.getsockname()[1]


def listening_ports():
    """Ports in LISTEN state (from /proc/net/tcp{,6}); opens no connection."""
    ports = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == "0A":
                        ports.add(int(cols[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def wait_listening(port, proc=None, timeout=10.0):
    """Waits until something listens on `port`, without connecting to it."""
    deadline = time.monotonic() + timeout
    while port not in listening_ports():
        if proc is not None and not proc.alive():
            fail(f"{proc.name} (pid {proc.pid}) exited with code {proc.p.returncode} before "
                 f"listening on port {port}; its output:\n{proc.output()}")
        if time.monotonic() > deadline:
            extra = f"; its output:\n{proc.output()}" if proc else ""
            fail(f"nothing listens on port {port} after {timeout} s{extra}")
        time.sleep(0.01)


# --- programs under test -----------------------------------------------------------------------

def start_http_server(port, files, name="http.server", bind="127.0.0.1", python=PYTHON):
    """`python3 -m http.server` on bind:port (bind "::1" for IPv6 only, "::" for dual stack)
    serving a temp dir holding `files` ({relative name: bytes}), run by the interpreter
    `python`. Returns the Proc, with .dir set."""
    d = tmpdir("obi-it-www-")
    for rel, data in files.items():
        path = os.path.join(d, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    p = Proc([python, "-u", "-m", "http.server", "--bind", bind, "--directory", d,
              str(port)], name=name)
    p.dir = d
    wait_listening(port, p)
    return p


def start_backend(port, protocol="HTTP/1.1", env=None, fork=False, name="backend", wait=True):
    """servers/backend.py on 127.0.0.1:port (see its docstring for the routes)."""
    argv = [PYTHON, "-u", os.path.join(SERVERS, "backend.py"), "--port", str(port),
            "--protocol", protocol]
    if fork:
        argv.append("--fork")
    p = Proc(argv, name=name, env=env)
    if wait:
        p.wait_output(r"^READY port=\d+")
        wait_listening(port, p)
    return p


def r_body_size(i):
    """Body size of the backend's /r/<i>."""
    return 16 + i % 64


BACKEND_FIXED = {"/": b"ok\n", "/a": b"alpha\n", "/b": b"bravo!!\n"}
BACKEND_NOT_FOUND = b"not found\n"


class Nginx(Proc):
    """nginx (master + 1 worker) listening on 127.0.0.1:listen_port, reverse proxy to
    127.0.0.1:backend_port through a keep-alive upstream named `obi_backend`."""

    UPSTREAM = "obi_backend"

    def __init__(self, listen_port, backend_port):
        d = tmpdir("obi-it-nginx-")
        self.dir = d
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""daemon off;
master_process on;
worker_processes 1;
error_log {d}/error.log info;
pid {d}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream {self.UPSTREAM} {{
        server 127.0.0.1:{backend_port};
        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{listen_port};
        location / {{
            proxy_pass http://{self.UPSTREAM};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
""")
        super().__init__(["nginx", "-p", d, "-c", conf, "-e", f"{d}/error.log"], name="nginx")
        self.port = listen_port
        try:
            wait_listening(listen_port, self)
        except TestFailure as e:
            fail(f"{e}\nnginx error.log:\n{self.error_log()}")
        self.worker = self._wait_worker()

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _wait_worker(self, timeout=10.0):
        return wait_nginx_workers(self.pid, 1, self.error_log, timeout)[0]


class NginxServer(Proc):
    """nginx (master + `workers` workers) listening on 127.0.0.1:listen_port with the given
    `locations` (the body of its one server block), e.g. a static root or `return 200`.
    With wait=True waits for the port and the workers (.workers, sorted pids)."""

    def __init__(self, listen_port, locations, workers=1, http_extra="", wait=True,
                 name="nginx"):
        d = tmpdir("obi-it-nginx-")
        self.dir = d
        self.port = listen_port
        self.n_workers = workers
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""daemon off;
master_process on;
worker_processes {workers};
error_log {d}/error.log info;
pid {d}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    default_type application/octet-stream;
{http_extra}
    server {{
        listen 127.0.0.1:{listen_port};
{locations}
    }}
}}
""")
        super().__init__(["nginx", "-p", d, "-c", conf, "-e", f"{d}/error.log"], name=name)
        self.workers = []
        if wait:
            self.wait_ready()

    def wait_ready(self):
        try:
            wait_listening(self.port, self)
        except TestFailure as e:
            fail(f"{e}\nnginx error.log:\n{self.error_log()}")
        self.workers = self._wait_workers()
        return self.workers

    error_log = Nginx.error_log

    def _wait_workers(self, timeout=10.0):
        return wait_nginx_workers(self.pid, self.n_workers, self.error_log, timeout)


def wait_nginx_workers(master, count, error_log, timeout=10.0):
    """Waits until nginx master `master` has exactly `count` worker processes; returns their
    pids. Fails (with nginx's error.log) when that does not happen within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        workers = []
        for c in children_of(master):
            try:
                with open(f"/proc/{c}/cmdline", "rb") as f:
                    if f.read().startswith(b"nginx: worker process"):
                        workers.append(c)
            except OSError:
                pass
        if len(workers) == count:
            return workers
        if time.monotonic() > deadline:
            fail(f"nginx master {master}: expected {count} worker(s), found {workers}; "
                 f"error.log:\n{error_log()}")
        time.sleep(0.02)


def exchange_until_close(port, request, timeout=10):
    """Sends `request` (bytes) on a new connection and reads until the server closes it.
    Returns (client port, everything received)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        cport = s.getsockname()[1]
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return cport, data


def curl(url, *args, timeout=10):
    """Runs curl; returns its -w '%{json}' dict (http_code, size_download, local_port, ...)
    plus 'body' (bytes)."""
    d = tmpdir("obi-it-curl-")
    body_path = os.path.join(d, "body")
    argv = ["curl", "-sS", "--noproxy", "*", "--max-time", str(timeout), "-o", body_path,
            "-w", "%{json}", *args, url]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=clean_env(),
                       timeout=timeout + 5)
    if r.returncode != 0:
        fail(f"{' '.join(argv)} failed with code {r.returncode}: {r.stderr.decode()}")
    info = json.loads(r.stdout)
    with open(body_path, "rb") as f:
        info["body"] = f.read()
    return info


# --- obi ---------------------------------------------------------------------------------------

READY_TIMEOUT = 20.0


class Obi:
    """obi running as a child; stdout lines parsed as JSON spans (or kept as text lines)."""

    def __init__(self, env=None, args=(), printer="json", wait_ready=True, name="obi",
                 wrapper=()):
        """`wrapper`: argv run in front of obi (e.g. unshare ... sh -c '... exec "$0" "$@"');
        then set .term_pid to the pid stop() must signal when it is not the wrapper's."""
        check(OBI_BIN and os.access(OBI_BIN, os.X_OK), f"OBI_BIN={OBI_BIN!r} is not executable")
        check(threading.current_thread() is _main_thread,
              "harness bug: start obi from the main thread (PR_SET_PDEATHSIG)")
        self.name = name
        full = {}
        if printer is not None:
            full["OTEL_EBPF_TRACE_PRINTER"] = printer
        # scripts/test.sh runs the suite a second time on the syscall hooks
        if os.environ.get("OBI_TEST_DATA_HOOKS"):
            full["OTEL_EBPF_BPF_DATA_HOOKS"] = os.environ["OBI_TEST_DATA_HOOKS"]
        full.update(env or {})
        self.env = full
        self.args = list(args)
        self.printer = printer
        self.lines = []       # every stdout line (text)
        self.spans = []       # parsed JSON objects (json printer)
        self.bad_lines = []   # stdout lines that are not a JSON object (json printer)
        self.err_lines = []   # stderr lines
        self.returncode = None
        self._cond = threading.Condition()
        self._stopped = False
        self.wrapper = list(wrapper)
        self.p = subprocess.Popen([*self.wrapper, OBI_BIN, *self.args],
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=clean_env(full), start_new_session=True,
                                  preexec_fn=_child_setup)
        self.term_pid = self.p.pid   # the process stop() sends SIGTERM to
        _obis.append(self)
        self._readers = [threading.Thread(target=self._read, args=(self.p.stdout, True),
                                          daemon=True),
                         threading.Thread(target=self._read, args=(self.p.stderr, False),
                                          daemon=True)]
        for t in self._readers:
            t.start()
        if wait_ready:
            self.wait_ready()

    @property
    def pid(self):
        return self.p.pid

    def _read(self, stream, is_stdout):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                if not is_stdout:
                    self.err_lines.append(line)
                else:
                    self.lines.append(line)
                    if self.printer == "json":
                        try:
                            obj = json.loads(line)
                            if not isinstance(obj, dict):
                                raise ValueError("not an object")
                            self.spans.append(obj)
                        except ValueError:
                            self.bad_lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def stderr(self):
        with self._cond:
            return "\n".join(self.err_lines)

    def _wait(self, cond_fn, timeout):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not cond_fn():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def wait_stderr(self, pattern, timeout=10.0, what=None):
        """Waits for a stderr line matching regex `pattern`; returns the match."""
        rx = re.compile(pattern)
        found = []

        def cond():
            for line in self.err_lines:
                m = rx.search(line)
                if m:
                    found.append(m)
                    return True
            return self.p.poll() is not None and not any(t.is_alive() for t in self._readers)

        self._wait(cond, timeout)
        if found:
            return found[0]
        state = (f"obi exited with code {self.p.poll()}" if self.p.poll() is not None
                 else f"not within {timeout} s")
        fail(f"{what or 'obi stderr line'} /{pattern}/ expected, {state}")

    def wait_ready(self, timeout=READY_TIMEOUT):
        self.wait_stderr(r"obi ready", timeout, "start-up line 'obi ready'")

    def instrumented_pids(self):
        with self._cond:
            return [int(m.group(1)) for line in self.err_lines
                    for m in [re.search(r"instrumenting process pid=(\d+)", line)] if m]

    def wait_instrumented(self, pid, timeout=10.0):
        return self.wait_stderr(rf"instrumenting process pid={pid}\b", timeout,
                                f"log line 'instrumenting process pid={pid}'")

    def expect_instrumented(self, pids, only=False, timeout=5.0):
        """Waits for an 'instrumenting process pid=' line for each of `pids`; with only=True
        also fails when any other pid was instrumented."""
        for pid in pids:
            self.wait_instrumented(pid, timeout)
        if only:
            check(sorted(set(self.instrumented_pids())) == sorted(set(pids)),
                  f"instrumented pids: expected only {sorted(pids)}, got "
                  f"{self.instrumented_pids()}")

    def summary(self):
        """The counters of the last 'summary:' stderr line (printed at exit) as {name: int};
        fails when there is none."""
        with self._cond:
            lines = [l for l in self.err_lines if "summary:" in l]
        check(lines, "obi printed no 'summary:' line on stderr")
        counters = lines[-1].split("summary:", 1)[1]
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counters)}

    def _check_bad_lines(self):
        if self.bad_lines:
            fail(f"obi printed {len(self.bad_lines)} stdout line(s) that are not JSON objects, "
                 f"first: {self.bad_lines[0]!r}")

    def wait_spans(self, count, pred=None, timeout=10.0, settle=0.5, what="spans"):
        """Waits until `count` spans (matching `pred`, default all) were printed, then `settle`
        seconds more, and fails unless exactly `count` match. Returns them in printed order."""
        def matching():
            return [s for s in self.spans if pred is None or pred(s)]

        ok = self._wait(lambda: len(matching()) >= count, timeout)
        with self._cond:
            got = matching()
        self._check_bad_lines()
        if not ok:
            fail(f"expected {count} {what}, got {len(got)} within {timeout} s")
        time.sleep(settle)
        with self._cond:
            got = matching()
        self._check_bad_lines()
        if len(got) != count:
            fail(f"expected exactly {count} {what}, got {len(got)} (extra spans arrived within "
                 f"{settle} s after the expected count was reached)")
        return got

    def wait_lines(self, count, timeout=10.0, settle=0.5):
        """Like wait_spans for the text printer: exactly `count` stdout lines."""
        ok = self._wait(lambda: len(self.lines) >= count, timeout)
        if not ok:
            fail(f"expected {count} stdout lines, got {len(self.lines)} within {timeout} s")
        time.sleep(settle)
        with self._cond:
            got = list(self.lines)
        if len(got) != count:
            fail(f"expected exactly {count} stdout lines, got {len(got)}")
        return got

    def stop(self, expect_code=0, timeout=10.0, expect_total=None):
        """SIGTERM, wait for exit; fails unless the exit code is `expect_code` (None: any) and,
        when `expect_total` is given, unless exactly that many spans were printed in all."""
        if self._stopped:
            return self.returncode
        self._stopped = True
        if self.p.poll() is None:
            try:
                os.kill(self.term_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.p.pid, signal.SIGKILL)
                self.p.wait(5)
                self._join()
                fail(f"obi did not exit within {timeout} s of SIGTERM (killed it)")
        self._join()
        self.returncode = self.p.returncode
        if expect_code is not None and self.returncode != expect_code:
            fail(f"obi exit code after SIGTERM: expected {expect_code}, got {self.returncode}")
        if self.printer == "json":
            self._check_bad_lines()
        if expect_total is not None:
            n = len(self.spans) if self.printer == "json" else len(self.lines)
            check(n == expect_total, f"expected exactly {expect_total} spans in obi's whole "
                  f"output (checked after it exited), got {n}")
        return self.returncode

    def kill9(self):
        """SIGKILL obi itself (not its group), as `kill -9 <pid>` would."""
        os.kill(self.p.pid, signal.SIGKILL)
        self.p.wait(10)
        self._stopped = True
        self.returncode = self.p.returncode
        self._join()

    def _join(self):
        for t in self._readers:
            t.join(5)

    def _force_stop(self):
        if self.p.poll() is None:
            _signal_group(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                _signal_group(self.p.pid, signal.SIGKILL)
                try:
                    self.p.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        self._join()

    def dump(self, max_lines=60):
        with self._cond:
            err = list(self.err_lines)
            out = list(self.lines)
        half = max_lines // 2
        shown = out if len(out) <= max_lines else (
            out[:half] + [f"... {len(out) - max_lines} lines left out ..."] + out[-half:])
        env = " ".join(f"{k}={v}" for k, v in self.env.items())
        return (f"--- {self.name} (pid {self.pid}, exit {self.p.poll()}): {env} "
                f"{' '.join(self.wrapper + [OBI_BIN] + self.args)}\n"
                f"--- {self.name} stderr ({len(err)} lines):\n" + "\n".join(err) + "\n"
                f"--- {self.name} stdout ({len(out)} lines):\n" + "\n".join(shown))


def otlp_rss_kb(pid):
    """VmRSS of a process in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    fail(f"no VmRSS for pid {pid}")


def _bpftool_json(*args):
    check(shutil.which("bpftool"), "bpftool is not installed (scripts/install-deps.sh)")
    r = subprocess.run(["bpftool", "-j", *args], capture_output=True, stdin=subprocess.DEVNULL,
                       timeout=60)
    check(r.returncode == 0, f"bpftool {' '.join(args)} failed: "
          f"{r.stderr.decode(errors='replace')}")
    return json.loads(r.stdout)


def bpf_maps_of(pid):
    """{name: id} of the BPF maps of process `pid` (obi): the map_ids of the programs it holds
    open (prog_id in /proc/<pid>/fdinfo) and the maps it holds open (map_id)."""
    prog_ids, map_ids = set(), set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                text = f.read()
        except OSError:
            continue
        for key, ids in (("prog_id", prog_ids), ("map_id", map_ids)):
            m = re.search(rf"^{key}:\s*(\d+)", text, re.M)
            if m:
                ids.add(int(m.group(1)))
    for prog in _bpftool_json("prog", "show"):
        if prog["id"] in prog_ids:
            map_ids.update(prog.get("map_ids", []))
    return {m["name"]: m["id"] for m in _bpftool_json("map", "show")
            if m["id"] in map_ids and "name" in m}


def bpf_map_entries(map_id):
    """Number of entries in a BPF hash map (bpftool map dump); for an array map, one of obi's
    slot tables (conn_slots, thread_slots, inject_slots), the slots with an owner (a value
    whose first eight bytes are not zero)."""
    dump = _bpftool_json("map", "dump", "id", str(map_id))
    if _bpftool_json("map", "show", "id", str(map_id)).get("type") != "array":
        return len(dump)
    return sum(1 for e in dump if any(int(b, 16) for b in e["value"][:8]))


# --- span checks -------------------------------------------------------------------------------

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
RFC3339_US = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
NO_PARENT = "0" * 16

COMMON_KEYS = {
    "time": str, "start_time_unix_nano": int, "handler_start_unix_nano": int,
    "end_time_unix_nano": int, "duration_ns": int, "handler_duration_ns": int, "kind": str,
    "type": str, "trace_id": str, "span_id": str, "parent_span_id": str, "trace_flags": str,
    "traceparent": str, "http.request.method": str, "url.path": str,
    "http.response.status_code": int, "http.request.body.size": int,
    "http.response.body.size": int, "server.address": str, "server.port": int,
    "network.local.address": str, "network.local.port": int, "network.peer.address": str,
    "network.peer.port": int, "process.pid": int, "thread.id": int, "service.name": str,
    "telemetry.sdk.language": str, "error": bool, "otel.status_code": str,
}


def span_problems(span, label, since_ns=None):
    """Structural checks every span must pass: keys and types, ids, traceparent, times."""
    p = Problems()
    for key, typ in COMMON_KEYS.items():
        if key not in span:
            p.append(f"{label}: key {key!r} missing")
        elif type(span[key]) is not typ:
            p.append(f"{label}: {key!r} should be {typ.__name__}, got {span[key]!r}")
    if span.get("kind") == "SERVER" and not isinstance(span.get("client.address"), str):
        p.append(f"{label}: server span without a string 'client.address'")
    if p:
        return p
    kind, typ = span["kind"], span["type"]
    p.true((kind, typ) in (("SERVER", "HTTP"), ("CLIENT", "HTTPClient")),
           f"{label}: kind/type {kind!r}/{typ!r} should be SERVER/HTTP or CLIENT/HTTPClient")
    tid, sid, par = span["trace_id"], span["span_id"], span["parent_span_id"]
    p.true(HEX32.match(tid) and tid != "0" * 32, f"{label}: bad trace_id {tid!r}")
    p.true(HEX16.match(sid) and sid != NO_PARENT, f"{label}: bad span_id {sid!r}")
    p.true(HEX16.match(par), f"{label}: bad parent_span_id {par!r}")
    p.eq(f"{label}: trace_flags", span["trace_flags"], "01")
    p.eq(f"{label}: traceparent", span["traceparent"], f"00-{tid}-{sid}-01")
    st, hs, en = (span["start_time_unix_nano"], span["handler_start_unix_nano"],
                  span["end_time_unix_nano"])
    p.true(st <= hs <= en, f"{label}: times not ordered: start {st} handler_start {hs} end {en}")
    p.eq(f"{label}: duration_ns (end - start)", span["duration_ns"], en - st)
    p.eq(f"{label}: handler_duration_ns (end - handler_start)", span["handler_duration_ns"],
         en - hs)
    now = time.time_ns()
    lo = (since_ns if since_ns is not None else now - 600 * 10**9) - 2 * 10**9
    p.true(lo <= st <= now + 2 * 10**9,
           f"{label}: start_time_unix_nano {st} not between {lo} and now ({now})")
    p.true(en - st < 30 * 10**9, f"{label}: duration {en - st} ns is over 30 s")
    if not RFC3339_US.match(span["time"]):
        p.append(f"{label}: 'time' {span['time']!r} is not RFC 3339 UTC with microseconds")
    else:
        t = datetime.datetime.strptime(span["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc)
        t_ns = int(t.timestamp()) * 10**9 + t.microsecond * 1000
        p.true(st - 1000 <= t_ns <= en,
               f"{label}: 'time' {span['time']} is outside the span [{st}, {en}]")
    status = span["http.response.status_code"]
    err_expected = (status == 0 or status >= 500) if kind == "SERVER" else (
        status == 0 or status >= 400)
    p.eq(f"{label}: error (status {status})", span["error"], err_expected)
    p.eq(f"{label}: otel.status_code (status {status})", span["otel.status_code"],
         "ERROR" if err_expected else "UNSET")
    for k in ("http.request.body.size", "http.response.body.size", "thread.id", "process.pid"):
        p.true(span[k] >= 0, f"{label}: {k} negative: {span[k]}")
    return p


def expect_span(span, label, fields, since_ns=None, problems=None):
    """Structural checks plus exact `fields` ({key: value}). Fails at once unless `problems`
    (a Problems) is given to collect into."""
    p = span_problems(span, label, since_ns)
    for k, v in fields.items():
        p.eq(f"{label}: {k}", span.get(k), v)
    if problems is not None:
        problems.extend(p)
        return
    p.raise_if_any(f"span mismatch ({label})\n  span: {json.dumps(span)}")


def expect_distinct_ids(spans):
    ids = [s.get("span_id") for s in spans]
    dups = {i for i in ids if ids.count(i) > 1}
    check(not dups, f"span ids should be distinct, repeated: {sorted(dups)[:5]}")


def short(span):
    keys = ("kind", "http.request.method", "url.path", "http.response.status_code",
            "process.pid", "network.local.port", "network.peer.port")
    return "{" + ", ".join(f"{k}={span.get(k)!r}" for k in keys) + "}"


# --- running a test ----------------------------------------------------------------------------

def require(root=True):
    if not OBI_BIN:
        raise Skip("OBI_BIN is not set (path of the obi binary)")
    if not os.access(OBI_BIN, os.X_OK):
        raise Skip(f"OBI_BIN={OBI_BIN} does not exist or is not executable")
    if root and os.geteuid() != 0:
        raise Skip("needs root (obi loads BPF programs)")


def cleanup():
    for o in list(_obis):
        try:
            o._force_stop()
        except Exception:
            pass
    for p in reversed(_procs):
        try:
            p.kill()
        except Exception:
            pass
    _procs.clear()
    if not os.environ.get("OBI_KEEP_TMP"):
        for d in _tmpdirs:
            shutil.rmtree(d, ignore_errors=True)
        _tmpdirs.clear()


def _on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _report_failure(header):
    out = [header]
    for o in _obis:
        out.append(o.dump())
    for p in _procs:
        text = p.output()
        lines = text.splitlines()
        if len(lines) > 30:
            lines = [f"... {len(lines) - 30} lines left out ..."] + lines[-30:]
        out.append(f"--- {p.name} (pid {p.pid}, exit {p.p.poll()}) output:\n" + "\n".join(lines))
        if isinstance(p, (Nginx, NginxServer)):
            out.append("--- nginx error.log:\n" + p.error_log()[-4000:])
    print("\n".join(out), file=sys.stderr, flush=True)


# An obi built with -DOBI_SANITIZE=ON (ASan + UBSan; scripts/test.sh's build-asan) reports on
# stderr; a report fails the test even when obi was only stopped by the clean-up.
_SANITIZER_REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)"
                               r"|: runtime error: ")
_sanitized = None


def sanitized():
    """True when OBI_BIN is built with AddressSanitizer: slower, and its RSS holds ASan's
    quarantine, so memory bounds are looser."""
    global _sanitized
    if _sanitized is None:
        try:
            with open(OBI_BIN, "rb") as f:
                _sanitized = b"__asan_init" in f.read()
        except OSError:
            _sanitized = False
    return _sanitized


def _sanitizer_findings():
    return [o for o in _obis if any(_SANITIZER_REPORT.search(l) for l in o.err_lines)]


def run(main, needs_root=True):
    """Runs main(); exit 0 on success, 77 on skip, 1 on failure (with a report)."""
    name = os.path.basename(sys.argv[0])
    atexit.register(cleanup)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)
    code = 0
    try:
        require(needs_root)
        main()
    except Skip as e:
        print(f"SKIP {name}: {e}", file=sys.stderr, flush=True)
        code = SKIP_CODE
    except TestFailure as e:
        _report_failure(f"FAIL {name}: {e}")
        code = 1
    except BaseException as e:  # a bug in the test, or interrupted: still clean up
        import traceback
        _report_failure(f"ERROR {name}: {type(e).__name__}: {e}\n{traceback.format_exc()}")
        code = 1
    finally:
        cleanup()
    if code == 0 and _sanitizer_findings():
        _report_failure(f"FAIL {name}: obi reported a sanitizer finding (see its stderr below)")
        code = 1
    if code == 0:
        print(f"PASS {name}", flush=True)
    sys.exit(code)


# --- trace context (traceparent) ----------------------------------------------------------------

TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
PROPAGATION_ON = r"traceparent propagation on: start-up self-test passed"


def start_echo_backend(port, env=None, name="backend"):
    """servers/echo_backend.py on 127.0.0.1:port: backend.py's routes plus /blob/<n> (n bytes
    with a known SHA-256: echo_blob(n)) and POST answering JSON {length, sha256, headers}."""
    p = Proc([PYTHON, "-u", os.path.join(SERVERS, "echo_backend.py"), "--port", str(port)],
             name=name, env=env)
    p.wait_output(r"^READY port=\d+")
    wait_listening(port, p)
    return p


def echo_blob(n):
    """The body of echo_backend.py's /blob/<n>."""
    import hashlib
    return hashlib.shake_256(b"obi-blob-%d" % n).digest(n)


def start_trace_proxy(port, upstream, env=None, name="proxy"):
    """servers/trace_proxy.py: thread-per-connection python proxy on 127.0.0.1:port forwarding
    each request (headers, body) to 127.0.0.1:upstream from the thread that read it."""
    p = Proc([PYTHON, "-u", os.path.join(SERVERS, "trace_proxy.py"), "--port", str(port),
              "--upstream", str(upstream)], name=name, env=env)
    p.wait_output(r"^READY port=\d+")
    wait_listening(port, p)
    return p


class Haproxy(Proc):
    """haproxy in the foreground (-db), `mode tcp` from 127.0.0.1:listen_port to
    127.0.0.1:server_port. No `option splice-auto` (splice would move the bytes without the
    read/write calls obi traces)."""

    def __init__(self, listen_port, server_port, name="haproxy"):
        d = tmpdir("obi-it-haproxy-")
        self.dir = d
        self.port = listen_port
        conf = os.path.join(d, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write(f"""global
    log stderr format raw local0 info
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend obi_fe
    bind 127.0.0.1:{listen_port}
    default_backend obi_be
backend obi_be
    server next 127.0.0.1:{server_port}
""")
        r = subprocess.run(["haproxy", "-c", "-f", conf], capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=30)
        check(r.returncode == 0, f"haproxy -c rejected {conf}: "
              f"{(r.stdout + r.stderr).decode(errors='replace')}")
        super().__init__(["haproxy", "-db", "-f", conf], name=name)
        wait_listening(listen_port, self)


def header_values(pairs, name):
    """Values of header `name` (any case) in a [[name, value], ...] list, in order."""
    return [v for k, v in pairs if k.lower() == name.lower()]


def wait_propagation_on(obi):
    """Fails unless obi logged that its injection self-test passed (propagation on)."""
    bad = [l for l in obi.stderr().splitlines() if "traceparent propagation OFF" in l]
    check(not bad, f"obi turned propagation off: {bad}")
    return obi.wait_stderr(PROPAGATION_ON, 5.0, "log line 'traceparent propagation on: ...'")


def sockhash_cookies(obi):
    """Socket cookies in the sock_hash obi pinned at /sys/fs/bpf/obi/sockhash-<pid> (the sockets
    whose requests it may inject into), read with bpftool."""
    path = f"/sys/fs/bpf/obi/sockhash-{obi.pid}"
    check(shutil.which("bpftool"), "bpftool is not installed (scripts/install-deps.sh)")
    r = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", path], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=30)
    check(r.returncode == 0, f"bpftool map dump pinned {path} failed: "
          f"{r.stderr.decode(errors='replace')}")
    return {int.from_bytes(bytes(int(b, 16) for b in e["key"]), sys.byteorder)
            for e in json.loads(r.stdout)}


def tcp_cookies(pid, peer_port):
    """Socket cookies of `pid`'s established TCP connections to 127.0.0.1:peer_port (ss -e)."""
    r = subprocess.run(["ss", "-Htnpe", "state", "established", "dst",
                        f"127.0.0.1:{peer_port}"], capture_output=True, stdin=subprocess.DEVNULL,
                       timeout=30)
    check(r.returncode == 0, f"ss failed: {r.stderr.decode(errors='replace')}")
    out = set()
    for line in r.stdout.decode().splitlines():
        m = re.search(r"\bsk:([0-9a-f]+)", line)
        if m and re.search(rf"pid={pid},", line):
            out.add(int(m.group(1), 16))
    return out


class CommandClient(Proc):
    """A servers/ script driven by stdin lines that prints "READY pid=<pid>" and answers each
    command with one "RESULT <json>" or "ERROR <json>" line (fionread_client.py,
    http_writer.py)."""

    def __init__(self, script, name=None, env=None):
        super().__init__([PYTHON, "-u", os.path.join(SERVERS, script)],
                         name=name or script.rsplit(".", 1)[0], env=env, stdin=True)
        self.wait_output(r"^READY pid=\d+")
        self.answers = 0

    def cmd(self, line, timeout=90.0):
        """Sends one command; returns (ok, the answer's JSON)."""
        self.send_line(line)
        self.answers += 1
        deadline = time.monotonic() + timeout
        while True:
            got = [l for l in self.output().splitlines() if l.startswith(("RESULT ", "ERROR "))]
            if len(got) >= self.answers:
                kind, _, payload = got[self.answers - 1].partition(" ")
                return kind == "RESULT", json.loads(payload)
            if not self.alive():
                fail(f"{self.name} exited ({self.p.returncode}) during {line!r}:\n"
                     f"{self.output()}")
            if time.monotonic() > deadline:
                fail(f"{self.name}: no answer to {line!r} within {timeout} s")
            time.sleep(0.02)

    def ok(self, line, timeout=90.0):
        """cmd() that fails the test on an ERROR answer."""
        good, r = self.cmd(line, timeout)
        check(good, f"{self.name}: {line!r} failed: {r}")
        return r
