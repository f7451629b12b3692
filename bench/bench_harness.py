# SPDX-License-Identifier: Apache-2.0
"""The pieces obi's benchmarks are built from (bench.py's scenarios, bench/cost/'s A/B scripts):
processes and their clean-up, kernel.bpf_stats_enabled, nginx, the Node.js server, a private
PostgreSQL and pgbench, the OTLP sink, obi started and stopped with its summary, BPF program and map snapshots, the wrk and pace
load generators, and Markdown tables. WORK (the run's temp dir, made by make_work_dir) and OBI
(the binary) are module globals a caller may set. Python standard library only.
"""
import json
import os
import pwd
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OBI = os.environ.get("OBI_BIN", os.path.join(ROOT, "build", "obi"))
PACE = os.environ.get("PACE_BIN", os.path.join(ROOT, "build", "bench", "pace"))
# obi built with -DOBI_BENCH_FLOOR=ON: the same hooks, programs that stop after the pid filter
OBI_FLOOR = os.environ.get("OBI_FLOOR_BIN", os.path.join(ROOT, "build-floor", "obi"))
PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
CLK_TCK = os.sysconf("SC_CLK_TCK")
BPF_STATS = "/proc/sys/kernel/bpf_stats_enabled"

PROCS = []             # every process started here, for the clean-up
WORK = None            # temp dir of this run
BPF_STATS_SAVED = None


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# --- processes --------------------------------------------------------------------------------

def spawn(args, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(args, start_new_session=True, **kw)
    PROCS.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=15):
    """Stops a process started by spawn (its own process group), SIGKILL after timeout."""
    if p is None:
        return None
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            log("pid %d did not stop on signal %d in %d s: SIGKILL" % (p.pid, sig, timeout))
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    if p in PROCS:
        PROCS.remove(p)
    return p.returncode


def cleanup():
    for p in list(PROCS):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        PROCS.remove(p)
    restore_bpf_stats()
    if WORK and not os.environ.get("BENCH_KEEP_TMP"):
        shutil.rmtree(WORK, ignore_errors=True)


def make_work_dir(prefix="obi-bench-"):
    """The temp dir of this run (configs, logs); cleanup() removes it."""
    global WORK
    WORK = tempfile.mkdtemp(prefix=prefix)
    return WORK


def set_bpf_stats(on):
    global BPF_STATS_SAVED
    if BPF_STATS_SAVED is None:
        with open(BPF_STATS) as f:
            BPF_STATS_SAVED = f.read().strip()
    with open(BPF_STATS, "w") as f:
        f.write("1" if on else "0")


def restore_bpf_stats():
    global BPF_STATS_SAVED
    if BPF_STATS_SAVED is not None:
        with open(BPF_STATS, "w") as f:
            f.write(BPF_STATS_SAVED)
        BPF_STATS_SAVED = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path="/", timeout=5.0):
    """One GET on a new connection; returns (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n"
                   % (path, port)).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def wait_http(port, path="/", timeout=15.0):
    end = time.monotonic() + timeout
    while True:
        try:
            if http_get(port, path, 2.0)[0] == 200:
                return
        except (OSError, IndexError, ValueError):
            pass
        if time.monotonic() > end:
            raise RuntimeError("nothing answers on 127.0.0.1:%d%s" % (port, path))
        time.sleep(0.05)


def machine_cpu_s():
    """Busy time of all CPUs (everything but idle and iowait), seconds."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / CLK_TCK


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def rotate(lst, r):
    r %= len(lst)
    return lst[r:] + lst[:r]


# --- servers ----------------------------------------------------------------------------------

NGINX_COMMON = """worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path {d}/tmp_body;
  proxy_temp_path {d}/tmp_proxy;
  fastcgi_temp_path {d}/tmp_fcgi;
  uwsgi_temp_path {d}/tmp_uwsgi;
  scgi_temp_path {d}/tmp_scgi;
{body}
}}
"""

NGINX_ORIGIN = """  server {{
    listen 127.0.0.1:{port};
    default_type text/plain;
    location / {{ return 200 "hello from nginx\\n"; }}
    location = /tp {{ return 200 "traceparent=$http_traceparent\\n"; }}
    location = /nginx_status {{ stub_status; }}
  }}"""

NGINX_PROXY = """  upstream backend {{
    server 127.0.0.1:{backend};
    keepalive 32;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
    location = /nginx_status {{ stub_status; }}
  }}"""


class Nginx:
    """One nginx (master + 1 worker): an origin with a fixed 17-byte body, or a reverse proxy
    with keep-alive upstream connections to `backend`."""

    def __init__(self, name, port, backend=None):
        self.name, self.port, self.backend = name, port, backend
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir, exist_ok=True)
        body = (NGINX_PROXY.format(port=port, backend=backend) if backend
                else NGINX_ORIGIN.format(port=port))
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(NGINX_COMMON.format(d=self.dir, body=body))
        self.p = None

    def start(self):
        err = open(os.path.join(self.dir, "stderr"), "ab")
        self.p = spawn(["nginx", "-c", self.conf, "-p", self.dir + "/", "-e",
                        os.path.join(self.dir, "error.log")], stdout=err, stderr=err)
        err.close()
        try:
            wait_http(self.port, "/nginx_status")
        except RuntimeError as e:
            with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
                raise RuntimeError("%s (nginx %s exit %s): %s" % (e, self.name, self.p.poll(),
                                                                  f.read()[-2000:])) from None
        return self

    def cpu_ns(self):
        """Run time of the master and its workers (schedstat, ns)."""
        pids = [self.p.pid]
        try:
            with open("/proc/%d/task/%d/children" % (self.p.pid, self.p.pid)) as f:
                pids += [int(x) for x in f.read().split()]
        except OSError:
            pass
        total = 0
        for pid in pids:
            try:
                for t in os.listdir("/proc/%d/task" % pid):
                    with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                        total += int(f.read().split()[0])
            except OSError:
                pass
        return total

    def requests(self):
        """nginx's own count of requests (stub_status; this request included)."""
        _, body = http_get(self.port, "/nginx_status")
        return int(body.split(b"\n")[2].split()[2])

    def stop(self):
        stop(self.p, signal.SIGTERM)
        self.p = None


class NodeServer:
    def __init__(self, port, sdk=False, endpoint=None):
        self.port, self.sdk, self.endpoint = port, sdk, endpoint
        self.p = None

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        args = ["node"]
        if self.sdk:
            args += ["--require", "./otel.js"]
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.endpoint
        out = open(os.path.join(WORK, "node.log"), "ab")
        self.p = spawn(args + ["server.js", str(self.port)], cwd=os.path.join(HERE, "node"),
                       env=env, stdout=out, stderr=out)
        out.close()
        wait_http(self.port)
        return self

    def stop(self):
        stop(self.p, signal.SIGTERM)
        self.p = None


class Postgres:
    """A private PostgreSQL (PG_BIN, postgresql-15) on loopback: a cluster made by initdb in
    WORK/postgres (trust authentication, fsync off), the postmaster run as the postgres user in
    a process group of its own, so that cleanup() takes it and its backends with the rest."""

    def __init__(self, port):
        self.port = port
        self.pw = pwd.getpwnam("postgres")
        os.chmod(WORK, 0o711)  # the postgres user reaches its directory, lists nothing
        self.dir = os.path.join(WORK, "postgres")
        self.data, self.sock = os.path.join(self.dir, "data"), os.path.join(self.dir, "sock")
        for d in (self.dir, self.data, self.sock):
            os.mkdir(d, 0o700)
            os.chown(d, self.pw.pw_uid, self.pw.pw_gid)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("OTEL_", "PG", "LC_", "LANG"))}
        self.env.update(LANG="C", HOME=self.dir)
        self.p = None

    def as_postgres(self):
        return {"user": self.pw.pw_uid, "group": self.pw.pw_gid, "extra_groups": [],
                "cwd": self.dir, "env": self.env}

    def run(self, args, timeout=600):
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL, **self.as_postgres())
        if r.returncode:
            raise RuntimeError("%s failed (exit %d): %s" % (" ".join(args), r.returncode,
                                                            (r.stdout + r.stderr)[-2000:]))
        return r.stdout + r.stderr

    def conn_args(self):
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]

    def start(self, timeout=60):
        self.run([os.path.join(PG_BIN, "initdb"), "-D", self.data, "--auth=trust",
                  "-U", "postgres", "-E", "UTF8", "--locale=C"])
        self.log = os.path.join(self.dir, "postgres.log")
        out = open(self.log, "ab")
        self.p = spawn([os.path.join(PG_BIN, "postgres"), "-D", self.data, "-p", str(self.port),
                        "-k", self.sock, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                       stdout=out, stderr=out, **self.as_postgres())
        out.close()
        end = time.monotonic() + timeout
        while subprocess.run([os.path.join(PG_BIN, "pg_isready"), "-q", *self.conn_args()],
                             env=self.env).returncode:
            if self.p.poll() is not None or time.monotonic() > end:
                with open(self.log, errors="replace") as f:
                    raise RuntimeError("postgres (exit %s) not ready on 127.0.0.1:%d: %s" % (
                        self.p.poll(), self.port, f.read()[-2000:]))
            time.sleep(0.1)
        return self

    def version(self):
        return self.run([os.path.join(PG_BIN, "postgres"), "--version"]).strip()

    def pgbench_init(self, scale):
        self.run([os.path.join(PG_BIN, "pgbench"), "-i", "-q", "-s", str(scale),
                  *self.conn_args(), "postgres"])

    def stop(self):
        stop(self.p, signal.SIGINT, 30)  # fast shutdown: the backends end, then the postmaster
        self.p = None


def pgbench(pg, duration, clients=4, threads=2, extra=("-M", "prepared", "-S")):
    """pgbench run as root (its executable is PG_BIN/pgbench, which obi can select) against
    pg's database "postgres", -n (no vacuum first); its own figures."""
    args = [os.path.join(PG_BIN, "pgbench"), *extra, "-c", str(clients), "-j", str(threads),
            "-T", str(duration), "-n", *pg.conn_args(), "postgres"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60,
                       env=pg.env, stdin=subprocess.DEVNULL)
    if r.returncode:
        raise RuntimeError("pgbench failed (exit %d): %s" % (r.returncode,
                                                             (r.stdout + r.stderr)[-2000:]))
    out = r.stdout
    res = {"tps": float(re.search(r"^tps = ([\d.]+) \(without initial connection", out,
                                  re.M).group(1)),
           "transactions": int(re.search(r"number of transactions actually processed: (\d+)",
                                         out).group(1))}
    m = re.search(r"number of failed transactions: (\d+)", out)
    res["failed"] = int(m.group(1)) if m else 0
    m = re.search(r"latency average = ([\d.]+) ms", out)
    res["latency_avg_ms"] = float(m.group(1)) if m else None
    return res


class Sink:
    def __init__(self):
        self.port = free_port()
        self.p = spawn([os.environ.get("SINK_BIN", "sink"), str(self.port)],
                       stdout=subprocess.PIPE, stderr=open(os.path.join(WORK, "sink.err"), "ab"))
        if self.p.stdout.readline().strip() != b"sink ready":
            raise RuntimeError("the OTLP sink did not start")
        self.endpoint = "http://127.0.0.1:%d" % self.port

    def cpu_s(self):
        with open("/proc/%d/stat" % self.p.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def stats(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"GET /stats HTTP/1.1\r\nHost: sink\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                c = s.recv(65536)
                if not c:
                    break
                data += c
        return json.loads(data.partition(b"\r\n\r\n")[2])


# --- obi --------------------------------------------------------------------------------------

def parse_kv(line):
    return {k: int(v) if v.isdigit() else v for k, v in re.findall(r"(\w+)=(\S+)", line)}


class Obi:
    """obi selecting `ports` (and whatever the variables in `env` select); printer disabled
    unless asked; OTLP export to `endpoint` if set."""

    def __init__(self, ports, printer="disabled", endpoint=None, propagation="headers",
                 stdout_path=None, tag="obi", env=None, exe=None):
        self.exe = exe or OBI
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        if ports:
            self.env["OTEL_EBPF_OPEN_PORT"] = ",".join(str(p) for p in ports)
        self.env.update(env or {})
        self.env["OTEL_EBPF_TRACE_PRINTER"] = printer
        self.env["OTEL_EBPF_BPF_CONTEXT_PROPAGATION"] = propagation
        if endpoint:
            self.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        self.stdout_path = stdout_path
        self.err_path = os.path.join(WORK, "%s-%d.stderr" % (tag, time.monotonic_ns()))
        self.p = None
        self.verified = {}  # prog id -> instructions the verifier processed at load
        self.rss_max_kib = 0
        self._sampling = False

    def start(self, timeout=30):
        out = open(self.stdout_path, "wb") if self.stdout_path else subprocess.DEVNULL
        err = open(self.err_path, "wb")
        self.t_exec = time.monotonic()
        self.p = spawn([self.exe], env=self.env, stdout=out, stderr=err)
        err.close()
        if out is not subprocess.DEVNULL:
            out.close()
        end = time.monotonic() + timeout
        while "obi ready" not in self.stderr():
            if self.p.poll() is not None:
                raise RuntimeError("obi exited %s before ready:\n%s" % (self.p.returncode,
                                                                        self.stderr()))
            if time.monotonic() > end:
                raise RuntimeError("obi not ready in %d s:\n%s" % (timeout, self.stderr()))
            time.sleep(0.01)
        self.t_ready = time.monotonic()
        self.rss_idle_kib = self.rss_kib()
        self._sampling = True
        threading.Thread(target=self._sample, daemon=True).start()
        return self

    def _sample(self):
        while self._sampling:
            try:
                rss = self.rss_kib()
            except (OSError, ValueError):
                return
            if rss is None:  # exited (zombie)
                return
            self.rss_max_kib = max(self.rss_max_kib, rss)
            time.sleep(0.2)

    def stderr(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def propagation_line(self):
        m = re.search(r"traceparent propagation[^\n]*", self.stderr())
        return m.group(0) if m else ""

    def status(self, key):
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return None

    def rss_kib(self):
        return self.status("VmRSS")

    def cpu_s(self):
        """user + system CPU of every thread of obi, from /proc/PID/stat (clock ticks)."""
        with open("/proc/%d/stat" % self.p.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def cpu_ns(self):
        """The same from /proc/PID/task/*/schedstat (ns resolution)."""
        total = 0
        for t in os.listdir("/proc/%d/task" % self.p.pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (self.p.pid, t)) as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass
        return total

    def thread_cpu_ns(self):
        """{thread name: ns} from /proc/PID/task/*/schedstat and comm."""
        out = {}
        for t in os.listdir("/proc/%d/task" % self.p.pid):
            try:
                with open("/proc/%d/task/%s/comm" % (self.p.pid, t)) as f:
                    name = f.read().strip()
                with open("/proc/%d/task/%s/schedstat" % (self.p.pid, t)) as f:
                    ns = int(f.read().split()[0])
            except OSError:
                continue
            name = "main thread" if t == str(self.p.pid) else "other threads (OTLP exporter)"
            out[name] = out.get(name, 0) + ns
        return out

    def memory(self):
        """VmRSS and what it is made of (KiB): RssAnon, RssFile, Pss, Private (Private_Clean +
        Private_Dirty of smaps_rollup), the Rss of BPF map mappings (the ring buffer), of shared
        libraries and of the obi binary."""
        m = {k: self.status(k) for k in ("VmRSS", "RssAnon", "RssFile", "RssShmem")}
        bpf = libs = pss = 0
        cur = ""
        with open("/proc/%d/smaps" % self.p.pid) as f:
            for line in f:
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    parts = line.split(None, 5)
                    cur = parts[5].strip() if len(parts) > 5 else ""
                elif line.startswith("Rss:"):
                    kb = int(line.split()[1])
                    if "bpf-map" in cur:
                        bpf += kb
                    elif ".so" in cur:
                        libs += kb
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        m.update(bpf_map_mappings=bpf, shared_libs=libs, Pss=pss)
        # private memory: pages only obi maps (what it costs the host beyond shared libraries)
        priv = 0
        with open("/proc/%d/smaps_rollup" % self.p.pid) as f:
            for line in f:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    priv += int(line.split()[1])
        m.update(Private=priv)
        return m

    def bpf_ids(self):
        """(program ids, map ids) behind obi's file descriptors (fdinfo)."""
        progs, maps = set(), set()
        fddir = "/proc/%d/fd" % self.p.pid
        for fd in os.listdir(fddir):
            try:
                target = os.readlink(os.path.join(fddir, fd))
                if "bpf" not in target:
                    continue
                with open("/proc/%d/fdinfo/%s" % (self.p.pid, fd)) as f:
                    info = f.read()
            except OSError:
                continue
            m = re.search(r"^prog_id:\s*(\d+)", info, re.M)
            if m and ("bpf-prog" in target or "bpf_link" in target):
                progs.add(int(m.group(1)))
                vi = re.search(r"^verified_insns:\s*(\d+)", info, re.M)
                if vi:
                    self.verified[int(m.group(1))] = int(vi.group(1))
            m = re.search(r"^map_id:\s*(\d+)", info, re.M)
            if m and "bpf-map" in target:
                maps.add(int(m.group(1)))
        return progs, maps

    def stop(self, timeout=60):
        self._sampling = False
        stop(self.p, signal.SIGINT, timeout)
        err = self.stderr()
        res = {"exit": self.p.returncode, "rss_idle_kib": self.rss_idle_kib,
               "rss_max_kib": self.rss_max_kib}
        for line in err.splitlines():
            if "otlp summary:" in line:
                res["otlp"] = parse_kv(line.split("otlp summary:", 1)[1])
            elif "summary:" in line:
                res["summary"] = parse_kv(line.split("summary:", 1)[1])
        res["warnings"] = [l for l in err.splitlines() if " WARN " in l or " ERROR " in l][:5]
        return res


def bpftool(*args):
    return json.loads(subprocess.check_output(["bpftool", "-j"] + list(args)))


def prog_snapshot(ids):
    return {p["id"]: p for p in bpftool("prog", "show") if p["id"] in ids}


def maps_of(obi):
    progs, maps = obi.bpf_ids()
    for p in prog_snapshot(progs).values():
        maps.update(p.get("map_ids", []))
    return [m for m in bpftool("map", "show") if m["id"] in maps]


# --- load generators ------------------------------------------------------------------------

def to_us(s):
    m = re.match(r"([\d.]+)(us|ms|s)$", s)
    v = float(m.group(1))
    return v * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]


def wrk(port, duration, conns=20, path="/", prefix=()):
    """wrk's figures; `prefix` goes before the command (bench/cost/split.py: taskset)."""
    out = subprocess.run([*prefix, "wrk", "-t1", "-c%d" % conns, "-d%ds" % duration,
                          "--latency", "http://127.0.0.1:%d%s" % (port, path)],
                         capture_output=True, text=True, check=True).stdout
    r = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
         "requests": int(re.search(r"(\d+) requests in", out).group(1))}
    for pct in ("50", "99"):
        r["p%s_us" % pct] = to_us(re.search(r"^\s+%s%%\s+(\S+)" % pct, out, re.M).group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    r["socket_errors"] = m.group(1) if m else ""
    return r


def pace(port, rate, duration, warmup=0.0, conns=32):
    out = subprocess.run([PACE, "-p", str(port), "-r", str(rate), "-d", str(duration),
                          "-w", str(warmup), "-c", str(conns)],
                         capture_output=True, text=True, timeout=duration + warmup + 60)
    if out.returncode:
        raise RuntimeError("pace failed: %s" % out.stderr)
    return json.loads(out.stdout)


# --- formatting ----------------------------------------------------------------------------

def fmt(v, nd=1, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        v = ("%%.%df" % nd) % v
    return "%s%s" % (v, unit)


def met(ok):
    return "n/a" if ok is None else ("**yes**" if ok else "**NO**")


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)
