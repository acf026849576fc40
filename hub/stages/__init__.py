"""Pipeline stages. Importing this package registers every stage in ``STAGES``."""

from hub.stages import check_replies as _check_replies  # noqa: F401 - registers it
from hub.stages import discover as _discover  # noqa: F401 - registers "discover"
from hub.stages import draft as _draft  # noqa: F401 - registers the "draft" stage
from hub.stages import enrich as _enrich  # noqa: F401 - registers "enrich"
from hub.stages import followup as _followup  # noqa: F401 - registers "followup"
from hub.stages import score as _score  # noqa: F401 - registers "score"
from hub.stages import send as _send  # noqa: F401 - registers "send"
from hub.stages.base import JOB_TYPES, STAGES, StageContext, StageResult, stage

__all__ = ["JOB_TYPES", "STAGES", "StageContext", "StageResult", "stage"]
