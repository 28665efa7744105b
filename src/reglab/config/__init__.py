"""What a study is, before anything trains (torch-free):

    study_spec.py    a study as frozen dataclasses, loaded from TOML or a dict and validated once
    sweep_points.py  a sweep expanded into variants, one per point (pure)
    python_study.py  reglab.Study and reglab.Variant: the same study built in Python

Everything past this package may trust a StudySpec; `from reglab.config import ...` names the
loading side.
"""

from reglab.config.study_spec import (
    DATA_KEYS, DESCRIPTIVE_KEYS, MAX_RUNS, MAX_RUNS_CEILING, MAX_SEEDS, STUDY_KEYS, TRAINING_KEYS, DataSpec,
    StudySpec, VariantSpec, builtin_studies, load_study, parse_study, study_from_dict,
)

__all__ = [
    "DATA_KEYS", "DESCRIPTIVE_KEYS", "MAX_RUNS", "MAX_RUNS_CEILING", "MAX_SEEDS", "STUDY_KEYS", "TRAINING_KEYS",
    "DataSpec", "StudySpec", "VariantSpec", "builtin_studies", "load_study", "parse_study", "study_from_dict",
]
