"""Progress bars of the long fits (the low-rank methods' stages)."""

from __future__ import annotations


def progress_bar(label: str | None, total: int, what: str):
    """A progress bar (tqdm, on stderr, removed when done) of ``total`` steps named
    ``label: what``; ``label`` None: a disabled bar, whose calls do nothing."""
    from tqdm.auto import tqdm

    return tqdm(total=int(total), desc=None if label is None else f"{label}: {what}",
                disable=label is None, leave=False, unit="step")
