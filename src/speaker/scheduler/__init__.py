"""Scheduling synthesis work across engine workers."""

from speaker.scheduler.pool import PoolStats
from speaker.scheduler.scheduler import Scheduler, SchedulerConfig
from speaker.scheduler.stream import SpeechStream

__all__ = ["PoolStats", "Scheduler", "SchedulerConfig", "SpeechStream"]
