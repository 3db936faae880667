"""Background jobs: the trainer CLI in a child process (QProcess), read as JSON-lines events.

The GUI thread never waits on the child: QProcess signals deliver output as it arrives.
Cancel writes ``stop`` to the child's stdin (``--stop-on-stdin``: the engine stops within a
batch and saves), which works on every OS — no POSIX signal, which a Windows console child
would never receive; after a grace period the process is killed. If the app itself dies, the
pipe closes and the child stops the same way. Nothing is left running when the window closes.

A job's first two seconds go to importing PyTorch, longer than a one-photo classify takes, so
the window's :class:`JobRunner` keeps a *spare*: a ``python -m trainer.warm`` process that has
done the imports and waits for its job's arguments on stdin. A job takes the spare when one is
ready (else it starts cold, as before) and a new spare is made when the job ends.
``VEHICLEAPP_SPARE_JOB=0`` turns spares off.
"""

from __future__ import annotations

import json
import os
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Qt, QTimer, Signal

from trainer.atomic import human_size
from trainer.protocol import DISK_FULL, STOP_LINE, STOP_ON_STDIN, Event, Status, is_report_line, status_of_exit
from vehicleapp.commands import trainer_command


def disk_full_words(event: dict) -> str:
    """The app's sentence for a ``disk_full`` error event: what, how much, where, what to do."""
    path = Path(str(event.get("path", "")))
    needed, free = event.get("needed"), event.get("free")
    need = f"It needs {human_size(needed)}" if isinstance(needed, int) else "It needs more space"
    have = f"only {human_size(free)} is free" if isinstance(free, int) else "the disk is full"
    return (f"The disk is full: {path.name} could not be saved in {path.parent}. {need} and {have}. "
            "Free some space (or choose another folder) and try again; the files saved before are unchanged.")


#: ``0`` turns the spare job process off (the app then starts every job cold).
SPARE_ENV = "VEHICLEAPP_SPARE_JOB"
#: How long after the window opens the first spare starts: the window's own start comes first.
SPARE_DELAY_MS = 1500


def job_environment() -> QProcessEnvironment:
    """The environment of every job process, spare or cold."""
    env = QProcessEnvironment.systemEnvironment()
    env.insert("PYTHONUNBUFFERED", "1")
    env.insert("PYTHONIOENCODING", "utf-8")  # what _read_* decode; Windows pipes default to the ANSI code page
    env.insert("TRAINER_NICE", "10")  # jobs yield the CPU to the window that runs them
    return env


def spares_wanted() -> bool:
    return os.environ.get(SPARE_ENV, "1").strip() not in {"0", "false", "no", "off"}


class Job(QObject):
    """One trainer CLI run. Signals: ``event(dict)``, ``log(str)``, ``finished(status, message)``.

    ``spare``: a running ``trainer.warm`` process to run in (see the module's doc), else the
    job starts its own process."""

    event = Signal(dict)
    log = Signal(str)
    finished = Signal(str, str)

    def __init__(self, args: list[str], title: str, parent: QObject | None = None,
                 grace_ms: int = 8000, spare: QProcess | None = None) -> None:
        super().__init__(parent)
        self.args, self.title, self.grace_ms = list(args), title, grace_ms
        self.command = self.args[0] if self.args else ""  # train, sweep, evaluate, classify ...
        self.status: Status | None = None
        self.last_error = ""
        self.last_error_code = ""  # the error event's code, e.g. trainer.protocol.WEIGHTS_ERROR
        self.tail: deque[str] = deque(maxlen=40)
        self._buffer = b""
        self._cancel_requested = False
        self.warm = spare is not None
        self.proc = spare if spare is not None else QProcess()
        self.proc.setParent(self)
        if not self.warm:
            self.proc.setProcessEnvironment(job_environment())
        self.proc.readyReadStandardOutput.connect(self._read_stdout)
        self.proc.readyReadStandardError.connect(self._read_stderr)
        self.proc.finished.connect(self._on_finished)
        # queued: a process that fails to start says so inside start(), before the page that asked
        # for the job has it; it then ignored the end, and its buttons (and model) stayed locked
        self.proc.errorOccurred.connect(self._on_error, Qt.ConnectionType.QueuedConnection)
        self._kill_timer = QTimer(self, singleShot=True, interval=grace_ms)
        self._kill_timer.timeout.connect(self.proc.kill)

    def start(self) -> None:
        program, *pre = trainer_command()
        self.log.emit(f"$ trainer {' '.join(self.args)}")
        # Every --events command takes the stdin stop; QProcess opens stdin as a pipe.
        stop_channel = [STOP_ON_STDIN] if "--events" in self.args else []
        argv = [*self.args, *stop_channel]
        if self.warm:  # it waits for this line; the pipe stays its stop channel
            self.proc.write((json.dumps(argv) + "\n").encode())
            self._read_stderr()  # anything it said while it waited
        else:
            self.proc.start(program, [*pre, *argv])

    def is_running(self) -> bool:
        return self.proc.state() != QProcess.ProcessState.NotRunning

    def cancel(self) -> None:
        """Graceful stop (a ``stop`` line on the child's stdin), then kill after ``grace_ms``."""
        if not self.is_running():
            return
        self._cancel_requested = True
        self.log.emit("stopping… (the current batch finishes, then the last checkpoint is saved)")
        self._ask_to_stop()
        self._kill_timer.start()

    def kill_and_wait(self, ms: int = 5000) -> None:
        """For shutdown: ask to stop, wait a little, kill; never leaves an orphan."""
        if not self.is_running():
            return
        self._cancel_requested = True
        self._ask_to_stop()
        if not self.proc.waitForFinished(ms):
            self.proc.kill()
            self.proc.waitForFinished(2000)

    def _ask_to_stop(self) -> None:
        self.proc.write(f"{STOP_LINE}\n".encode())
        self.proc.closeWriteChannel()  # end of input means stop too

    @property
    def pid(self) -> int:
        return int(self.proc.processId())

    def _read_stdout(self) -> None:
        self._buffer += bytes(self.proc.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            self._handle_line(raw.decode("utf-8", "replace").strip())

    def _handle_line(self, line: str) -> None:
        if not line:
            return
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            self._log(line)
            return
        if isinstance(event, dict) and "event" in event:
            if event["event"] == Event.ERROR:
                self.last_error_code = str(event.get("code", ""))
                self.last_error = (disk_full_words(event) if self.last_error_code == DISK_FULL
                                   else str(event.get("message", "")))
            self.event.emit(event)
        else:
            self._log(line)

    def _read_stderr(self) -> None:
        text = bytes(self.proc.readAllStandardError().data()).decode("utf-8", "replace")
        for line in text.splitlines():
            if is_report_line(line, self.command):  # the error event says it: one log line per error
                self.tail.append(line)
            else:
                self._log(line)

    def _log(self, line: str) -> None:
        self.tail.append(line)
        self.log.emit(line)

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        self._read_stdout()
        if self._buffer:
            self._handle_line(self._buffer.decode("utf-8", "replace"))
            self._buffer = b""
        crashed = status != QProcess.ExitStatus.NormalExit
        result = status_of_exit(-1 if crashed else code, self._cancel_requested)
        if result == Status.DONE:
            self._finish(result, "finished")
        elif result == Status.CANCELLED:
            kept = self.command in ("train", "sweep", "search")  # the jobs that write checkpoints
            self._finish(result, "stopped; the last checkpoint was kept" if kept else "stopped")
        else:
            self._finish(result, self.last_error or f"exit code {code}")

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._finish(Status.FAILED, f"could not start the trainer ({self.proc.errorString()})")

    def _finish(self, status: Status, message: str) -> None:
        if self.status:
            return
        self.status = status
        self.finished.emit(status, message)

    def log_tail(self, n: int = 12) -> str:
        return os.linesep.join(list(self.tail)[-n:])


class JobRunner(QObject):
    """Owns the one job that may run at a time; pages start jobs through it.

    ``spare=True`` (the window's runner, unless ``VEHICLEAPP_SPARE_JOB=0``): keeps a spare job
    process ready, made ``SPARE_DELAY_MS`` after the runner and again whenever a job ends."""

    started = Signal(object)  # Job
    finished = Signal(object, str, str)  # Job, status, message

    def __init__(self, parent: QObject | None = None, spare: bool = False) -> None:
        super().__init__(parent)
        self.job: Job | None = None
        self.keep_spare = spare
        self.spare: QProcess | None = None
        if spare:
            QTimer.singleShot(SPARE_DELAY_MS, self, self.prepare_spare)

    def busy(self) -> bool:
        return self.job is not None and self.job.is_running()

    def run(self, args: list[str], title: str) -> Job | None:
        if self.busy():
            return None
        job = Job(args, title, self, spare=self._take_spare())
        job.finished.connect(lambda status, msg, j=job: self._on_finished(j, status, msg))
        self.job = job
        self.started.emit(job)
        job.start()
        return job

    def _on_finished(self, job: Job, status: str, message: str) -> None:
        self.finished.emit(job, status, message)
        if self.keep_spare:  # the next job starts warm too
            self.prepare_spare()

    def prepare_spare(self) -> None:
        """Start a spare job process unless one is there, a job runs (its end makes one, and
        the two would share the CPU) or the runner was shut down."""
        if not self.keep_spare or self.busy() or (self.spare is not None and self._running(self.spare)):
            return
        self._drop_spare()
        program, *pre = trainer_command(module="trainer.warm")
        self.spare = QProcess(self)
        self.spare.setProcessEnvironment(job_environment())
        self.spare.finished.connect(self._on_spare_ended)
        self.spare.start(program, pre)

    def _on_spare_ended(self) -> None:
        """A spare that ended while it waited (killed, out of memory) is forgotten; the next job
        starts cold. One that ended as a job's process belongs to that job."""
        proc = self.spare
        if proc is not None and not self._running(proc):
            self.spare = None
            proc.deleteLater()

    def lend_spare(self) -> QProcess | None:
        """The spare, for a short job run beside the runner's (a weights-file check): None when
        there is none. A new spare is made when the borrowed process ends."""
        proc = self._take_spare()
        if proc is not None:
            proc.finished.connect(lambda *_: self.prepare_spare())
        return proc

    def _take_spare(self) -> QProcess | None:
        proc, self.spare = self.spare, None
        if proc is not None and self._running(proc):
            proc.finished.disconnect(self._on_spare_ended)  # its end is the job's now
            return proc
        if proc is not None:  # it died while it waited: this job starts cold
            proc.deleteLater()
        return None

    @staticmethod
    def _running(proc: QProcess) -> bool:
        """Starting or running (a starting one takes its line once it runs). A process that has
        exited but whose end the event loop has not yet handled is seen here: waiting 0 ms
        collects it."""
        if proc.state() == QProcess.ProcessState.NotRunning:
            return False
        return not proc.waitForFinished(0)

    def _drop_spare(self) -> None:
        proc, self.spare = self.spare, None
        if proc is None:
            return
        if self._running(proc):
            proc.kill()  # it holds nothing but imports
            proc.waitForFinished(2000)
        proc.deleteLater()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def shutdown(self) -> None:
        self.keep_spare = False
        self._drop_spare()
        if self.job is not None:
            self.job.kill_and_wait()
