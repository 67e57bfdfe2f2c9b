"""One dynamic partition per video."""

from dagster import DynamicPartitionsDefinition

VIDEOS = "videos"
videos_partitions = DynamicPartitionsDefinition(name=VIDEOS)
