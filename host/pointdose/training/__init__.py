"""Training mode for students and instructors: drills, feedback schedules, scores, records.

Pure Python + numpy (no GUI); the app's Training tab and ``pointdose train`` / ``pointdose class``
drive it. See docs/training.md.

* :mod:`~pointdose.training.drill` — :class:`Drill`, :func:`preset` (light/moderate/deep, Chaves 2020),
  :func:`warnings` (target above typical PPTs on a person);
* :mod:`~pointdose.training.schedule` — :class:`Schedule` (constant, intermittent, faded, bandwidth,
  self-controlled, none) and its per-block :class:`BlockPlan`;
* :mod:`~pointdose.training.scores` — :func:`score_trial`, :func:`score_block`;
* :mod:`~pointdose.training.runner` — :class:`Block`, :class:`BlockRun` (cue timing and the feedback
  gate), :func:`standard_plan`;
* :mod:`~pointdose.training.live` — :class:`LiveTrainer` on a device link;
* :mod:`~pointdose.training.store` — :class:`TrainingStore` (students, classes, trials, CSV merge).
"""

from pointdose.training.drill import PRESETS, SURFACES, Drill, DrillError, preset, warnings
from pointdose.training.runner import BLOCK_KINDS, Block, BlockError, BlockRun, TrainingCue, standard_plan
from pointdose.training.schedule import KINDS, BlockPlan, Schedule, ScheduleError
from pointdose.training.scores import BlockScore, TrialScore, score_block, score_trial

__all__ = ["BLOCK_KINDS", "KINDS", "PRESETS", "SURFACES", "Block", "BlockError", "BlockPlan", "BlockRun", "BlockScore",
           "Drill", "DrillError", "Schedule", "ScheduleError", "TrainingCue", "TrialScore", "preset", "score_block",
           "score_trial", "standard_plan", "warnings"]
