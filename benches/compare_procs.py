"""The processes compare.py measures: start on a loopback port, CPU from /proc (user
and system apart, per thread too), and system calls counted with `perf stat`."""

import os
import select
import signal
import socket
import subprocess
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")

# The system calls a server or a proxy makes per request, counted one by one;
# raw_syscalls:sys_enter counts every call, these say which.
SYSCALLS = ("read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg",
            "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "futex", "sched_yield",
            "io_uring_enter", "accept4", "close", "madvise", "mmap", "munmap", "brk")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat_times(path):
    """utime and stime, in seconds, from a /proc stat file."""
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


class Measured:
    """What every measured process shares: a pid, a loopback port, CPU and commands."""

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self):
        return self.proc.pid

    def _wait_accepting(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.02)
        return False

    def cpu_times(self):
        """(user, system) seconds of the whole process, all threads."""
        return _stat_times(f"/proc/{self.pid}/stat")

    def cpu_seconds(self):
        return sum(self.cpu_times())

    def thread_cpu(self):
        """{tid: (name, user + system seconds)} of every thread alive now."""
        out = {}
        task = f"/proc/{self.pid}/task"
        for tid in os.listdir(task):
            try:
                with open(f"{task}/{tid}/comm") as f:
                    name = f.read().strip()
                out[tid] = (name, sum(_stat_times(f"{task}/{tid}/stat")))
            except OSError:
                pass  # the thread ended meanwhile
        return out

    def rss_bytes(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def command(self, line, until=b"END\r\n"):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(line)
            got = b""
            while not got.endswith(until):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            return got

    def flush(self):
        assert self.command(b"flush_all\r\n", until=b"OK\r\n") == b"OK\r\n"

    def stat(self, name):
        for line in self.command(b"stats\r\n").decode().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == name:
                return int(parts[2])
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Server(Measured):
    """A server started with `-l 127.0.0.1 -p PORT` appended, on a port picked now."""

    def __init__(self, name, argv):
        self.name = name
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen(
                argv + ["-l", "127.0.0.1", "-p", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            if self._wait_accepting():
                return
            self.stop()
        raise SystemExit(f"{name} did not start: {' '.join(argv)}")


class Proc(Measured):
    """A process started from a full argv on a known port."""

    def __init__(self, name, argv, port):
        self.name, self.port = name, port
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not self._wait_accepting():
            self.stop()
            raise SystemExit(f"{name} did not start: {' '.join(argv)}")


class SyscallCount:
    """`perf stat` on a pid's threads while the `with` block runs: system calls by
    name (tracepoint counters, cheap enough not to change the run much). perf starts
    with its counters off and turns them on when told through a fifo, answering
    once they count. `counts` is None (and `error` says why) when perf is missing or
    may not trace (perf_event_paranoid)."""

    def __init__(self, pid):
        self.pid, self.counts, self.error, self.perf = pid, None, None, None

    def __enter__(self):
        events = ["raw_syscalls:sys_enter"] + [f"syscalls:sys_enter_{s}" for s in SYSCALLS]
        self.dir = tempfile.TemporaryDirectory(prefix="memkeep-perf-")
        ctl, ack, self.out = (os.path.join(self.dir.name, n) for n in ("ctl", "ack", "out"))
        os.mkfifo(ctl)
        os.mkfifo(ack)
        try:
            self.perf = subprocess.Popen(
                ["perf", "stat", "-x", ",", "-o", self.out, "-D", "-1",
                 "--control", f"fifo:{ctl},{ack}", "-e", ",".join(events), "-p", str(self.pid)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as e:
            self.error = str(e)
            return self
        deadline = time.time() + 10
        ack_fd = os.open(ack, os.O_RDONLY | os.O_NONBLOCK)
        ctl_fd = None
        try:
            while ctl_fd is None and self.perf.poll() is None and time.time() < deadline:
                try:
                    ctl_fd = os.open(ctl, os.O_WRONLY | os.O_NONBLOCK)
                except OSError:  # ENXIO: perf has not opened its end yet
                    select.select([], [], [], 0.01)
            if ctl_fd is None:
                return self
            os.write(ctl_fd, b"enable\n")
            got = b""
            while b"ack" not in got and time.time() < deadline and self.perf.poll() is None:
                ready, _, _ = select.select([ack_fd], [], [], 0.1)
                if ready:
                    got += os.read(ack_fd, 64)
        finally:
            os.close(ack_fd)
            if ctl_fd is not None:
                os.close(ctl_fd)
        return self

    def __exit__(self, *exc):
        if self.perf is None:
            return False
        if self.perf.poll() is None:
            self.perf.send_signal(signal.SIGINT)
        _, err = self.perf.communicate(timeout=30)
        counts = {}
        try:
            with open(self.out) as f:
                lines = f.read().splitlines()
        except OSError:
            lines = []
        for line in lines:
            fields = line.split(",")
            if len(fields) < 3 or not fields[0].strip().isdigit():
                continue
            name = fields[2].replace("syscalls:sys_enter_", "")
            counts["all" if name == "raw_syscalls:sys_enter" else name] = int(fields[0])
        self.dir.cleanup()
        if "all" in counts:
            self.counts = counts
        else:
            self.error = (err or b"").decode(errors="replace").strip()[-300:] or "no counts"
        return False
