"""Pipeline stages. Importing this package registers every stage in ``STAGES``."""

from hub.stages.base import JOB_TYPES, STAGES, StageContext, StageResult, stage

__all__ = ["JOB_TYPES", "STAGES", "StageContext", "StageResult", "stage"]
