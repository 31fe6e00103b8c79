"""What each time-to-event endpoint is called, where its clock starts and what ends it: one declaration.

Every title, axis label, table row and footnote about an endpoint reads these declarations, so that a figure of
duration of response says "from the first response" (not "from the first dose") and a new endpoint slots in by
adding one entry. :func:`endpoint_info` gives a plain description for a code that is not declared (a CSV
column), never a wrong one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from tkitrack.schemas.errors import InputError

__all__ = ["COMPETING_ENDPOINTS", "ENDPOINT_INFO", "EndpointInfo", "derive_competing_endpoint", "endpoint_info"]


@dataclass(frozen=True)
class EndpointInfo:
    """A time-to-event endpoint as a reader should see it named.

    Attributes
    ----------
    code : str
        Short code (ADTTE PARAMCD where there is one).
    name : str
        Full name, sentence case ("Progression-free survival").
    origin : str
        Where the clock starts, to follow "from" ("the first dose of the index therapy").
    event : str
        What counts as the event ("progression or death").
    y_label : str
        Y-axis title of its curve.
    kind : {"survival", "incidence"}
        Kaplan-Meier curve of being event-free, or cumulative incidence (competing events).
    requires : str
        What a patient needs to have a time for the endpoint, to follow "without" in a footnote about the
        patients left out ("a dose of the index therapy").
    """

    code: str
    name: str
    origin: str
    event: str
    y_label: str
    kind: Literal["survival", "incidence"] = "survival"
    requires: str = "a dose of the index therapy"

    @property
    def title(self) -> str:
        """``Progression-free survival from the first dose of the index therapy``."""
        return f"{self.name} from {self.origin}"

    @property
    def x_label(self) -> str:
        """``Days from the first dose of the index therapy``."""
        return f"Days from {self.origin}"


_FIRST_DOSE = "the first dose of the index therapy"
_STOP = "stopping the inhibitor"

#: The declared endpoints, by code (codes used on the command line; ADTTE PARAMCD aliases included).
ENDPOINT_INFO: dict[str, EndpointInfo] = {
    e.code: e
    for e in (
        EndpointInfo("OS", "Overall survival", _FIRST_DOSE, "death from any cause", "Overall survival probability"),
        EndpointInfo("PFS", "Progression-free survival", _FIRST_DOSE, "progression, relapse or death",
                     "Progression-free survival probability"),
        EndpointInfo("DOR", "Duration of response", "the first response (CR or PR)", "progression or death",
                     "Probability of remaining in response", requires="a response (CR or PR)"),
        EndpointInfo("RSD", "Duration of response", "the first response (CR or PR)", "progression or death",
                     "Probability of remaining in response", requires="a response (CR or PR)"),
        EndpointInfo("TTR", "Time to response", _FIRST_DOSE, "first response (CR or PR)",
                     "Probability of not yet responding"),
        EndpointInfo("TOT", "Time on treatment", _FIRST_DOSE, "last dose of the index course, or death on treatment",
                     "Probability of remaining on treatment"),
        EndpointInfo("TTD", "Time to treatment discontinuation", _FIRST_DOSE,
                     "last dose of the index course, or death on treatment", "Probability of remaining on treatment"),
        EndpointInfo("TFI", "Treatment-free interval", "the last dose of the index course",
                     "next systemic therapy or death", "Probability of remaining off treatment",
                     requires="a discontinued index course"),
        EndpointInfo("RFS_STOP", "Relapse-free survival", _STOP, "relapse or death",
                     "Relapse-free survival probability", requires="a stop of the inhibitor"),
        EndpointInfo("RFSSTP", "Relapse-free survival",
                     "stopping the index therapy in complete response", "relapse or death",
                     "Relapse-free survival probability", requires="a stop of the index therapy in complete response"),
        EndpointInfo("RELAPSE_AFTER_CR", "Cumulative incidence of relapse", "the first complete response",
                     "relapse (death competing)", "Cumulative incidence of relapse", "incidence",
                     requires="a complete response on an inhibitor"),
        EndpointInfo("RELAPSE_AFTER_STOP", "Cumulative incidence of relapse", "stopping the index therapy in "
                     "complete response", "relapse (death competing)", "Cumulative incidence of relapse", "incidence",
                     requires="a stop of the index therapy in complete response"),
    )
}  # fmt: skip

#: Endpoints with a competing event (cumulative incidence, status 1 event / 2 competing / 0 censored).
COMPETING_ENDPOINTS = tuple(code for code, e in ENDPOINT_INFO.items() if e.kind == "incidence")


def endpoint_info(code: str, *, origin: str | None = None) -> EndpointInfo:
    """The declaration of ``code`` (case-insensitive); an undeclared code gets a plain, generic description.

    >>> endpoint_info("dor").title
    'Duration of response from the first response (CR or PR)'
    >>> endpoint_info("days", origin="entry").y_label
    'Probability of remaining event-free'
    """
    found = ENDPOINT_INFO.get(str(code).upper())
    if found is not None:
        return found
    return EndpointInfo(str(code), str(code), origin or "the time origin of the data", "the event",
                        "Probability of remaining event-free")  # fmt: skip


def derive_competing_endpoint(
    frames: dict[str, pd.DataFrame], code: str, *, index_drug: str | None = None,
    stop_reasons: Sequence[str] | None = None, cohort: pd.DataFrame | None = None, adam: dict | None = None,
) -> pd.DataFrame:  # fmt: skip
    """``patient_id, time, status`` (1 relapse, 2 death first, 0 censored) for an endpoint of
    :data:`COMPETING_ENDPOINTS`, from tkitrack record frames. RELAPSE_AFTER_STOP is the ADTTE RFSSTP population
    (stopped in CR; ``stop_reasons`` narrows it), time from the last dose, relapse up to a restart.

    ``cohort`` (the stopping cohort of ``frames`` with ``index_drug``) and ``adam`` (their ADaM with
    ``index_drug`` and ``stop_reasons``), when already derived, are used instead of deriving them again."""
    from tkitrack.outcomes.cohort import derive_adam_from_records, derive_relapse_after_cr
    from tkitrack.outcomes.stopping import derive_relapse_after_stop, derive_stopping_cohort

    key = str(code).upper()
    if key not in COMPETING_ENDPOINTS:
        raise InputError(f"unknown competing-risks endpoint {code!r}; choose one of {', '.join(COMPETING_ENDPOINTS)}")
    if key == "RELAPSE_AFTER_CR":
        if cohort is None:
            cohort = derive_stopping_cohort(frames["exposure"], frames["assessment"], frames["disease_event"],
                                            frames["followup"], index_drug=index_drug)  # fmt: skip
        return derive_relapse_after_cr(cohort)
    if adam is None:
        adam = derive_adam_from_records(frames, index_drug=index_drug, stop_reasons=stop_reasons)
    return derive_relapse_after_stop(adam["adtte"])
