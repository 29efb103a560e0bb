"""`winnow distill`: does a teacher make a student better than the same student trained alone?

The teacher is trained once (`MODEL[:PRESET]`, with seed `teacher_seed`) or loaded from the run
folder of a `winnow train` run (its model.pt, read with weights_only=True). Then for every seed
the student is trained alone, and once per loss spec with the teacher (`winnow.distill`: the
teacher sees the student's augmented batches, frozen), with the same recipe and seed, and
tested. Every training is a cell of the run folder (`teacher`, `student-s{seed}`,
`distill-{loss key}-s{seed}`, see `cell_name`): the same command resumes, and more seeds or
losses in the same folder add their cells.

The results: teacher, student alone and student + each loss (test accuracy, mean ± std over
seeds), the paired difference to the student alone with a 95 % t interval, and the cost: the
teacher's training and the extra time of the teacher's forward passes in every distilled step.

Cross-modal distillation, on data with several modalities (`Dataset.modalities`, e.g.
synthetic-pad's rgb, depth and ir): `teacher_modalities` are the teacher's inputs (a teacher
trained here is trained on them; one from a run folder has those of its run), and
`student_modalities` the student's: the teacher reads its modalities of the same augmented batch,
the student only its own, and the students are tested on theirs. Where the data has a bona fide
class (`bona_fide`), every model's presentation-attack metrics are recorded too (APCER, BPCER,
ACER at the EER threshold of the val split, never tuned on test; `experiments.modalities`), and
the results show ACER beside accuracy.

    results = distill_run("digits", "runs/distill", teacher="mlp", student="lenet5",
                          losses=["kd", "dkd"], seeds=[0, 1, 2], teacher_overrides={"epochs": 60})
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import numpy as np
import torch

from .. import data, runs, stats
from ..distill import DistillOptions, Distillation, check_teacher, format_loss_spec, parse_loss_spec
from ..models import create_model, list_models
from ..table import Column, Table
from ..train import Recipe
from .backend import Backend, CellOutput, Task, TaskContext, make_backend, state_dict
from .engine import Run, TrainingSpec, check_seeds, load_data, run_config
from .modalities import pad_at_val_threshold

log = logging.getLogger("winnow.experiments.distill")

TEACHER = "teacher"


def distill_run(
    source: str | data.Dataset,
    out: str | Path,
    *,
    teacher: str,
    student: str,
    seeds: list[int],
    losses: list[str] = ("kd",),
    options: DistillOptions | None = None,
    preset: str = "auto",
    recipe_overrides: dict | None = None,
    weights: str | None = None,
    teacher_overrides: dict | None = None,
    teacher_seed: int = 0,
    teacher_modalities: list[str] | None = None,
    student_modalities: list[str] | None = None,
    data_options: dict | None = None,
    force: bool = False,
    on_progress=None,
    on_cell=None,
    backend: str | Backend = "local",
    address: str | None = None,
    cpus_per_cell: float | None = None,
    gpus_per_cell: float | None = None,
) -> dict:
    """Run (or resume) the distillation comparison in `out` and return its results (also in
    results.json, results.csv and results.md).

    source : a data spec, or a `Dataset` (e.g. from `winnow.data.from_arrays`)
    teacher : a `winnow train` run folder, or MODEL[:PRESET] (the preset defaults to the student's)
    student : a registered model name, trained with `preset` and `recipe_overrides`, from
        pretrained `weights` when given (`winnow.weights`)
    losses : loss specs (`distill.parse_loss_spec`), one distilled student per spec and seed
    options : temperature, alpha and the losses' settings (`distill.DistillOptions`)
    teacher_overrides : the teacher's recipe on top of its preset (not for a run folder)
    teacher_seed : the seed of the one teacher training
    teacher_modalities, student_modalities : data with several modalities: each model's inputs
        (default all of the data's; a teacher from a run folder: its run's)
    backend : where the trainings run (`experiments.backend`): "local" (this process) or "ray" (the
        teacher and every student alone in parallel, then every taught student), with `address`, `cpus_per_cell` and
        `gpus_per_cell`; or a `Backend`. Not part of the configuration: a run resumes on either.
    """
    backend = make_backend(backend, address=address, cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell,
                           on_progress=on_progress)
    seeds = check_seeds(seeds)
    losses = _check_losses(losses)
    options = options or DistillOptions()
    dataset, data_seconds = load_data(source, data_options)
    student_modalities = _checked_modalities(dataset, student_modalities, "--student-modalities")
    spec = TrainingSpec.resolve(dataset, student, preset, recipe_overrides, weights=weights,
                                modalities=student_modalities)
    teacher_plan = _plan_teacher(teacher, dataset, spec.preset, teacher_overrides, teacher_seed,
                                 _checked_modalities(dataset, teacher_modalities, "--teacher-modalities"))
    _dry_run(dataset, spec, teacher_plan, losses, options)  # layer and shape errors before any training
    config = {
        **run_config("distill", source, data_options, dataset),
        **spec.to_config(),
        "student": spec.model,
        "teacher": teacher_plan["config"],
        "losses": losses,
        "distill_options": options.to_dict(),
        "seeds": seeds,
    }
    backend.start()
    run = Run.open(out, config, grid=("seeds", "losses"), force=force, data_seconds=data_seconds)
    shared = backend.share(dataset)
    backend.run(run, [_chain(run, backend, shared, spec, teacher_plan, seeds, losses, options, on_cell)])
    results = summarize(run.path)
    return run.finish(results, [results_table(results)], cells=len(results["cells"]))


def cell_name(loss: str | None, seed: int) -> str:
    """`student-s{seed}` for the student alone (loss None), else `distill-{key}-s{seed}` with a
    file-safe key of the canonical loss spec (and a short hash of it, so two specs never share one)."""
    if loss is None:
        return f"student-s{seed}"
    slug = re.sub(r"[^\w.]+", "_", loss)[:40]
    return f"distill-{slug}-{hashlib.sha1(loss.encode()).hexdigest()[:6]}-s{seed}"


def _check_losses(losses) -> list[str]:
    """The canonical specs of `losses`; an error for none, a bad spec, or one given twice."""
    if isinstance(losses, str):
        losses = [losses]
    canonical = [format_loss_spec(parse_loss_spec(text)) for text in losses]
    if not canonical:
        raise ValueError("give at least one --loss")
    repeated = sorted({c for c in canonical if canonical.count(c) > 1})
    if repeated:
        raise ValueError(f"--loss {repeated[0]} is given twice")
    return canonical


def _checked_modalities(dataset: data.Dataset, names, option: str) -> list[str] | None:
    """`names` (a list or "rgb,ir"), each a modality of the data; a one-line error naming `option`."""
    if names is None:
        return None
    names = [n.strip() for n in names.split(",")] if isinstance(names, str) else [str(n) for n in names]
    try:
        dataset.with_modalities(names)
    except data.DataError as error:
        raise ValueError(f"{option} {','.join(names)}: {error}") from None
    return names


def _plan_teacher(teacher: str, dataset: data.Dataset, student_preset: str, overrides: dict | None,
                  seed: int, modalities: list[str] | None = None) -> dict:
    """What the teacher is, checked against the data: {"config": ..., and either "run_dir" or "spec"}."""
    if not isinstance(teacher, str) or not teacher:
        raise ValueError("--teacher must be a run folder or MODEL[:PRESET]")
    folder = Path(teacher).expanduser()
    if folder.is_dir() or "/" in teacher:
        if overrides:
            raise ValueError(f"--set teacher.KEY changes the recipe of a teacher to be trained; {teacher} is "
                             "already trained")
        return _teacher_from_run(folder, dataset, modalities)
    name, _, preset = teacher.partition(":")
    if name not in list_models():
        raise ValueError(f"--teacher {teacher!r} is neither a run folder nor a model; models: "
                         f"{', '.join(list_models())}")
    teacher_spec = TrainingSpec.resolve(dataset, name, preset or student_preset, overrides,
                                        seed_option="--teacher-seed", modalities=modalities)
    return {"spec": teacher_spec, "seed": int(seed),
            "config": {"source": "trained", **teacher_spec.to_config(), "seed": int(seed)}}


def _teacher_from_run(folder: Path, dataset: data.Dataset, modalities: list[str] | None = None) -> dict:
    if not (folder / runs.CONFIG).is_file():
        raise FileNotFoundError(f"--teacher {folder}: not a run folder (no {runs.CONFIG})")
    config = runs.read_json(folder / runs.CONFIG)
    missing = [key for key in ("model", "recipe", "class_names") if key not in config]
    if missing or not (folder / runs.WEIGHTS).is_file():
        raise ValueError(f"--teacher {folder}: not the run of one trained model (a `winnow train` folder with "
                         f"{runs.WEIGHTS})")
    if list(config["class_names"]) != list(dataset.class_names):
        raise ValueError(f"--teacher {folder} was trained on the classes {config['class_names']}, the data has "
                         f"{dataset.class_names}")
    trained_on = list(config.get("modalities") or config.get("data_modalities") or []) or None  # its inputs
    if modalities is not None and trained_on is not None and modalities != trained_on:
        raise ValueError(f"--teacher-modalities {','.join(modalities)}: the teacher {folder} was trained on "
                         f"{','.join(trained_on)}")
    modalities = trained_on if modalities is None else modalities
    if modalities is not None:
        modalities = _checked_modalities(dataset, modalities, f"--teacher {folder} (trained on)")
    seen = dataset if modalities is None else dataset.with_modalities(modalities)
    weights = runs.load_weights(folder / runs.WEIGHTS)  # weights_only=True
    channels = weights["input_mean"].shape[1] if "input_mean" in weights else seen.in_channels
    if channels != seen.in_channels:
        raise ValueError(f"--teacher {folder} takes {channels}-channel images, the data has {seen.in_channels}"
                         + (f" in {','.join(modalities)}" if modalities else ""))
    final = runs.read_json(folder / runs.FINAL) if (folder / runs.FINAL).is_file() else {}
    return {"run_dir": folder, "model": config["model"], "weights": weights,
            "config": {"source": "run", "run_dir": str(folder.resolve()), "model": config["model"],
                       "data": config.get("data"), "recipe": config["recipe"], "seed": config.get("seed"),
                       "train_seconds": final.get("train_seconds"),
                       **({"modalities": modalities} if modalities is not None else {})}}


def _teacher_view(plan: dict, dataset: data.Dataset) -> data.Dataset:
    """The data as the teacher sees it: its modalities (all of them when it names none)."""
    modalities = plan["config"].get("modalities")
    return dataset if modalities is None else dataset.with_modalities(modalities)


def _objective(teacher_model: torch.nn.Module, plan: dict, dataset: data.Dataset, spec: TrainingSpec, loss: str,
               options: DistillOptions) -> Distillation:
    """The distillation objective of `loss`, each model reading its modalities of the batches."""
    teacher_modalities = plan["config"].get("modalities")
    return Distillation(teacher_model, parse_loss_spec(loss), options,
                        teacher_channels=None if teacher_modalities is None
                        else dataset.channel_indices(teacher_modalities),
                        student_channels=None if spec.modalities is None else dataset.channel_indices(spec.modalities))


def _teacher_model(plan: dict, dataset: data.Dataset, weights: dict | None = None) -> torch.nn.Module:
    seen = _teacher_view(plan, dataset)
    model = create_model(plan["config"]["model"], seen.num_classes, seen.in_channels, modalities=seen.modalities)
    weights = weights if weights is not None else plan.get("weights")
    if weights is not None:
        model.load_state_dict(weights)
    check_teacher(model, seen.num_classes, seen.in_channels, f"--teacher {plan['config'].get('run_dir', '')}")
    return model


def _dry_run(dataset: data.Dataset, spec: TrainingSpec, plan: dict, losses: list[str],
             options: DistillOptions) -> None:
    """Set every loss up on untrained models and 8 training images on the CPU: an unknown layer or
    a loss that cannot read a layer's shape is an error before the teacher trains."""
    sample = dataset.images[torch.from_numpy(dataset.train_indices[:8])].float().div(255)  # (8, C, H, W)
    seen = spec.view(dataset)
    for loss in losses:
        student = create_model(spec.model, seen.num_classes, seen.in_channels, modalities=seen.modalities)
        teacher = _teacher_model(plan, dataset)
        student.eval()
        objective = _objective(teacher, plan, dataset, spec, loss, options)
        with torch.no_grad():
            student(sample[:, dataset.channel_indices(spec.modalities)] if spec.modalities else sample)  # lazy layers
        objective.setup(student, sample, "cpu")
        objective.close()


def _chain(run: Run, backend, dataset, spec: TrainingSpec, plan: dict, seeds: list[int], losses: list[str],
           options: DistillOptions, on_cell):
    """The teacher (unless a previous session saved its cell and weights) together with every
    student alone, which need no teacher; then every taught student."""
    def student(seed: int, loss: str | None, **teacher) -> Task:
        return Task(cell_name(loss, seed), _student_cell, dict(dataset=dataset, spec=spec, seed=seed, loss=loss,
                                                              options=options, **teacher), on_cell)

    alone = [student(seed, None) for seed in seeds if not run.cells.done(cell_name(None, seed))]
    if run.cells.done(TEACHER) and run.cells.has_weights(TEACHER):
        log.info("teacher loaded from %s", run.cells.folder)
        weights = run.cells.weights(TEACHER)
        if alone:
            yield alone
    else:
        outputs = yield [Task(TEACHER, _teacher_cell, dict(dataset=dataset, plan=plan), on_cell), *alone]
        weights = outputs[0].weights
    teacher = dict(teacher=plan["config"], teacher_weights=backend.share(weights))
    taught = [student(seed, loss, **teacher) for seed in seeds for loss in losses
              if not run.cells.done(cell_name(loss, seed))]
    if taught:
        yield taught


def _teacher_cell(context: TaskContext, *, dataset: data.Dataset, plan: dict) -> CellOutput:
    if "spec" in plan:
        teacher_spec = context.attach(plan["spec"])
        result = teacher_spec.train(dataset, dataset.train_indices, plan["seed"])
        model, train_seconds, history = result.model, result.train_seconds, result.history
        evaluate_spec = teacher_spec
    else:
        model, train_seconds, history = _teacher_model(plan, dataset), 0.0, []
        recipe = Recipe.from_dict(plan["config"]["recipe"])
        modalities = plan["config"].get("modalities")
        evaluate_spec = context.attach(TrainingSpec(plan["model"], "run", recipe,
                                                    modalities=None if modalities is None else tuple(modalities)))
    final = evaluate_spec.evaluate(model, dataset, plan["config"].get("seed") or 0)
    pad = pad_at_val_threshold(evaluate_spec, model, dataset, plan["config"].get("seed") or 0)
    record = {"loss": None, "seed": plan["config"].get("seed"), "role": TEACHER, "model": plan["config"]["model"],
              "source": plan["config"]["source"], "test_accuracy": final["test_accuracy"],
              "per_class_accuracy": final["per_class_accuracy"], "train_seconds": train_seconds,
              "source_train_seconds": plan["config"].get("train_seconds"), "epochs": history,
              "parameters": sum(p.numel() for p in model.parameters()), **({"pad": pad} if pad else {})}
    return CellOutput(record, weights=state_dict(model))


def _student_cell(context: TaskContext, *, dataset: data.Dataset, spec: TrainingSpec, seed: int, loss: str | None,
                  options: DistillOptions, teacher: dict | None = None,
                  teacher_weights: dict | None = None) -> CellOutput:
    """A fresh student trained alone (`loss` None) or with the teacher (its config, its weights)
    on `loss`, and tested."""
    spec = context.attach(spec)
    if loss is None:
        return CellOutput({"loss": None, "seed": seed, **_trained(spec, dataset, seed)})
    teacher_model = _teacher_model({"config": teacher}, dataset, teacher_weights)
    objective = _objective(teacher_model, {"config": teacher}, dataset, spec, loss, options)
    try:
        return CellOutput({"loss": loss, "seed": seed, **_trained(spec, dataset, seed, objective)})
    finally:
        objective.close()


def _trained(spec: TrainingSpec, dataset: data.Dataset, seed: int, objective=None) -> dict:
    """A fresh student trained (with `objective` when given) and tested: the cell's numbers."""
    result, tested = spec.train_and_test(dataset, dataset.train_indices, seed, objective=objective)
    pad = pad_at_val_threshold(spec, result.model, dataset, seed)  # data with a bona fide class and a val split
    return {"role": "student", "model": spec.model, **tested, "epochs": result.history,
            "parameters": sum(p.numel() for p in result.model.parameters()), **({"pad": pad} if pad else {})}


def summarize(run_dir: str | Path) -> dict:
    """The results from the cells of a distill run folder: the teacher; the student alone and
    with each loss (test accuracy mean ± std over seeds); the paired difference of each loss to
    the student alone (95 % t interval, over the seeds both have); mean training times and the
    mean paired extra time of distillation; where the cells hold PAD metrics (a bona fide class),
    the test ACER likewise (`acer`, `acer_vs_student`: negative = fewer errors). Reads the folder only."""
    run_dir = Path(run_dir)
    config = runs.read_json(run_dir / runs.CONFIG)
    records = runs.Cells(run_dir).records()
    teacher = records.get(TEACHER)
    cells = [r for name, r in records.items() if name != TEACHER and r["seed"] in config["seeds"]
             and (r["loss"] is None or r["loss"] in config["losses"])]
    alone = {c["seed"]: c for c in cells if c["loss"] is None}
    rows = []
    if teacher is not None:
        rows.append({"role": TEACHER, "model": teacher["model"], "loss": None, "seeds": [teacher["seed"]],
                     "test_accuracy": stats.summarize([teacher["test_accuracy"]]).to_dict(), "vs_student": None,
                     "train_seconds": teacher["train_seconds"], "extra_seconds": None,
                     "parameters": teacher.get("parameters"), "source": teacher["source"],
                     **({"acer": stats.summarize([teacher["pad"]["acer"]]).to_dict(), "acer_vs_student": None}
                        if teacher.get("pad") else {})})
    for loss in [None, *config["losses"]]:
        group = {c["seed"]: c for c in cells if c["loss"] == loss}
        seeds = sorted(group)
        accuracy = {s: group[s]["test_accuracy"] for s in seeds}
        extra = [group[s]["train_seconds"] - alone[s]["train_seconds"] for s in seeds if s in alone]
        rows.append({
            "role": "student" if loss is None else "student + teacher", "model": config["student"], "loss": loss,
            "seeds": seeds, "test_accuracy": stats.summarize([accuracy[s] for s in seeds]).to_dict(),
            "vs_student": None if loss is None else stats.paired_by_key(
                accuracy, {s: c["test_accuracy"] for s, c in alone.items()}),
            "train_seconds": float(np.mean([group[s]["train_seconds"] for s in seeds])) if seeds else None,
            "extra_seconds": float(np.mean(extra)) if loss is not None and extra else None,
            "parameters": group[seeds[0]].get("parameters") if seeds else None,
            **_acer(group, alone, loss),
        })
    return {"config": {**{k: config[k] for k in ("data", "student", "teacher", "losses", "seeds", "preset",
                                                 "distill_options")},
                       "student_modalities": config.get("modalities")},
            "rows": rows, "cells": cells, "teacher": teacher}


def _acer(group: dict, alone: dict, loss: str | None) -> dict:
    """{"acer": mean ± std over the seeds, "acer_vs_student": the paired difference} of the cells
    of one row (seed -> cell) that hold PAD metrics; {} when none does."""
    acer = {seed: cell["pad"]["acer"] for seed, cell in group.items() if cell.get("pad")}
    if not acer:
        return {}
    alone_acer = {seed: cell["pad"]["acer"] for seed, cell in alone.items() if cell.get("pad")}
    return {"acer": stats.summarize([acer[s] for s in sorted(acer)]).to_dict(),
            "acer_vs_student": None if loss is None else stats.paired_by_key(acer, alone_acer)}


def results_table(results: dict) -> Table:
    """Teacher, student alone and student + each loss: accuracy (mean ± std, %), the paired
    difference to the student alone (points, 95 % CI), and the cost (seconds)."""
    columns = [Column("role"), Column("model"), Column("loss"), Column("parameters", kind="int"),
               Column("seeds", kind="int"), Column("accuracy", "test accuracy % (mean ± std)", "summary"),
               Column("vs_student", "vs student alone (95 % CI)", "difference"),
               Column("train_seconds", "training s", "seconds"),
               Column("extra_seconds", "extra s vs alone", "seconds")]
    rows = [{"role": row["role"], "model": row["model"], "loss": row["loss"], "parameters": row["parameters"],
             "seeds": len(row["seeds"]), "accuracy": row["test_accuracy"] if row["seeds"] else None,
             "vs_student": row["vs_student"], "train_seconds": row["train_seconds"],
             "extra_seconds": row["extra_seconds"]} for row in results["rows"]]
    if any("acer" in row for row in results["rows"]):  # presentation-attack detection: ACER beside accuracy
        columns[7:7] = [Column("acer", "test ACER % (mean ± std)", "summary"),
                        Column("acer_vs_student", "ACER vs student alone (95 % CI)", "difference")]
        for table_row, row in zip(rows, results["rows"]):
            table_row.update(acer=row.get("acer"), acer_vs_student=row.get("acer_vs_student"))
    options = results["config"]["distill_options"]
    teacher = results["config"]["teacher"]
    source = (f"loaded from {teacher['run_dir']}" if teacher["source"] == "run"
              else f"trained once (seed {teacher['seed']}, {teacher['recipe']['epochs']:g} epochs)")
    inputs = ""
    student_modalities = results["config"].get("student_modalities")
    if teacher.get("modalities") or student_modalities:
        inputs = (f" The teacher sees {'+'.join(teacher.get('modalities') or ['every modality'])}, the student "
                  f"{'+'.join(student_modalities or ['every modality'])}.")
    if any("acer" in row for row in results["rows"]):
        inputs += (" ACER (ISO/IEC 30107-3, bona fide = the bona_fide class) is at the EER threshold of the val "
                   "split, applied unchanged to the test split.")
    return Table("Distillation: test accuracy (%), mean ± std over seeds", columns, rows, notes=(
        f"The teacher was {source}. Loss = (1 - alpha) x label loss + alpha x the weighted terms, alpha "
        f"{options['alpha']:g}, temperature {options['temperature']:g}. Differences are paired (the same seed, "
        "recipe and initial weights), in points, with a 95 % t interval. The teacher's training row is its own "
        "cost; 'extra s vs alone' is the mean paired difference of training time between a distilled student and "
        "the student alone (the teacher's passes; meaningless when the two ran under different loads)." + inputs))
