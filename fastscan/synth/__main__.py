"""python -m fastscan.synth: write a synthetic, labelled log."""

from __future__ import annotations

from fastscan.synth.base import FORMATS
from fastscan.synth.write import write_labels, write_log


def main(argv=None) -> int:
    """python -m fastscan.synth LOG [--labels CSV] [--accounts N] [--target-mb M] ...: write a log."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(
        prog="python -m fastscan.synth", description="write a synthetic, labelled LLM API request log"
    )
    ap.add_argument("out")
    ap.add_argument("--labels")
    ap.add_argument("--accounts", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--format", choices=FORMATS, default="flat")
    ap.add_argument("--target-mb", type=float, help="write about this many MB (1e6 bytes) of JSON")
    ap.add_argument("--days", type=int, default=7)
    args = ap.parse_args(argv)
    s = write_log(
        args.out,
        accounts=args.accounts,
        seed=args.seed,
        fmt=args.format,
        days=args.days,
        target_bytes=int(args.target_mb * 1e6) if args.target_mb else None,
    )
    if args.labels:
        write_labels(args.labels, s)
    print(
        f"wrote {s.records:,} requests from {len(s.labels):,} accounts ({s.n_extractors} extractors), "
        f"{s.bytes_written / 1e6:,.1f} MB ({s.file_bytes / 1e6:,.1f} MB on disk) in {s.seconds:.2f} s, "
        f"{s.mb_per_s:,.0f} MB/s, to {s.path}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
