"""Batch and long-form jobs: durable in SQL, queued locally or through Redis, with webhooks."""

from speaker.jobs.service import BatchOrder, ItemFile, JobService
from speaker.jobs.worker import JobWorkers

__all__ = ["BatchOrder", "ItemFile", "JobService", "JobWorkers"]
