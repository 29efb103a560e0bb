"""The report of presentation-attack detection (`experiments.pad`): the PAD section of every run
folder holding pad_scores.npz (`winnow train --pad-bona-fide`, `winnow evaluate`) with the
cards, the PAD table (threshold and the split that fixed it, APCER per attack type) and the ROC
and DET curves of the test split; and the `evaluate` kind."""

from __future__ import annotations

from .. import metrics, plots, runs
from ..experiments.pad import pad_table, read_scores, threshold_text
from . import html as h
from .kinds import train_sections
from .registry import Block, Context, Run, format_seconds, percent, register_attachment, register_kind


@register_attachment(runs.PAD_SCORES)
def pad_blocks(run: Run, context: Context) -> list[Block]:
    record = (run.final or {}).get("pad")
    if record is None:
        return [Block("Presentation-attack detection", h.note("This run has PAD scores but no PAD record in "
                                                                "final.json (not finished?).", "warn"))]
    where = (f"fixed on the {record['threshold_split']} split ({record['threshold_split_count']} images)"
             if record.get("threshold_split") else "given")
    items = [(percent(record["acer"]), "ACER on the test split"),
             (percent(record["apcer"]), "APCER (worst attack type)"),
             (percent(record["bpcer"]), "BPCER"),
             (percent(record["eer"]), "EER of the test scores"),
             (f"{record['threshold']:.4g}", f"threshold ({record['threshold_rule']}), {where}")]
    blocks = [Block("Presentation-attack detection", h.cards(items) + h.Raw(pad_table(record).to_html()))]
    test = read_scores(run.path, record, list(run.config["class_names"]))["test"]
    curve = metrics.pad_curve(*test)
    figure = context.figure(run, runs.PAD_CURVES_PNG, lambda p: plots.plot_pad_curves(curve, p, record),
                            f"The test split's {record['bona_fide_count']} bona fide and {record['attack_count']} "
                            "attack presentations: ROC (left) and DET (right, normal deviate axes) per attack type, "
                            f"and the operating point (dots) at the {threshold_text(record)}.")
    blocks.append(Block("ROC and DET curves", figure))
    return blocks


def _headline(run: Run) -> str:
    record = (run.final or {}).get("pad")
    if not record:
        return "not finished"
    return (f"ACER {percent(record['acer'])} (APCER {percent(record['apcer'])}, BPCER {percent(record['bpcer'])}; "
            f"bona fide {record['bona_fide_class']})")


@register_kind("evaluate", "evaluation", headline=_headline)
def evaluate_sections(run: Run, context: Context) -> list[Block]:
    final, config = run.final, run.config
    facts = h.facts([("evaluated run", str(config.get("run_dir", ""))),
                     ("bona fide class", str((config.get("pad") or {}).get("bona_fide", "")))])
    if final is None:
        return [Block("Status", h.note("This evaluation has not finished (no final.json yet).", "warn") + facts)]
    items = [(percent(final["test_accuracy"]), f"test accuracy ({final.get('test_count', '?')} images)"),
             (format_seconds(final.get("test_seconds")), "predicting")]
    blocks = [Block("Evaluation", h.cards(items) + facts)]
    # the confusion matrix and per-class accuracy exactly as for a trained run; the PAD section follows
    blocks += [block for block in train_sections(run, context) if block.title not in ("Final metrics", "Status")]
    return blocks
