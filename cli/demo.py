"""`tkitrack demo`: the first thing a new user runs: a database from the sample data, a summary, the report."""

from __future__ import annotations

from pathlib import Path

import typer

from tkitrack.cli._common import command, renamed, retired_option, shown_path

__all__ = ["app"]

app = typer.Typer()


@command(app, "demo")
def demo(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Folder for the demo database and report [default: tkitrack-demo]"
    ),
    patients: int = typer.Option(60, "--patients", "-n", min=0, help="Synthetic patients added to the published cases"),
    seed: int = typer.Option(2024, "--seed", help="Seed of the synthetic cohort"),
    old_dir: Path | None = retired_option("--dir"),
) -> None:
    """Build a SQLite database from the published cases plus a synthetic cohort, validate, derive, report."""
    import pandas as pd

    from tkitrack.cli.plots import build_report
    from tkitrack.outcomes.cohort import derive_adam_from_records, derive_patient_attributes
    from tkitrack.outcomes.endpoints import endpoint_info
    from tkitrack.outcomes.summary import summarise_endpoint, summarise_response
    from tkitrack.outcomes.tabulate import derive_data_source
    from tkitrack.sample_data.generate import generate_cohort
    from tkitrack.sample_data.published import read_published
    from tkitrack.schemas.frames import concat_frames
    from tkitrack.schemas.queries import validate_frames
    from tkitrack.schemas.storage import make_engine, transaction, upgrade
    from tkitrack.schemas.store import add_records, read_frames

    folder = renamed(output, old_dir, old="--dir DIR", new="-o DIR") or Path("tkitrack-demo")
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "demo.db"
    fresh = folder / "demo.db.building"
    fresh.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{fresh}")
    upgrade(engine)
    published = read_published()
    synthetic = generate_cohort(patients, seed=seed) if patients else {}
    raws = {r: concat_frames([f for f in (published.get(r), synthetic.get(r)) if f is not None])
            for r in published.keys() | synthetic.keys()}  # fmt: skip
    with transaction(engine) as session:
        counts = add_records(session, raws, user="tkitrack-demo", source="tkitrack demo (sample_data)")
    engine.dispose()
    fresh.replace(db)  # a second run rebuilds the demo database from scratch
    engine = make_engine(f"sqlite:///{db}")
    with transaction(engine) as session:
        frames = read_frames(session)
    listing = validate_frames(frames)
    errors = int((listing["severity"] == "error").sum()) if len(listing) else 0
    warnings = len(listing) - errors
    typer.echo(f"database: {db} ({counts['patient']} patients: {len(published['patient'])} published cases and "
               f"{patients} synthetic; {sum(counts.values())} records)")  # fmt: skip
    typer.echo(f"validation: {errors} error(s), {warnings} warning(s) (see the report's data validation section)")
    adam = derive_adam_from_records(frames)
    attrs = derive_patient_attributes(frames)
    treated = adam["adsl"].loc[adam["adsl"]["TRTSDT"].notna(), "USUBJID"]
    imt = attrs.loc[attrs["histology"] == "IMT", "patient_id"]
    source = derive_data_source(frames["patient"])
    for label, subjects in (("all treated patients", treated), ("treated IMT", treated[treated.isin(imt)])):
        resp = summarise_response(adam["adrs"], subjects=subjects).set_index("measure")
        synthetic = int((source.reindex(subjects) == "synthetic").sum())
        typer.echo(f"confirmed objective response (CR or PR), {label} ({synthetic} of them synthetic): "
                   f"{resp.loc['confirmed objective response', 'labelled']}; unconfirmed "
                   f"{resp.loc['objective response (CR+PR)', 'labelled']}; confirmed complete response "
                   f"{resp.loc['confirmed complete response', 'text']}, unconfirmed "
                   f"{resp.loc['complete response', 'text']}")  # fmt: skip
    for paramcd in ("PFS", "OS"):
        t = adam["adtte"][(adam["adtte"]["PARAMCD"] == paramcd) & adam["adtte"]["AVAL"].notna()]

        s = summarise_endpoint(pd.DataFrame({"time": t["AVAL"].astype(float), "event": t["CNSR"].eq(0)}))
        row = s.table.iloc[0]
        synthetic = int((source.reindex(t["USUBJID"]) == "synthetic").sum())
        events = f"{row['events']} event{'' if row['events'] == 1 else 's'}"
        typer.echo(f"median {endpoint_info(paramcd).title.lower()}, days: {row['median_text']}; "
                   f"{events} in {row['n']} patients ({synthetic} of them synthetic)")  # fmt: skip

    adam_dir = folder / "adam"
    from tkitrack.schemas.outputs import write_csv

    for name, frame in adam.items():  # the demo's own folder: a second run rebuilds it
        write_csv(frame, adam_dir / f"{name}.csv", force=True)
    report = build_report(frames, folder / "report.html", title="tkitrack demo: published cases and a synthetic cohort",
                          provenance={"database": str(db), "published cases": len(published["patient"]),
                                      "synthetic patients": f"{patients} (seed {seed})"}, force=True)  # fmt: skip
    typer.echo(f"ADaM datasets: {adam_dir}/ (adsl.csv, adrs.csv, adtte.csv)")
    typer.echo(f"report: {shown_path(report)}  <- open this file in a browser (works offline)")
    typer.echo(f"explore: tkitrack --db {db} timeline LETTER-IMT-1")
