"""`winnow evaluate`: evaluate a trained run's model again, for presentation-attack detection,
into a new folder; and the PAD options and table that `winnow train` shares."""

from __future__ import annotations

from . import command, console


def add_pad_options(group, required: bool = False) -> None:
    """--pad-bona-fide and --pad-threshold (`experiments.pad`)."""
    group.add_argument("--pad-bona-fide", metavar="CLASS", required=required,
                       help="presentation-attack detection: CLASS is bona fide, every other class an attack type; "
                            "the score is the model's probability of CLASS, and the ISO/IEC 30107-3 metrics (APCER "
                            "per type, BPCER, ACER, EER, ...) on the test split go into final.json")
    group.add_argument("--pad-threshold", metavar="RULE",
                       help="how the PAD decision threshold is fixed: eer (default: the equal-error threshold of "
                            "the val split, or of a hold-out of the train split), apcer:SHARE (the lowest threshold "
                            "with APCER <= SHARE there, e.g. apcer:0.05) or a number in [0, 1]; then applied "
                            "unchanged to the test split")


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the run folder of a trained model (winnow train)")
    add_pad_options(parser, required=True)
    parser.add_argument("--device", metavar="DEV", help="predict on DEV instead of the recipe's device")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="the new folder to write (never RUN_DIR: the run is only read)")
    parser.add_argument("--force", action="store_true", help="replace the run files of an existing --out folder")


@command("evaluate", add_arguments, report_kind="evaluate",
         help="evaluate a trained run's model for presentation-attack detection, into a new folder",
         description="Reload the model, data and recipe of RUN_DIR (a `winnow train` run), treat --pad-bona-fide "
                     "CLASS as bona fide and every other class as an attack type, fix the threshold on the run's "
                     "hold-out (val_indices.npy) or the data's val split, and write the PAD metrics of the test "
                     "split to --out (config.json, final.json, pad_scores.npz, report.html). RUN_DIR is not changed.",
         epilog="example: winnow evaluate runs/pad --pad-bona-fide real --pad-threshold apcer:0.05 --out runs/pad-5")
def evaluate(args) -> int:
    from ..experiments.evaluate import evaluate_run

    final = evaluate_run(args.run_dir, args.out, pad_bona_fide=args.pad_bona_fide, pad_threshold=args.pad_threshold,
                         device=args.device, force=args.force)
    print_pad(final["pad"], args.out)
    return 0


def print_pad(record: dict, out) -> None:
    """The PAD table of final.json's "pad" record (`experiments.pad.pad_table`) and where it is."""
    from ..experiments.pad import pad_table

    output = console()
    output.print(pad_table(record).to_rich())
    output.print(f"PAD metrics in {out}/final.json, the scores in {out}/pad_scores.npz")
