"""The sbibm benchmark case: tasks reimplemented from their definitions, reference posteriors, NPE demo,
truncated sequential NPE on one observation."""

from .demo import run_npe_demo
from .reference import importance_reference
from .sequential import run_tsnpe_task, truncated_prior_coverage
from .tasks import TASKS, Task, gaussian_linear_task, get_task, load_reference, simulate_task_file

from .case import SbibmCase, load, simulate, train

__all__ = ["simulate", "train", "load", "SbibmCase", "run_npe_demo", "importance_reference", "run_tsnpe_task", "truncated_prior_coverage", "TASKS", "Task", "gaussian_linear_task", "get_task", "load_reference",
           "simulate_task_file"]
