"""tkitrack.sample_data: the seeds' published cases, a synthetic cohort generator, and deliberately broken files.

- :mod:`tkitrack.sample_data.published`: ``read_published()``, ``read_template_dir()``, ``write_template_dir()``
- :mod:`tkitrack.sample_data.generate`: ``generate_cohort(n_patients, seed=..., start=..., prefix=...)``
- package data: ``published/*.csv`` (+ README), ``broken/*.csv`` with ``expected_listing.csv`` (+ README)
"""
