"""``pointdose monitor``: live readings as text, no GUI.

Prints a line a few times a second: mean raw counts over the last interval, the force in newtons
through the device's scale (the wizard's calibration, else its factory scale), and the link's loss/CRC counters. ``--raw`` prints
every sample instead (``segment seq t_host_s raw``), for piping into other tools.
Without ``--port`` it uses the first board found, else the simulated device; ``--sim`` uses the
simulated device at once, as every other command does.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

INTERVAL_S = 0.25


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", help="serial port or pyserial URL (default: first board found, else the simulated device)")
    parser.add_argument("--sim", action="store_true", help="use the simulated device (even when a board is plugged in)")
    from pointdose.commands.cliopts import add_sim_board
    add_sim_board(parser)
    parser.add_argument("--seconds", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C)")
    parser.add_argument("--raw", action="store_true", help="print every sample as 'segment seq t_host_s raw'")
    from pointdose.commands.cliopts import add_lsl as lsl_flag
    lsl_flag(parser)  # pressure for a 1 cm² probe (the session's default) and raw counts


def force_newtons(raw: float, conv) -> float | None:
    """``raw`` in newtons through ``conv`` (a converter from :func:`pointdose.calibration.load_scale`), or None."""
    return None if conv is None else float(conv.force_n(raw))


def format_line(rows, conv, stats, state) -> str:
    """One status line; ``conv`` turns raw counts into newtons (None: uncalibrated)."""
    if len(rows):
        raw = float(rows["raw"].mean())
        text = f"raw {raw:12.1f}"
        force = force_newtons(raw, conv)
        text += f"  {force:9.2f} N" if force is not None else "  (no calibration)"
    else:
        text = "raw            -  (no samples)"
    behind = getattr(stats, "device_missed", 0)
    repl = getattr(stats, "repl_recoveries", 0)
    dropped = getattr(stats, "device_lost_frames", 0)
    return (f"{text}  n={len(rows):4d}  lost={stats.lost_samples} overflow={stats.device_overflow} "
            f"crc={stats.crc_errors} framing={stats.framing_errors} reconnects={stats.reconnects} {state.value}"
            + (f"  device fell behind: {behind} samples" if behind else "")
            + (f"  device dropped {dropped} frames (output full)" if dropped else "")
            + (f"  brought back from the REPL {repl}x ({getattr(stats, 'repl_gap_s', 0.0):.1f} s without data)"
               if repl else ""))


@contextlib.contextmanager
def open_link(port: str | None, out=sys.stderr, sim: bool = False, sim_board: str | None = None):
    """A streaming-ready DeviceLink on ``port``, the first board found, or the simulated device
    (``sim``: the simulated device at once, as ``--sim`` does for every command)."""
    from pointdose.device import open_device

    with open_device(port, sim=sim, sim_board=sim_board, fallback_sim=True, out=out) as dev:
        yield dev.link


def run(args: argparse.Namespace, out=None) -> int:
    out = out or sys.stdout
    with open_link(args.port, sim=getattr(args, "sim", False), sim_board=getattr(args, "sim_board", None)) as link:
        from pointdose.calibration.scale import load_scale
        from pointdose.link.info import device_info

        dev, scale = device_info(link), load_scale(link)
        rate = f"{dev.rate_hz:g}" if dev.rate_hz else "?"
        print(f"{link.port}: fw={dev.fw or '?'} board={dev.board or '?'} sensor={dev.sensor or '?'} rate={rate} Hz "
              f"cal={dev.cal_text} scale={scale.source}"
              + (" (uncalibrated: error unknown)" if scale.source != "calibration" else ""), file=out, flush=True)
        link.start()
        from pointdose.lsl import stream_link_if_asked
        lsl = stream_link_if_asked(getattr(args, "lsl", False), link)
        end = time.monotonic() + args.seconds if args.seconds is not None else float("inf")
        seen = link.ring.total_appended
        try:
            while time.monotonic() < end:
                time.sleep(min(INTERVAL_S, max(0.0, end - time.monotonic())))
                seen, rows = link.ring.since(seen)
                if args.raw:
                    out.writelines(f"{r['segment']} {r['seq']} {r['t_dev_s']:.6f} {r['raw']}\n" for r in rows)
                    out.flush()
                else:
                    print(format_line(rows, scale.converter, link.stats, link.state), file=out, flush=True)
        except KeyboardInterrupt:
            pass
        finally:
            if lsl is not None:
                lsl.close()
    return 0
