"""Pipeline stages. Importing this package registers every stage in ``STAGES``."""

from hub.stages import draft as _draft  # noqa: F401 - registers the "draft" stage
from hub.stages.base import JOB_TYPES, STAGES, StageContext, StageResult, stage

__all__ = ["JOB_TYPES", "STAGES", "StageContext", "StageResult", "stage"]
