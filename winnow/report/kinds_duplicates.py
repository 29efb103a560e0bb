"""The report of a `winnow clean --duplicates` run (command "duplicates"): the counts, the groups
as images side by side (duplicates.png, leaks and cross-class groups first) and the top of the
list of groups; several such runs are compared in one table of their counts."""

from __future__ import annotations

from .. import runs
from ..table import Table
from . import html as h
from .kinds import stored_table
from .registry import Block, Context, Run, format_seconds, register_kind

LISTED_GROUPS = 30


def _all(results: dict) -> dict:
    return results["counts"]["all"]


def _headline(run: Run) -> str:
    results = run.json(runs.RESULTS_JSON)
    if results is None:
        return "not finished"
    counts = results["counts"]
    return (f"{counts['identical']['groups']} identical and {counts['near']['groups']} near-duplicate groups; "
            f"{_all(results)['test_in_train']} test images with a copy in train")


def _not_finished() -> list[Block]:
    return [Block("Status", h.note("No results yet: results.json is written when the search finishes. Run the same "
                                   "command again with --force.", "warn"))]


@register_kind("duplicates", "duplicate search", headline=_headline,
               compare=lambda group, context: _compare(group, context))
def duplicates_sections(run: Run, context: Context) -> list[Block]:
    results = run.json(runs.RESULTS_JSON)
    if results is None:
        return _not_finished()
    config, counts, every = results["config"], results["counts"], _all(results)
    items = [(str(counts["identical"]["groups"]), f"sets of identical images ({counts['identical']['images']} "
                                                  "images)"),
             (str(counts["near"]["groups"]), f"near-duplicate groups ({counts['near']['images']} images)"),
             (str(every["test_in_train"]), "test images with a copy in train"),
             (str(every["cross_class_groups"]), "groups under two classes or more"),
             (str(results["images"]), f"images searched in {format_seconds(results.get('search_seconds'))}")]
    if results["splits"].get("val"):
        items.insert(3, (f"{every['val_in_train']} / {every['test_in_val']}",
                         "val images with a copy in train / test images with one in val"))
    near = (f"pHash at most {config['hash_distance']} of 64 bits apart and centred 16 x 16 thumbnail cosine at "
            f"least {config['min_cosine']:g}" if results.get("near_searched", True) else
            "not searched: the images are smaller than the 16 x 16 thumbnails the near test compares")
    facts = h.facts([("identical", "the same decoded pixels (BLAKE2b-128)"), ("near", near)])
    blocks = [Block("Duplicates", h.cards(items) + facts + stored_table(results, 0))]
    if run.has(runs.DUPLICATES_PNG):
        blocks.append(Block("Duplicate images side by side", h.figure(
            run.file(runs.DUPLICATES_PNG).read_bytes(),
            "Each group's images side by side (up to 6), its number before the first; under each image its split "
            "and class. Leaks across splits and groups under two classes come first, then larger groups.",
            pixelated=True)))
    elif not results["groups"]:
        blocks.append(Block("Duplicate images side by side", h.note("No duplicates found.")))
    if results["groups"]:
        blocks.append(Block("Groups", _listing(results)))
    return blocks


def _listing(results: dict) -> h.Raw:
    """The first LISTED_GROUPS rows of the groups table."""
    tables = results.get("tables") or []
    if len(tables) < 2:
        return stored_table(results, 1)
    listing = Table.from_dict(tables[1])
    shown = listing.rows[:LISTED_GROUPS]
    return h.Raw(Table(f"{listing.title}: the first {len(shown)} of {len(listing.rows)} (all in results.md, "
                       "results.csv and duplicates.json)", listing.columns, shown, listing.notes).to_html())


def _compare(group: list[Run], context: Context) -> list[Block]:
    rows = []
    for run in group:
        results = run.json(runs.RESULTS_JSON)
        if results is None:
            continue
        counts, config = results["counts"], results["config"]
        rows.append([run.name, str(results["images"]), f"{config['hash_distance']} / {config['min_cosine']:g}",
                     str(counts["identical"]["groups"]), str(counts["near"]["groups"]),
                     str(counts["all"]["extra_copies"]), str(counts["all"]["test_in_train"]),
                     str(counts["all"]["cross_class_groups"])])
    return [Block("Duplicate searches side by side", h.table(
        ["run", "images", "hash bits / cosine", "identical sets", "near groups", "extra copies",
         "test images with a copy in train", "cross-class groups"], rows, align="lrrrrrrr"))]
