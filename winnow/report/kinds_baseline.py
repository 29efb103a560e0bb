"""The report of a `winnow baseline` run: the `train` kind's confusion matrix and per-class accuracy
under the baseline's own headline numbers; several baselines, and baselines with CNN training
runs, are compared in the `train` kind's side-by-side table (`compare_with="train"`)."""

from __future__ import annotations

from . import html as h
from .kinds import train_sections
from .registry import Block, Context, Run, format_seconds, percent, register_kind


def _headline(run: Run) -> str:
    if not run.final:
        return "not finished"
    return f"test accuracy {percent(run.final['test_accuracy'])} ({run.config.get('model', '')})"


def _options(options: dict | None) -> str:
    return ", ".join(f"{key}={value}" for key, value in (options or {}).items())


@register_kind("baseline", "classical baseline", headline=_headline, compare_with="train")
def baseline_sections(run: Run, context: Context) -> list[Block]:
    final, config = run.final, run.config
    facts = h.facts([("features", f"{config.get('features')} ({_options(config.get('feature_options'))})"),
                     ("classifier", f"{config.get('classifier')} ({_options(config.get('classifier_options'))})"),
                     ("seed", str(config.get("seed", "")))])
    if final is None:
        return [Block("Status", h.note("This baseline has not finished (no final.json yet).", "warn") + facts)]
    items = [(percent(final["test_accuracy"]), f"test accuracy ({final.get('test_count', '?')} images)")]
    if final.get("test_top5_accuracy") is not None:
        items.append((percent(final["test_top5_accuracy"]), "top-5 accuracy"))
    items += [(f"{final['features']} + {final['classifier']}", f"{final.get('kernel')} kernel, "
                                                               f"{final.get('feature_dimensions')} dimensions"),
              (format_seconds(final.get("feature_seconds")),
               f"features of {final.get('train_count', '?')} + {final.get('test_count', '?')} images (vocabulary "
               f"{format_seconds(final.get('vocabulary_seconds'))})"),
              (format_seconds(final.get("fit_seconds")), "fitting the classifier"),
              (format_seconds(final.get("test_seconds")), "classifying the test images")]
    blocks = [Block("Final metrics", h.cards(items) + facts)]
    # the confusion matrix and per-class accuracy exactly as for a trained network
    blocks += [block for block in train_sections(run, context) if block.title not in ("Final metrics", "Status")]
    return blocks
