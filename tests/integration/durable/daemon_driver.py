"""daemon_driver.py - what the durable actors' tests (crash.py, once.py)
share: a real `theater server` on a fresh home of their own, driven over
its unix socket as a user would, and the checks every such test ends with.

    import daemon_driver as d
    d.new_home("theater-crash-")       # d.HOME, d.SOCK
    d.start_daemon()                   # seconds until it answered /v1/health
    st, body = d.api("GET", "/v1/actors")
    d.kill_daemon()                    # SIGKILL, as a crash
    d.fail("...")                      # exits 1 with the server log's tail

THEATER (the program) comes from the environment.  No daemon is left
behind however the test ends (a failure, a skip, an exception).
"""
import atexit
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

THEATER = os.environ["THEATER"]
HOME = "?"  # the test's home (new_home); "?" before it has one
SOCK = None  # the daemon's API socket in HOME
DAEMON = None  # the running `theater server` (subprocess.Popen)
NOTE = ""  # said with every failure, before the home ("seed 12, ")
API_TIMEOUT = 60  # default seconds of one API call
START_WITHIN = 30  # default seconds a starting daemon has to answer


def new_home(prefix):
    """A fresh THEATER_HOME for the test: HOME and SOCK."""
    global HOME, SOCK
    HOME = tempfile.mkdtemp(prefix=prefix)
    SOCK = os.path.join(HOME, "theater.sock")
    return HOME


def stop_at_exit():
    daemon = DAEMON
    if daemon is not None and daemon.poll() is None:
        daemon.kill()
        daemon.wait()


atexit.register(stop_at_exit)


def fail(msg):
    print("FAIL: %s (%shome kept at %s)" % (msg, NOTE, HOME), file=sys.stderr)
    log = os.path.join(HOME, "server.log")
    if os.path.exists(log):
        with open(log) as f:
            sys.stderr.write("--- server log (last lines)\n" + "".join(f.readlines()[-25:]))
    stop_at_exit()
    sys.exit(1)


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("theater", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def api(method, path, body=None, timeout=None):
    """One API call: (HTTP status, body bytes).  A dict or list body goes
    as JSON."""
    c = UnixConn(SOCK, API_TIMEOUT if timeout is None else timeout)
    try:
        headers = {}
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def start_daemon(within=None):
    """Start `theater server` on HOME (its stderr to server.log) and wait
    until it answers (at most `within` seconds, START_WITHIN if None); the
    seconds that took."""
    global DAEMON
    if within is None:
        within = START_WITHIN
    log = open(os.path.join(HOME, "server.log"), "a")
    DAEMON = subprocess.Popen([THEATER, "server", "--home", HOME], stderr=log,
                              stdout=subprocess.DEVNULL)
    t0 = time.time()
    while True:
        try:
            st, _ = api("GET", "/v1/health", timeout=2)
            if st == 200:
                return time.time() - t0
        except OSError:
            pass
        if DAEMON.poll() is not None:
            fail("the daemon exited at start (status %s)" % DAEMON.returncode)
        if time.time() - t0 > within:
            fail("the daemon did not answer within %d s" % within)
        time.sleep(0.01)


def kill_daemon():
    """SIGKILL: the daemon ends as in a crash."""
    DAEMON.send_signal(signal.SIGKILL)
    DAEMON.wait()


def stop_daemon():
    """SIGTERM: the clean end; the daemon's exit status."""
    DAEMON.send_signal(signal.SIGTERM)
    return DAEMON.wait()


def events(aid):
    """The chain of actor `aid` (theater chain events --json)."""
    out = subprocess.run([THEATER, "chain", "events", aid, "--json", "--home", HOME],
                         capture_output=True, text=True)
    if out.returncode != 0:
        fail("chain events %s: %s" % (aid, out.stderr))
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def verify_and_replay(actors):
    """Every chain of the home verifies, and each of `actors` replays
    identically (its recorded code re-run on its recorded inputs)."""
    out = subprocess.run([THEATER, "chain", "verify", "--home", HOME], capture_output=True,
                         text=True)
    if out.returncode != 0:
        fail("chain verify: %s%s" % (out.stdout, out.stderr))
    for aid in actors:
        out = subprocess.run([THEATER, "replay", aid, "--home", HOME], capture_output=True,
                             text=True)
        if out.returncode != 0 or "identical" not in out.stdout:
            fail("replay of %s: %s%s" % (aid, out.stdout, out.stderr))
