"""Reading evaluation results back from TensorBoard event files, as TF's early stopping and
``BestExporter`` do: every ``simple_value`` of every event, grouped by step."""

from __future__ import annotations

import collections
import glob
import logging
import os
from typing import Any, Dict, Iterator, Mapping, Tuple

logger = logging.getLogger("estimator")

__all__ = ["read_eval_metrics", "scalar_events", "write_eval_summary"]

EVENT_FILE_GLOB_PATTERN = "events.out.tfevents.*"


def write_eval_summary(writer: Any, results: Mapping[str, Any], step: int) -> None:
    """Write the numeric ``results`` as one event at ``step`` (TF's evaluation writes one
    ``Summary`` holding every metric, which ``BestExporter`` compares event by event)."""
    from tensorboard.compat.proto.summary_pb2 import Summary

    values = [Summary.Value(tag=key, simple_value=float(value))
              for key, value in results.items()
              if key != "global_step" and isinstance(value, (int, float))]
    if values:
        writer._get_file_writer().add_summary(Summary(value=values), step)


def scalar_events(file_pattern: str) -> Iterator[Tuple[int, Dict[str, float]]]:
    """``(step, {tag: simple_value})`` for each event with scalar values in the files matching
    ``file_pattern``, file by file (sorted names), in file order. A corrupt file tail is skipped
    with a warning, as TF's ``summary_iterator`` users do."""
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

    for path in sorted(glob.glob(file_pattern)):
        try:
            for event in LegacyEventFileLoader(path).Load():
                if not event.HasField("summary"):
                    continue
                values = {v.tag: v.simple_value for v in event.summary.value
                          if v.HasField("simple_value")}
                if values:
                    yield int(event.step), values
        except Exception as e:  # a truncated record: keep what was read
            logger.warning("Skipping rest of the file due to encountering data corruption "
                           "error; file path: %s; error: %s", path, e)


def read_eval_metrics(eval_dir: str) -> "collections.OrderedDict[int, Dict[str, float]]":
    """The metrics written by ``evaluate`` into ``eval_dir``: ``{global_step: {name: value}}``,
    sorted by step (later events for a step update earlier ones).

    >>> # read_eval_metrics(model.eval_dir())  ->  OrderedDict([(100, {'loss': 0.7, ...}), ...])
    """
    metrics: Dict[int, Dict[str, float]] = collections.defaultdict(dict)
    if os.path.isdir(eval_dir):
        for step, values in scalar_events(os.path.join(eval_dir, EVENT_FILE_GLOB_PATTERN)):
            metrics[step].update(values)
    return collections.OrderedDict(sorted(metrics.items()))
