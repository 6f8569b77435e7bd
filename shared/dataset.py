"""The Marquee dataset's command line: generate a world, or print the summary of one.

    python -m shared.dataset generate --preset small --days 7 --out lake/world
    python -m shared.dataset generate --preset tiny --faults 0.01 --fault-days 1,2 --force
    python -m shared.dataset generate --preset small --drift-day 4 --drift-kind tastes
    python -m shared.dataset generate --preset small --to-s3 s3://marquee-lake/landing
    python -m shared.dataset summary lake/world

Wrong arguments get one line on stderr and exit status 2; nothing is overwritten without --force.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import NoReturn

from shared.faults import FAULT_KINDS, FaultConfig
from shared.generate import DATASET_FILE, DEFAULT_START, DatasetError, GenerateConfig, generate
from shared.presets import PRESETS
from shared.settings import get_settings
from shared.storage import atomic_write_json
from shared.world import Drift


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not a usage dump
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m shared.dataset", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    gen = commands.add_parser("generate", help="generate a Marquee dataset")
    gen.add_argument("--preset", default="small", help=f"one of {', '.join(PRESETS)}")
    gen.add_argument("--days", type=int, default=7, help="days of events (default 7)")
    gen.add_argument("--seed", type=int, default=None, help="default: MARQUEE_SEED or 7")
    gen.add_argument(
        "--start", type=dt.date.fromisoformat, default=DEFAULT_START, help="first day, YYYY-MM-DD"
    )
    gen.add_argument("--out", type=Path, default=None, help="default: <lake root>/world")
    gen.add_argument(
        "--faults",
        default=None,
        help=f"a rate for every kind (0.01) or kind=rate pairs; kinds: {', '.join(FAULT_KINDS)}",
    )
    gen.add_argument("--fault-days", default=None, help="0-based days to corrupt, e.g. 2,3")
    gen.add_argument("--drift-day", type=int, default=None, help="0-based day the world drifts")
    gen.add_argument("--drift-kind", default="tastes", choices=["tastes", "catalogue"])
    gen.add_argument("--drift-strength", type=float, default=0.5, help="0..1 (default 0.5)")
    gen.add_argument("--to-s3", default=None, help="also upload raw/ to s3://BUCKET[/PREFIX]")
    gen.add_argument("--force", action="store_true", help="replace a dataset already at --out")
    gen.add_argument("--report", type=Path, default=None, help="also write the summary here")

    show = commands.add_parser("summary", help="print the summary of a generated dataset")
    show.add_argument("out", type=Path)
    return parser


def _config(args: argparse.Namespace) -> GenerateConfig:
    faults = FaultConfig.parse(args.faults, args.fault_days) if args.faults else None
    drift = None
    if args.drift_day is not None:
        drift = Drift(day=args.drift_day, kind=args.drift_kind, strength=args.drift_strength)
    seed = {} if args.seed is None else {"seed": args.seed}  # else MARQUEE_SEED, via the config
    return GenerateConfig(
        preset=args.preset, days=args.days, start=args.start, faults=faults, drift=drift, **seed
    )


def _shown(path: Path) -> Path:
    """`path` relative to the working directory when it lies inside it: shorter to read."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def format_summary(summary: dict, out: Path) -> str:
    """A table a reader can take in at a glance: per day, what was sent and what was broken."""
    c = summary["config"]
    e = summary["entities"]
    rows = [
        f"Marquee world: preset {c['preset']}, seed {c['seed']}, {c['days']} days from "
        f"{c['start']} -> {_shown(out)}",
        f"entities: {e['users']:,} users, {e['titles']:,} titles, {e['ads']:,} ads",
        "",
        f"{'day':<11}{'events':>10}{'impr':>10}{'clicks':>8}{'plays':>8}"
        f"{'ad CTR':>8}{'home CTR':>9}{'lines':>10}{'faulted':>9}",
    ]
    for day, d in summary["days"].items():
        t = d["by_type"]
        rows.append(
            f"{day:<11}{d['events']:>10,}{t['impression']:>10,}{t['click']:>8,}{t['play']:>8,}"
            f"{d['ctr']['ad_break']:>8.2%}{d['ctr']['home_row']:>9.2%}{d['lines']:>10,}"
            f"{sum(d['faults'].values()):>9,}"
        )
    rows.append(f"{'total':<11}{summary['events']:>10,}{summary['lines']:>53,}")
    rows.append("")
    rows.append("oracle (the true click probabilities: no model can do better)")
    for surface, m in summary["oracle"].items():
        rows.append(
            f"  {surface:<9} AUC {m['auc']:.4f}  log loss {m['logloss']:.4f}  "
            f"CTR {m['ctr']:.2%} over {m['impressions']:,} impressions"
        )
    totals: dict[str, int] = {}
    for d in summary["days"].values():
        for kind, n in d["faults"].items():
            totals[kind] = totals.get(kind, 0) + n
    if any(totals.values()):
        listed = ", ".join(f"{k} {n:,}" for k, n in totals.items() if n)
        rows.append(f"faults injected: {listed} (ledger: truth/faults/, counts: _faults.json)")
    else:
        rows.append("faults injected: none (clean log)")
    return "\n".join(rows)


def _upload(out: Path, target: str) -> str:
    from shared.s3 import parse_s3_url, upload_dir

    bucket, prefix = parse_s3_url(target)
    keys = upload_dir(out / "raw", bucket, f"{prefix}/raw" if prefix else "raw", create_bucket=True)
    return f"uploaded {len(keys)} files to s3://{bucket}/{prefix}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "summary":
            summary = json.loads((args.out / DATASET_FILE).read_text())
            print(format_summary(summary, args.out))
            return 0
        config = _config(args)
        out = args.out or get_settings().lake_root / "world"
        if args.to_s3:
            from shared.s3 import parse_s3_url

            parse_s3_url(args.to_s3)  # a bad URL fails before minutes of generating
        started = time.perf_counter()
        summary = generate(config, out, force=args.force)
        elapsed = time.perf_counter() - started
        print(format_summary(summary, out))
        print(f"generated {summary['lines']:,} lines in {elapsed:.1f} s")
        if args.to_s3:
            print(_upload(out, args.to_s3))
        if args.report:
            atomic_write_json(
                args.report, {**summary, "seconds": round(elapsed, 2), "out": str(out)}
            )
        return 0
    except (DatasetError, ValueError, FileNotFoundError) as error:
        print(f"python -m shared.dataset: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
