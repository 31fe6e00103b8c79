"""`tkitrack sample generate`: a reproducible synthetic cohort, as template files or straight into the database."""

from __future__ import annotations

from pathlib import Path

import typer

from tkitrack.cli._common import command, fail, force_option, group, open_db, renamed, retired_option, user

__all__ = ["app"]

app = group("Sample data: the published cases and a synthetic cohort.")


@command(app, "generate")
def generate(
    patients: int = typer.Option(100, "--patients", "-n", min=1, help="How many patients"),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same cohort)"),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Folder for the template CSV files [default: synthetic-N-seedS]"
    ),
    into_db: bool = typer.Option(False, "--import", help="Import the cohort into the database instead"),
    prefix: str = typer.Option("SYN", "--prefix", help="Patient id prefix"),
    force: bool = force_option(),
    old_out: Path | None = retired_option("--out"),
) -> None:
    """Generate a synthetic cohort (crizotinib 280 mg/m2 BID, AEs, responses near ADVL0912's)."""
    from tkitrack.sample_data.generate import generate_cohort

    out = renamed(output, old_out, old="--out DIR", new="-o DIR")
    if out is not None and into_db:
        raise fail("give -o DIR or --import, not both", 2)
    if out is None and not into_db:
        out = Path(f"synthetic-{patients}-seed{seed}")
    frames = generate_cohort(patients, seed=seed, prefix=prefix)
    if out is not None:
        from tkitrack.sample_data.published import write_template_dir

        paths = write_template_dir(frames, out, force=force)
        typer.echo(f"wrote {len(paths)} template files for {patients} patients to {out}")
        return
    from tkitrack.schemas.storage import transaction
    from tkitrack.schemas.store import add_records

    with transaction(open_db()) as session:
        counts = add_records(session, frames, user=user(), source=f"tkitrack sample generate --seed {seed}")
    typer.echo(f"imported {sum(counts.values())} records for {patients} synthetic patients")


@command(app, "published")
def published(
    output: Path | None = typer.Option(None, "--output", "-o", help="Folder to write the published cases into"),
    force: bool = force_option(),
    old_out: Path | None = retired_option("--out"),
) -> None:
    """Write the published cases of the seed papers as template files (see their README for sources)."""
    from tkitrack.sample_data.published import read_published, write_template_dir

    out = renamed(output, old_out, old="--out DIR", new="-o DIR")
    if out is None:
        raise fail("give the folder to write into: tkitrack sample published -o DIR", 2)

    paths = write_template_dir(read_published(), out, force=force)
    typer.echo(f"wrote {len(paths)} template files to {out}")


@command(app, "broken")
def broken(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Folder to write the broken files into [default: broken]"
    ),
    force: bool = force_option(),
    old_out: Path | None = retired_option("--out"),
) -> None:
    """Write the deliberately broken template files (one planted error or warning per rule; README maps them)."""
    from importlib import resources

    from tkitrack.schemas.outputs import check_outputs, write_bytes

    out = renamed(output, old_out, old="--out DIR", new="-o DIR") or Path("broken")

    root = resources.files("tkitrack.sample_data").joinpath("broken")
    sources = sorted((item for item in root.iterdir() if item.name.endswith((".csv", ".md"))), key=lambda i: i.name)
    targets = [out / item.name for item in sources]
    check_outputs(targets, force=force)
    for item, target in zip(sources, targets, strict=True):
        write_bytes(target, item.read_bytes(), force=force)
    typer.echo(f"wrote {len(targets)} files to {out} (see {out / 'README.md'} for the rule each row breaks)")
