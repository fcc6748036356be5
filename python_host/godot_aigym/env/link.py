"""`EngineLink`: one engine process running a GymEnv scene, and the only Python code that reads
or writes the step protocol's tensors (docs/STEP_PROTOCOL.md).

Construction checks the project and scene, imports the project when needed, creates the chunk
and the start-up entries and launches Godot (headless, ``--fixed-fps`` matching the physics
rate so one frame is one physics tick and nothing sleeps); `connect()` reads the description the
scene published and creates the step tensors. Then each command is `send_*` + `receive` (or
`step` / `reset` for both), and `receive` returns the `Results`: views of the engine's answer.

Nothing is left behind: a failure closes the engine (CLOSE, SIGTERM, SIGKILL) and unlinks the
chunk; a dead engine raises `EngineDiedError`, a hung one `EngineTimeoutError` (with its log's
tail), one stuck on its own error `EngineScriptError`; the engine dies with us (parent-death signal).
"""

from __future__ import annotations

import atexit
import contextlib
import math
from typing import Any

import numpy as np

from ..engine import GodotProcess, LaunchOptions
from ..shm import EngineDiedError, EngineScriptError, SharedMemory, SharedMemoryError, SharedMemorySemaphore, WaitTimeout
from . import placement
from . import protocol as P
from .actions import ActionChecker
from .options import EnvOptions
from .placement import PINNED_SPIN_US, engine_cpus  # noqa: F401  (public: the demo places engines)
from .project import check_project, demo_project, prepare_project, project_physics_fps  # noqa: F401
from .link_failures import LinkFailures
from .link_startup import check_spec, part_views, rendering_launch
from .protocol import Results

# directory slots of an engine's chunk: ~10 protocol entries, 2 per Dict part (~120 parts); 128 B each
CHUNK_ENTRIES = 256


class EngineLink(LinkFailures):
    """Start one engine on a GymEnv scene and talk the step protocol with it.

    Construction launches the engine and returns at once; `connect()` waits for its space
    description and creates the step tensors (so several engines start in parallel).
    """

    accept_groups = False  # a GymGroupEnv scene (spec.groups): only the multi-agent envs set it

    def __init__(self, options: EnvOptions | None = None, *, n_agents: int = 1, index: int | None = None,
                 n_engines: int = 1) -> None:
        self._closed = False
        self._connected = False
        self.proc: GodotProcess | None = None
        self.mem: SharedMemory | None = None
        self.spec: P.EnvSpec | None = None
        self.results: Results | None = None
        options = options or EnvOptions()
        self.options = options
        self._engine_of = (index, n_engines)  # engine k of M, named in failures when M > 1
        if isinstance(n_agents, bool) or not isinstance(n_agents, (int, np.integer)) or n_agents < 1:
            raise ValueError(f"n_agents must be a positive integer, got {n_agents!r}")
        if n_agents > P.MAX_AGENTS:  # the engine would refuse it only after its launch
            raise ValueError(f"n_agents must be 1..{P.MAX_AGENTS} per engine (the engine's limit), got {n_agents}; "
                             "use more engines (n_engines)")
        self.n_agents = int(n_agents)
        self.engine_errors = options.engine_errors
        self.timeout = options.timeout
        self.step_timeout = options.step_timeout
        self._keep_log = options.log_path is not None
        self.project, self.scene = check_project(options.project, options.scene)
        self.names = P.entry_names(options.prefix)
        self.physics_fps = int(options.physics_fps or project_physics_fps(self.project))
        # "auto" pins no rendering engine: its main thread and X11 event thread hand Xlib's lock back
        # and forth every frame, and on one CPU shared with other load a step took ~6.5 ms instead
        # of ~1 (docs/RENDERING.md, "Through the env layer")
        cpus = None if options.wants_rendering and isinstance(options.cpus, str) and options.cpus == "auto" \
            else options.cpus
        foreign = placement.foreign_engines()  # the other hosts' engines, read once for both choices
        self.cpus = engine_cpus(cpus, index, foreign)  # validated before anything is created
        launcher = options.launcher or GodotProcess
        if options.launcher is None:
            prepare_project(self.project, options.godot)
        # how long each side spins before blocking: the host's engines + 1 vs the usable CPUs
        spin_us, engine_spin_us = placement.spin_budgets(n_engines, bool(self.cpus), options.spin_us,
                                                         options.engine_spin_us, foreign=foreign,
                                                         rendering=options.wants_rendering)
        self.spin_us, self.engine_spin_us = spin_us, engine_spin_us  # None: the defaults
        user = P.launch_args(self.n_agents, options.prefix, self.physics_fps, options.action_repeat,
                             options.max_episode_steps, engine_spin_us) + list(options.user_args)
        try:
            self.mem = SharedMemory(size=options.chunk_size, capacity=CHUNK_ENTRIES)
            self._messages = {kind: self.mem.newUintTensor(self.names[kind], capacity)
                              for kind, capacity in P.MESSAGE_CAPACITY.items()}
            self._seed_t = self.mem.newIntTensor(self.names["seed"], 2)
            # errors the engine logged while running a command (a memoryview: checked after every
            # step, and its item reads cost half of numpy's)
            self._errors = memoryview(self.mem.newIntTensor(self.names["errors"], 1).view).cast("B").cast("i")
            self.error_count = self._errors  # [0]: errors logged during the last command (read-only use)
            kw = {} if spin_us is None else {"spin_us": spin_us}
            self._sem_action = self.mem.newSemaphore(self.names["sem_action"], 0)
            self._sem_obs = self.mem.newSemaphore(self.names["sem_obs"], 0, **kw)
            self.post_command = self._sem_action.poster()  # hands the staged command over (no wait)
            # one command's round trip (post, then wait for the answer), its arguments worked out once
            self._round_trip = self._sem_action.round_trip(self._sem_obs, self.step_timeout)
            self._answer_waits = self._waiters(self.step_timeout)  # the wait alone (receiver)
            seed = options.seed
            if seed is not None:  # any Python int: the game's RNG takes its 64 bits (as a signed int)
                seed = ((int(seed) + 2**63) % 2**64) - 2**63
            launch = LaunchOptions(project=self.project, scene=self.scene, handle=self.mem.handle, seed=seed,
                                   fixed_fps=None if options.run_realtime else self.physics_fps,
                                   headless=options.run_headless, engine_args=tuple(options.engine_args),
                                   user_args=tuple(user), env=dict(options.env or {}))
            if options.wants_rendering:
                launch = rendering_launch(options, launch, n_engines, self.cpus, self.timeout)
            self.proc = launcher(launch, godot=options.godot, log_path=options.log_path, cpus=self.cpus)
            self.mem.set_peer(self.proc.popen)
        except BaseException:
            self.close()
            raise
        placement.register(self)

    # -- start-up -------------------------------------------------------------------------------
    def connect(self) -> P.EnvSpec:
        """Wait for the scene's space description, then create the step tensors."""
        assert self.mem is not None and self.proc is not None
        try:
            try:
                self._sem_obs.wait(timeout=self.timeout)
            except WaitTimeout:
                self.close(grace=0)  # known hung (or no GymEnv): nothing will answer a clean CLOSE
                raise P.GodotEnvError(
                    f"{self.scene or 'the main scene'} of {self.project} did not start a GymEnv within "
                    f"{self.timeout:g} s (does the scene contain a GymEnv node?)" + self._log_excerpt()) from None
            except EngineDiedError:
                raise P.GodotEnvError(f"Godot exited during start-up (code {self.proc.poll()})"
                                      + self._fatal_text() + self._log_excerpt()) from None
            fatal = self._message("fatal")
            if fatal is not None:
                raise P.GodotEnvError(f"the environment reported an error: {fatal.get('error')}" + self._log_excerpt())
            try:
                spec = P.EnvSpec.from_message(self._message("spec"))
            except P.GodotEnvError as e:
                raise P.GodotEnvError(f"{e} [{self.scene}]" + self._log_excerpt()) from None
            check_spec(spec, self.scene, self.n_agents, self.physics_fps, self.accept_groups)
            self.spec = spec
            layout = spec.layout
            inv = self.mem.newFloatTensor(self.names["in"], layout.in_size).view
            self._in = inv
            self._header = inv[layout.header]
            self._mask = inv[layout.mask]
            self._actions = inv[layout.actions]
            self._out = self.mem.newFloatTensor(self.names["out"], layout.out_size).view
            results = layout.results(self._out)
            if spec.parts:
                results = part_views(self.mem, spec, results, self.options.prefix)
            self.results = results
            self._frame = (None if spec.frame_shape is None else
                           self.mem.newUintTensor(self.names["frame"], math.prod(spec.frame_shape)).view
                           .reshape(spec.frame_shape))
            if self.options.wants_rendering and self.options.launcher is None:  # on our private X server
                from ..display.event_thread import lower_x11_event_thread
                lower_x11_event_thread(self.proc.popen.pid)  # its spinning took CPU from the engine
            self._connected = True
            return spec
        except BaseException:
            self.close()
            raise

    # -- commands -------------------------------------------------------------------------------
    def send_reset(self, seed: int | None = None, mask: np.ndarray | None = None) -> bool:
        """RESET every agent, or those where `mask` is true; `seed` seeds the game's RNG first.
        False, and nothing is sent (so do not `receive`), when `mask` selects no agent: the
        protocol's masked count 0 means every agent."""
        if mask is not None and not np.any(mask):
            self._live_header()
            return False
        flags = 0
        if seed is not None:
            self._seed_t.view[:] = P.seed_words(seed)
            flags |= P.FLAG_SEED
        h = self._live_header()
        if mask is not None:
            self._mask[:] = mask
            h[P.H_MASKED] = int(np.count_nonzero(mask))
        else:
            h[P.H_MASKED] = 0
        h[P.H_COMMAND] = P.CMD_RESET
        h[P.H_FLAGS] = flags
        self._sem_action.post()
        return True

    def send_step(self, actions: Any, autoreset: int = P.AUTORESET_NONE) -> None:
        """STEP every agent with `actions` (checked, flat); `autoreset` says what the engine does
        with agents whose episode ended (protocol.AUTORESET_*)."""
        self.stage_step(actions, autoreset)
        self._sem_action.post()

    def stage_step(self, actions: Any, autoreset: int = P.AUTORESET_NONE) -> None:
        """`send_step` without the post: the actions (checked, flat) and the STEP header."""
        h = self._live_header()
        self._actions[:] = actions
        h[P.H_COMMAND] = P.CMD_STEP
        h[P.H_FLAGS] = autoreset

    def use_checker(self, checker: ActionChecker) -> None:
        """`step` checks its actions with `checker` (one agent's or a batch's): in C for their
        usual form (``_stepcore.Stager``), with `checker` itself otherwise."""
        self._live_header()
        self._check = checker.check
        self._stager = checker.stager(self._in, self.spec.layout.actions.start, P.CMD_STEP)

    def step_views(self) -> tuple[np.ndarray, np.ndarray]:
        """The ``in`` and ``out`` tensors (float32 views; protocol.Layout): for the C stager and
        gatherer of several engines (GodotVectorEnv), which stage and read them directly."""
        try:
            return self._in, self._out
        except AttributeError:
            self._live_header()
            raise

    def receive(self, report: bool = True, stacklevel: int = 3) -> Results:
        """Wait for the answer to the command sent. With `report`, errors the engine logged while
        running it are raised or warned about here (``engine_errors``); callers waiting for
        several engines pass False and call `report_errors` once all answered."""
        try:
            self._sem_obs.wait(self.step_timeout)
        except (EngineDiedError, EngineScriptError, WaitTimeout) as e:
            raise self._wait_failed(e) from None
        if report and self._errors[0]:
            self.report_errors(stacklevel + 1)
        return self.results

    def receiver(self, spun: bool = False):
        """``receive(report=False)`` as a function of no arguments, its wait's checks worked out
        once (``SharedMemorySemaphore.waiter``): a vector env waits for each engine with one per step.
        ``spun``: the caller has just spun for this answer (``shm.relay.relay``): block at once."""
        failed, which = self._wait_failed, int(spun)

        def receive() -> None:
            try:
                self._answer_waits[which]()  # made again when step_timeout changes
            except (EngineDiedError, EngineScriptError, WaitTimeout) as e:
                raise failed(e) from None
        return receive

    def try_receive(self) -> Results | None:
        """`receive` without waiting (and without reporting errors: see `errors_pending`): the
        results if the answer to the command sent is in, else None (GodotAsyncVectorEnv polls)."""
        return self.results if self._sem_obs.try_wait() else None

    def step(self, actions: Any, autoreset: int = P.AUTORESET_NONE, report: bool = True) -> Results:
        """`send_step` + `receive` (`report` as there), inlined: the hot path of one engine. After
        `use_checker` the actions are checked first (ValueError naming them, nothing sent);
        without it they are written as given (checked, flat), as `send_step` does."""
        try:
            staged = self._stager.stage(actions, autoreset)  # checked and written in C, or False
        except AttributeError:  # closed or not connected yet (raises), or no use_checker()
            self._live_header()
            self.stage_step(actions, autoreset)
            staged = True
        if not staged:  # another form: converted (or refused) by the checker
            self.stage_step(self._check(actions), autoreset)
        try:
            self._round_trip()  # post_and_wait: one C call
        except (EngineDiedError, EngineScriptError, WaitTimeout) as e:
            raise self._wait_failed(e) from None
        if report and self._errors[0]:
            self.report_errors(4)
        return self.results

    @property
    def renders(self) -> bool:
        """The engine renders: `render()` returns frames."""
        return self.spec is not None and self.spec.frame_shape is not None

    def render(self) -> np.ndarray:
        """The main window's next frame, (H, W, 3) uint8 (a copy), drawn with the state of the
        last answer (CMD_RENDER)."""
        h = self._live_header()
        if self._frame is None:
            raise P.GodotEnvError(f"the engine running {self.scene} renders nothing (--headless): create the "
                                  "environment with rendering=True to get frames")
        h[P.H_COMMAND] = P.CMD_RENDER
        self._sem_action.post()
        self.receive(stacklevel=4)
        return self._frame.copy()

    def reset(self, seed: int | None = None, mask: np.ndarray | None = None) -> Results:
        if not self.send_reset(seed, mask):
            return self.results  # nobody to reset: the last answer stands
        return self.receive(stacklevel=4)

    @property
    def answer_semaphore(self) -> SharedMemorySemaphore:
        """The semaphore the engine posts when it has answered a command (for
        ``shm.semaphore.wait_any`` on several engines; taking its count is ``try_receive``'s)."""
        return self._sem_obs

    @property
    def command_semaphore(self) -> SharedMemorySemaphore:
        """The semaphore the host posts to hand the engine a staged command (``post_command``'s;
        for ``shm.relay.relay``, which posts several engines' in one call)."""
        return self._sem_action

    def _live_header(self) -> np.ndarray:
        try:
            return self._header
        except AttributeError:
            raise RuntimeError(f"the engine running {self.scene} is closed" if self._closed else
                               "connect() first: the engine has not published its spaces yet") from None

    def _message(self, kind: str) -> dict | None:
        """The JSON message in one of the message tensors (None: empty)."""
        return P.read_message(self._messages[kind].view)

    @property
    def step_timeout(self) -> float:
        """Seconds a command waits for the engine's answer before EngineTimeoutError."""
        return self._step_timeout

    @step_timeout.setter
    def step_timeout(self, seconds: float) -> None:
        # the round trip and the wait bind their timeout when made: a new value makes new ones
        if getattr(self, "_round_trip", None) is not None and not self.closed:
            self._round_trip = self._sem_action.round_trip(self._sem_obs, seconds)
            self._answer_waits = self._waiters(seconds)
        self._step_timeout = seconds

    def _waiters(self, seconds: float):
        """The answer's wait with its spin budget, and without a spin (after the relay's)."""
        return self._sem_obs.waiter(seconds), self._sem_obs.waiter(seconds, spin_us=0.0)

    # -- teardown -------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def handle(self) -> str | None:
        return self.mem.handle if self.mem is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def request_close(self) -> None:
        """Send CLOSE without waiting (close() several engines in parallel: this first, then close())."""
        if self._connected and not self._closed and self.alive():
            with contextlib.suppress(SharedMemoryError):
                self._header[P.H_COMMAND] = P.CMD_CLOSE
                self._sem_action.post()
                self._close_sent = True

    def close(self, grace: float = 5.0) -> None:
        """Quit the engine (CLOSE command, then signals), reap it and unlink the chunk. Idempotent."""
        if self._closed:
            return
        self._closed = True
        proc, mem = self.proc, self.mem
        try:
            if proc is not None and proc.alive() and mem is not None and not mem.closed:
                if self._connected:
                    try:
                        if not getattr(self, "_close_sent", False):
                            self._header[P.H_COMMAND] = P.CMD_CLOSE
                            self._sem_action.post()
                        self._sem_obs.timed_wait(min(grace, 2.0))
                    except SharedMemoryError:
                        pass
                mem.request_shutdown()
            if proc is not None:
                proc.close(grace=grace)  # a temporary log is removed, its text kept in proc.log()
        finally:
            for name in ("_stager", "_in", "_out", "_header", "_mask", "_actions"):
                self.__dict__.pop(name, None)
            self.results = None
            if mem is not None:
                mem.close()
            placement.unregister(self)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close(grace=1.0)


@atexit.register
def _close_all_links() -> None:  # interpreter exit: quit engines cleanly, unlink chunks
    for link in placement.running():
        with contextlib.suppress(Exception):
            link.close(grace=2.0)
