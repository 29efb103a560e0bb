"""Where a command's cells run: in this process (`LocalBackend`, the default) or on a Ray
cluster (`RayBackend`: a laptop's cores, one GPU box shared by fractional cells, or many machines).

A command describes its work as chains (`Chain`): a generator that yields a `Task` (or a list of
tasks that may run together) and is sent back its output (or their outputs, in order) once done,
so a step that needs an earlier one's output (an active-learning cycle, the subsets of a prune
seed after its proxy) waits for it, while independent steps of all chains are in flight together.
A task runs one module-level cell function, the same one on either backend:

    def subset_cell(context: TaskContext, *, dataset, spec, kept, seed) -> CellOutput:
        spec = context.attach(spec)                   # counts its time, reports its progress
        result, tested = spec.train_and_test(dataset, kept, seed)
        return CellOutput({"seed": seed, **tested}, arrays={"": kept})

    def seed_chain(seed):
        proxy = yield Task("proxy-s0", proxy_cell, dict(dataset=shared, ...))   # waits for it
        yield [Task(name, subset_cell, dict(dataset=shared, ...)) for name in ...]  # together

    backend.run(run, [seed_chain(s) for s in seeds])

The driver, in this process, writes every finished cell with `Run.save_cell` (its record last),
whatever ran it: a run folder is the same whichever backend filled it, and a run started on one
resumes on the other. On Ray the dataset goes to the object store once (`Backend.share`) and each
worker process reads it once; a task whose worker or node dies is retried (`max_retries`); a task
that raises marks its cell failed, the cells of other chains go on, and at the end `CellsFailed`
names the failed cells, every finished one being kept.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Union

import numpy as np
import torch

log = logging.getLogger("winnow.experiments.backend")

BACKENDS = ("local", "ray")
MAX_RETRIES = 2  # attempts after the first when a worker or node dies (not when the cell raises)
RAY_MISSING = "--backend ray needs Ray, an optional dependency: pip install 'winnow[ray]'"


class BackendError(ValueError):
    """A backend that cannot be used as asked (Ray missing, a bad option); names the option."""


class CellsFailed(RuntimeError):
    """Cells that raised (or whose worker died more often than retried); the others are kept."""

    def __init__(self, failed: dict[str, str], kept: int, run_dir):
        self.failed = failed  # cell name -> one-line error
        names = "; ".join(f"{name} ({error})" for name, error in failed.items())
        super().__init__(f"{len(failed)} cell{'s' if len(failed) > 1 else ''} failed: {names}. The cells that "
                         f"need them were not run; the {kept} finished cells are kept in {run_dir}: run the same "
                         "command again to retry")


# ---------------------------------------------------------------- what a command hands the driver


@dataclass
class CellOutput:
    """What a cell function returns: the cell's record, its arrays (numpy, `runs.Cells` names:
    "" for the main one) and optionally its weights (a CPU state dict, `state_dict`)."""

    record: dict
    arrays: dict | None = None
    weights: dict | None = None
    ran_on: str | None = None  # set by the driver: "HOST pid PID" when it ran in another process


@dataclass
class Task:
    """One cell to make: `function(context, **kwargs)` -> `CellOutput` (a `Shared` keyword value is
    read in the task), saved as cell `cell` by the driver, which then does `after(output)`
    (bookkeeping, e.g. dropping an earlier cycle's weights) and calls `on_cell` with the record
    (plus "ran_on": "HOST pid PID" when it ran in another process)."""

    cell: str
    function: Callable[..., CellOutput]
    kwargs: dict = field(default_factory=dict)
    on_cell: Callable[[dict], None] | None = None
    after: Callable[[CellOutput], None] | None = None


Step = Union[Task, list]
Chain = Generator[Step, Any, Any]  # yields a Task or a list of Tasks, is sent the output(s); may return a value


class PartTimes:
    """The time parts a task spent (`runs.Timing.PARTS`), added to the run's timing by the driver."""

    def __init__(self):
        self.parts: dict[str, float] = {}

    def add(self, part: str, seconds: float) -> None:
        self.parts[part] = self.parts.get(part, 0.0) + float(seconds)


@dataclass
class TaskContext:
    """What a cell function gets besides its arguments: where to count its time, and the trainer's
    progress callback (None on a worker)."""

    timing: PartTimes
    on_progress: Callable | None = None

    def attach(self, spec):
        """`spec` (a `TrainingSpec`) counting its time here and reporting progress."""
        return spec.attach(self.timing, self.on_progress)


@dataclass
class Finished:
    """A task's output with its time parts and where it ran (what a worker sends back)."""

    output: CellOutput
    parts: dict
    host: str
    pid: int
    seconds: float


class Shared:
    """A value every task of a run reads (the dataset, a seed's proxy inputs): held as is by the
    local backend, put once into Ray's object store by the Ray backend; `get()` in the task."""

    def __init__(self, value=None, ref=None):
        self._value, self.ref = value, ref

    def get(self):
        return self._value if self.ref is None else _from_object_store(self.ref)


_OBJECTS: dict[str, Any] = {}  # object id -> value, per worker process: a shared value is read once
_OBJECTS_KEPT = 4


def _from_object_store(ref):
    import ray

    key = ref.hex()
    value = _OBJECTS.pop(key) if key in _OBJECTS else writable(ray.get(ref))
    while len(_OBJECTS) >= _OBJECTS_KEPT:  # the least recently used goes
        _OBJECTS.pop(next(iter(_OBJECTS)))
    _OBJECTS[key] = value
    return value


def writable(value):
    """`value` with every read-only NumPy array in it (at the top, in dicts, in dataclass fields)
    copied: Ray hands a task its arrays read-only, straight from the object store."""
    if isinstance(value, np.ndarray):
        return value if value.flags.writeable else value.copy()
    if isinstance(value, dict):
        return {key: writable(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}
        changed = {name: writable(item) for name, item in fields.items() if isinstance(item, (np.ndarray, dict))}
        changed = {name: item for name, item in changed.items() if not _same(item, fields[name])}
        return dataclasses.replace(value, **changed) if changed else value
    return value


def _same(copy, original) -> bool:
    if isinstance(original, dict):
        return all(_same(copy[key], item) for key, item in original.items())
    return copy is original


def execute(task_function: Callable, kwargs: dict, on_progress=None) -> Finished:
    """Run one cell function with its shared arguments read, timed, noting where it ran."""
    started = time.perf_counter()
    context = TaskContext(PartTimes(), on_progress)
    arguments = {key: value.get() if isinstance(value, Shared) else value for key, value in kwargs.items()}
    output = task_function(context, **arguments)
    return Finished(output, context.timing.parts, socket.gethostname(), os.getpid(), time.perf_counter() - started)


def state_dict(model: torch.nn.Module) -> dict:
    """A copy of `model`'s weights on the CPU: what a task sends back."""
    return {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}


# ---------------------------------------------------------------- backends


class Backend:
    """Runs chains of tasks for a run (`run`) and shares values with its tasks (`share`)."""

    name = "base"

    def share(self, value) -> Shared:
        raise NotImplementedError

    def run(self, run, chains: list[Chain]) -> list:
        """Advance every chain to its end, saving each finished cell in `run`; returns each chain's
        return value (None for a chain stopped by a failed cell)."""
        raise NotImplementedError

    def start(self) -> None:
        """Connect (Ray); called by a command once its arguments are checked, before any cell."""

    @staticmethod
    def _save(run, task: Task, finished: Finished, ran_on: str | None) -> None:
        """Count the task's time, write its cell, do its `after`, then report it (with where it ran)."""
        for part, seconds in finished.parts.items():
            run.timing.add(part, seconds)
        output = finished.output
        output.ran_on = ran_on
        weights = None if output.weights is None else _Weights(output.weights)
        record = run.save_cell(task.cell, output.record, arrays=output.arrays, weights=weights)
        if task.after is not None:
            task.after(output)
        if task.on_cell is not None:
            task.on_cell(record if ran_on is None else {**record, "ran_on": ran_on})


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """A clear error when nothing answers at a HOST:PORT (or ray://HOST:PORT) address within
    `timeout` seconds, instead of Ray's minutes of retries; "auto" and other forms are Ray's to
    resolve."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as error:
        raise BackendError(f"cannot reach the Ray cluster at --address {address}: nothing answers at {host}:{port} "
                           f"({error.strerror or type(error).__name__}); is `ray start --head` running there?") \
            from None


class _Weights:
    """A state dict sent back by a task, saved by `runs.Cells.save` as a model's weights are."""

    def __init__(self, state: dict):
        self.state = state

    def state_dict(self) -> dict:
        return self.state


class LocalBackend(Backend):
    """Every task in this process, one after the other, chain by chain: today's order and numbers.
    An exception stops the command at once (a stopped run resumes)."""

    name = "local"

    def __init__(self, on_progress: Callable | None = None):
        self.on_progress = on_progress

    def share(self, value) -> Shared:
        return Shared(value)

    def run(self, run, chains: list[Chain]) -> list:
        returned = []
        for chain in chains:
            try:
                step = next(chain)
                while True:
                    outputs = [self._run_task(run, task) for task in _tasks(step)]
                    step = chain.send(outputs if isinstance(step, list) else outputs[0])
            except StopIteration as end:
                returned.append(end.value)
        return returned

    def _run_task(self, run, task: Task) -> CellOutput:
        finished = execute(task.function, task.kwargs, on_progress=self.on_progress)
        self._save(run, task, finished, None)
        return finished.output


class RayBackend(Backend):
    """Every task a Ray task with `cpus_per_cell` CPUs (torch limited to as many threads, at least
    one) and `gpus_per_cell` GPUs (fractions pack several cells on one GPU; None: one where the
    cluster has GPUs, else none, as Ray hides no GPU from a task that asks for none), retried
    `max_retries` times when its worker or node dies. `address`: "auto" (the cluster this machine
    belongs to, started with `ray start`), HOST:PORT or ray://HOST:PORT; None starts a local Ray
    instance with this machine's cores, or uses the one this process already started (`ray.init`).

    report : called with one line on the cluster's resources at the start
    before_cell : a picklable function called with the cell's name in the worker before each cell
        (tests use it to kill a worker or fail a cell)
    """

    name = "ray"

    def __init__(self, address: str | None = None, cpus_per_cell: float = 1.0, gpus_per_cell: float | None = None,
                 max_retries: int = MAX_RETRIES, report: Callable[[str], None] | None = None,
                 before_cell: Callable[[str], None] | None = None):
        _import_ray()
        if not cpus_per_cell > 0:
            raise BackendError(f"--cpus-per-cell must be > 0, got {cpus_per_cell!r}")
        if gpus_per_cell is not None and (not gpus_per_cell >= 0 or (gpus_per_cell > 1
                                                                      and gpus_per_cell != int(gpus_per_cell))):
            raise BackendError(f"--gpus-per-cell must be a fraction in [0, 1] or a whole number, got {gpus_per_cell!r}")
        self.address, self.cpus_per_cell = address, float(cpus_per_cell)
        self.gpus_per_cell = None if gpus_per_cell is None else float(gpus_per_cell)  # None: set by `start`
        self.max_retries, self.report, self.before_cell = int(max_retries), report, before_cell
        self.tasks: list[dict] = []  # per finished task: cell, where, worker seconds, seconds from submission
        self._remote = None

    def start(self) -> None:
        ray = _import_ray()
        if not ray.is_initialized():
            options = {"include_dashboard": False}
            if self.address is not None:
                check_reachable(self.address)
                options["address"] = self.address
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError) as error:
                where = f"the Ray cluster at --address {self.address}" if self.address else "a local Ray instance"
                text = str(error).strip().splitlines()
                raise BackendError(f"cannot start or reach {where}: {text[0] if text else type(error).__name__}") \
                    from None
        elif self.address not in (None, "auto"):
            log.info("Ray is already initialised in this process; --address %s is not used", self.address)
        self._remote = ray.remote(_ray_execute)
        resources = ray.cluster_resources()
        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        cpus, gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
        if self.gpus_per_cell is None:  # a GPU each where there are GPUs: Ray hides none from a task that asks for none
            self.gpus_per_cell = 1.0 if gpus else 0.0
        cells = cpus / self.cpus_per_cell if not self.gpus_per_cell else min(cpus / self.cpus_per_cell,
                                                                               gpus / self.gpus_per_cell)
        if gpus < self.gpus_per_cell:
            raise BackendError(f"--gpus-per-cell {self.gpus_per_cell:g}: the Ray cluster has {gpus:g} GPUs")
        if cpus < self.cpus_per_cell:
            raise BackendError(f"--cpus-per-cell {self.cpus_per_cell:g}: the Ray cluster has {cpus:g} CPUs")
        line = (f"ray: {nodes} node{'s' if nodes != 1 else ''}, {cpus:g} CPUs, {gpus:g} GPUs, "
                f"{resources.get('object_store_memory', 0) / 2**30:.1f} GiB object store; each cell "
                f"{self.cpus_per_cell:g} CPU ({self.threads} thread{'s' if self.threads > 1 else ''})"
                f"{f', {self.gpus_per_cell:g} GPU' if self.gpus_per_cell else ''}: up to {int(cells)} at once")
        log.info("%s", line)
        if self.report is not None:
            self.report(line)

    @property
    def threads(self) -> int:
        return max(1, int(self.cpus_per_cell))

    def share(self, value) -> Shared:
        import ray

        return Shared(ref=ray.put(value))

    def _submit(self, task: Task):
        options = {"num_cpus": self.cpus_per_cell, "num_gpus": self.gpus_per_cell, "max_retries": self.max_retries,
                   "retry_exceptions": False}
        return self._remote.options(**options).remote(task.function, task.kwargs, self.threads, self.before_cell,
                                                      task.cell)

    def run(self, run, chains: list[Chain]) -> list:
        import ray

        if self._remote is None:
            self.start()
        returned: list = [None] * len(chains)
        pending: dict = {}  # object ref -> (chain position, task, slot in its step, submitted at)
        steps: dict[int, dict] = {}  # chain position -> {"single", "outputs", "left", "failed"}
        failed: dict[str, str] = {}

        def advance(position: int, sent=None, first=False) -> None:
            chain = chains[position]
            try:
                step = next(chain) if first else chain.send(sent)
            except StopIteration as end:
                returned[position] = end.value
                steps.pop(position, None)
                return
            tasks = _tasks(step)
            steps[position] = {"single": not isinstance(step, list), "outputs": [None] * len(tasks),
                               "left": len(tasks), "failed": False}
            for slot, task in enumerate(tasks):
                pending[self._submit(task)] = (position, task, slot, time.perf_counter())
            if not tasks:
                advance(position, [])

        for position in range(len(chains)):
            advance(position, first=True)
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            position, task, slot, submitted = pending.pop(ref)
            state = steps[position]
            try:
                finished: Finished = ray.get(ref)
            except ray.exceptions.RayError as error:
                failed[task.cell] = _one_line(error)
                log.warning("cell %s failed: %s", task.cell, failed[task.cell])
                state["failed"] = True
            else:
                ran_on = f"{finished.host} pid {finished.pid}"
                self.tasks.append({"cell": task.cell, "ran_on": ran_on, "seconds": finished.seconds,
                                   "round_trip_seconds": time.perf_counter() - submitted})
                self._save(run, task, finished, ran_on)
                state["outputs"][slot] = finished.output
            state["left"] -= 1
            if state["left"] == 0:
                if state["failed"]:
                    chains[position].close()  # the cells after a failed one need it: not run
                    steps.pop(position)
                else:
                    advance(position, state["outputs"][0] if state["single"] else state["outputs"])
        if failed:
            run.timing.save()
            raise CellsFailed(failed, len(run.cells.records()), run.path)
        return returned


def _ray_execute(function, kwargs, threads: int, before_cell, cell: str) -> Finished:
    """`execute` in a Ray worker: torch limited to the task's `threads`, its arrays writable,
    `before_cell(cell)` first (a test's fault injection)."""
    torch.set_num_threads(max(1, int(threads)))
    if before_cell is not None:
        before_cell(cell)
    return execute(function, {key: writable(value) for key, value in kwargs.items()})


def _tasks(step: Step) -> list[Task]:
    tasks = step if isinstance(step, list) else [step]
    if not all(isinstance(task, Task) for task in tasks):
        raise TypeError(f"a chain yields a Task or a list of Tasks, got {step!r}")
    return tasks


def _one_line(error: Exception) -> str:
    """`Type: message` of a failed task's own exception (a worker's death as Ray words it)."""
    cause = getattr(error, "cause", None)
    shown = cause if isinstance(cause, BaseException) else error
    text = str(shown).strip().splitlines()
    if shown is error:  # Ray's own error: its first line says what happened (the worker died, ...)
        return f"{type(error).__name__}: {text[0] if text else ''}"
    return f"{type(shown).__name__}: {text[-1] if text else ''}" if text else type(shown).__name__


def _import_ray():
    try:
        import ray
    except ImportError:
        raise BackendError(RAY_MISSING) from None
    return ray


def make_backend(backend: "str | Backend" = "local", *, address: str | None = None,
                 cpus_per_cell: float | None = None, gpus_per_cell: float | None = None,
                 on_progress: Callable | None = None, report: Callable[[str], None] | None = None) -> Backend:
    """The backend named `backend` ("local" or "ray") with its options, or `backend` itself when it
    is one (then it takes no options here). The options belong to Ray: with "local" they are an
    error naming them. `on_progress` (the trainer's progress) is shown for local cells only."""
    given = [option for option, value in (("--address", address), ("--cpus-per-cell", cpus_per_cell),
                                          ("--gpus-per-cell", gpus_per_cell)) if value is not None]
    if isinstance(backend, Backend):
        if given:
            raise BackendError(f"{', '.join(given)} are options of a backend by name; this backend is already made")
        if isinstance(backend, LocalBackend) and backend.on_progress is None:
            backend.on_progress = on_progress
        return backend
    if backend == "local":
        if given:
            raise BackendError(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to --backend ray")
        return LocalBackend(on_progress)
    if backend == "ray":
        return RayBackend(address=address, cpus_per_cell=1.0 if cpus_per_cell is None else cpus_per_cell,
                          gpus_per_cell=gpus_per_cell, report=report)
    raise BackendError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")


def exit_once(marker: str, cell: str, name: str) -> None:
    """A `before_cell` for tests: the worker of cell `cell` exits abruptly (as if killed) the first
    time, leaving `marker` so that the retry runs."""
    if name == cell and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)


def fail_cell(cell: str, name: str) -> None:
    """A `before_cell` for tests: cell `cell` always raises."""
    if name == cell:
        raise RuntimeError(f"cell {cell} fails on purpose")
