"""The sbibm benchmark case: tasks reimplemented from their definitions, reference posteriors, NPE demo."""

from .demo import run_npe_demo
from .tasks import TASKS, Task, gaussian_linear_task, get_task, load_reference, simulate_task_file

__all__ = ["run_npe_demo", "TASKS", "Task", "gaussian_linear_task", "get_task", "load_reference",
           "simulate_task_file"]
