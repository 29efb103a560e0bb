"""`winnow ablate`: each recipe change alone against a base setting, over seeds."""

from __future__ import annotations

import argparse

from . import command, print_results
from .options import (SettingParts, _recipe_value, add_data_options, add_run_options, data_options, recipe_keys,
                      recipe_overrides, seed_list)

SETTINGS = SettingParts(example="--set epochs=20")


def vary_option(text: str) -> tuple[str, list[str]]:
    """KEY=V1,V2 as (KEY, [V1, V2]) (the values typed later, by the recipe field)."""
    key, sign, values = text.partition("=")
    if not sign or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=V1,V2, e.g. mixup=0.2,1.0, got {text!r}")
    return key.strip(), [part.strip() for part in values.split(",") if part.strip()]


def combine_option(text: str) -> list[tuple[str, str]]:
    """KEY=V+KEY=V as [(KEY, V), ...] (the values typed later, by the recipe field)."""
    pairs = [part.strip().partition("=") for part in text.split("+")]
    if any(not sign or not key.strip() or not value.strip() for key, sign, value in pairs):
        raise argparse.ArgumentTypeError(f"expected KEY=V+KEY=V, e.g. affine_degrees=15+crop_scale=0.35, got {text!r}")
    return [(key.strip(), value.strip()) for key, _, value in pairs]


def typed_combine(combos: list[list[tuple[str, str]]]) -> list[dict]:
    """--combine as [{key: typed value}]; errors name --combine (an unknown key, a key twice in
    one combination, a value not of the field's type)."""
    typed = []
    for pairs in combos:
        changes = {}
        for key, value in pairs:
            if key not in recipe_keys():
                raise ValueError(f"--combine {key}: unknown recipe option; known: {', '.join(recipe_keys())}")
            if key in changes:
                raise ValueError(f"--combine: {key} is given twice in one combination")
            changes[key] = _typed("--combine", key, [value])[0]
        typed.append(changes)
    return typed


def _typed(option: str, key: str, values: list[str]) -> list:
    """`values` typed by the recipe field `key` (a known one); a value that is not of the field's
    type is an error naming `option`."""
    try:
        return [_recipe_value(key, key, value) for value in values]
    except ValueError as error:
        raise ValueError(str(error).replace("--set ", f"{option} ", 1)) from None


def typed_vary(pairs: list[tuple[str, list[str]]]) -> dict[str, list]:
    """--vary as {key: typed values}; errors name --vary (an unknown key, a key given twice, a
    value that is not of the field's type). No values and bad ranges are `ablate_run`'s errors."""
    vary = {}
    for key, values in pairs:
        if key == "seed":
            raise ValueError("--vary seed: the seeds are --seeds")
        if key not in recipe_keys():
            raise ValueError(f"--vary {key}: unknown recipe option; known: {', '.join(recipe_keys())}")
        if key in vary:
            raise ValueError(f"--vary {key} is given twice: give its values in one --vary {key}=V1,V2")
        vary[key] = _typed("--vary", key, values)
    return vary


def add_arguments(parser) -> None:
    from ..models import list_models
    from ..train import PRESETS

    add_data_options(parser)
    group = parser.add_argument_group("base setting and what varies")
    group.add_argument("--base", default="auto", choices=("auto", *PRESETS),
                       help="the preset of the base setting; auto = small for images under 16 px, gpu on CUDA, "
                            "else cpu")
    group.add_argument("--model", metavar="NAME", help=f"architecture: {', '.join(list_models())} "
                                                       "(default: the preset's)")
    group.add_argument("--vary", action="append", default=[], type=vary_option, metavar="KEY=V1,V2",
                       help="a recipe option and the values to try (repeatable); each value is one setting: the "
                            "base with only that option changed (one factor at a time)")
    group.add_argument("--combine", action="append", default=[], type=combine_option, metavar="KEY=V+KEY=V",
                       help="one more setting with several options changed together (repeatable), e.g. the best "
                            "augmentations of the --vary settings: affine_degrees=15+crop_scale=0.35")
    group.add_argument("--epochs", type=float, metavar="N", help="epochs of every setting (default: the preset's)")
    group.add_argument("--device", metavar="DEV", help="auto (default), cpu, cuda, cuda:N or mps")
    SETTINGS.add_to(group)
    group.add_argument("--seeds", default=[0, 1, 2], type=seed_list, metavar="N|S,S",
                       help="a count N (seeds 0..N-1) or a list of seeds, e.g. 0,1,2 (default 3)")
    add_run_options(parser, resumable=True)


@command("ablate", add_arguments, report_kind="ablate",
         help="each recipe change alone against a base setting, over seeds (augmentation ablations)",
         description="Train and test the base setting (a preset, with --set on top) and, one factor at a time, the "
                     "base with each value of each --vary (and each --combine), every one with each seed. Prints "
                     "and writes results.md, results.csv and results.json: test accuracy mean ± std per setting "
                     "and the paired difference "
                     "to the base with a 95 % confidence interval. Finished trainings are kept in RUN_DIR/cells: "
                     "run the same command again to resume.",
         epilog="example: winnow ablate --data digits --base small --vary mixup=0.2,1.0 --vary affine_degrees=15 "
                "--seeds 3 --out runs/ablate")
def ablate(args) -> int:
    from ..experiments.ablate import ablate_run

    vary = typed_vary(args.vary)
    overrides = recipe_overrides(args, SETTINGS.parse(args.settings), keys=("device", "epochs"))
    results = ablate_run(args.data, args.out, vary=vary, combine=typed_combine(args.combine), seeds=args.seeds,
                         base=args.base, model=args.model,
                         recipe_overrides=overrides, data_options=data_options(args), force=args.force,
                         on_progress=args.on_progress, on_cell=print_cell)
    print_results(results, args.out)
    return 0


def print_cell(cell: dict) -> None:
    print(f"seed {cell['seed']} || {cell['setting']} || test acc {100 * cell['test_accuracy']:.2f} % "
          f"|| training {cell['train_seconds']:.1f} s", flush=True)
