"""Cache sizes, array sizes and a fake calibration timer shared by the copy-strategy tests."""

from __future__ import annotations

from godot_aigym.shared_object.copy_strategy import MEMCPY, STREAM, STREAM1, Caches

EPYC = Caches(l2=512 << 10, l3=32 << 20)  # this project's CI machine (fast, large L3)
SMALL_L3 = Caches(l2=2 << 20, l3=6 << 20)
XEON = Caches(l2=2 << 20, l3=480 << 20)  # session 9's Intel guest: sysfs gives the host's L3
FRAME = 480 * 848 * 3  # uint8 camera frame
FLOAT_FRAME = FRAME * 8


class FakeTimer:
    """Calibration timings chosen by the test (both slots streamed: as slot 1 alone unless
    given); records what was asked."""

    def __init__(self, memcpy_ns: float, stream1_ns: float, stream_ns: float | None = None) -> None:
        self.ns = {MEMCPY: memcpy_ns, STREAM1: stream1_ns, STREAM: stream1_ns if stream_ns is None else stream_ns}
        self.calls: list[tuple[int, dict[str, int]]] = []

    def __call__(self, n: int, keeps: dict[str, int]) -> dict[str, float]:
        self.calls.append((n, keeps))
        return {k: self.ns[k] for k in keeps}
