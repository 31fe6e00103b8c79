"""`tkitrack vocab`: look up CTCAE v5.0 terms and grades, the drug catalogue and every other vocabulary."""

from __future__ import annotations

import typer

from tkitrack.cli._common import ListingFormat, command, fail, group, render

__all__ = ["app"]

app = group("Look up CTCAE terms and grades, drugs and the other vocabularies.")


@command(app, "ctcae")
def ctcae(
    search: str = typer.Option("", "--search", "-s", help="Words in the term (case-insensitive), e.g. gait"),
    fmt: ListingFormat = typer.Option("table", "--format", "-f", help="Output format"),
) -> None:
    """CTCAE v5.0 terms matching --search, with MedDRA code, SOC and the grades that exist."""
    from tkitrack.schemas.vocabulary import ctcae as table
    from tkitrack.schemas.vocabulary import ctcae_grades

    t = table()
    hits = t[t["term"].str.contains(search, case=False, regex=False)] if search else t
    if hits.empty:
        raise fail(f"no CTCAE v5.0 term contains {search!r}; try a shorter word", 1)
    grades = ctcae_grades()
    out = hits[["term", "meddra_code", "meddra_soc"]].assign(
        grades=hits["term"].map(lambda term: ", ".join(str(g) for g in sorted(grades[term])))
    )
    if len(hits) <= 3 and fmt == "table":  # a few terms: show what each grade means
        for row in hits.itertuples():
            typer.echo(f"{row.term} ({row.meddra_soc}; MedDRA {row.meddra_code})")
            for g in range(1, 6):
                text = getattr(row, f"grade_{g}").strip()
                typer.echo(f"  grade {g}: {'does not exist' if text == '-' else text}")
        return
    render(out, fmt, title=f"CTCAE v5.0 terms ({len(out)})")


@command(app, "drugs")
def drugs(fmt: ListingFormat = typer.Option("table", "--format", "-f", help="Output format")) -> None:
    """The drug catalogue: target, class, usual paediatric dose and the plausible mg/m2/day range (EX004)."""
    from tkitrack.schemas.vocabulary import drugs as table

    render(table(), fmt, title="Drug catalogue", wide=("source",))


@command(app, "show")
def show(name: str = typer.Argument(..., help="sex, unit, frequency, reason, histology, response, ...")) -> None:
    """The allowed values of one vocabulary."""
    from tkitrack.schemas.vocabulary import VOCABULARIES, vocabulary

    if name not in VOCABULARIES:
        raise fail(f"unknown vocabulary {name!r}; choose one of {', '.join(VOCABULARIES)}", 2)
    voc = vocabulary(name)
    typer.echo(f"{name} ({voc.source}): " + ", ".join(voc.values))
