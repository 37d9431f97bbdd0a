"""TF's other session hooks, one family per module, all re-exported by ``estimator.hooks``
(and ``est.*``):

- :mod:`.timer`: ``SecondOrStepTimer``
- :mod:`.saver`: ``CheckpointSaverListener``, ``CheckpointSaverHook`` (and how ``train`` saves)
- :mod:`.basic`: ``StepCounterHook``, ``SummarySaverHook``, ``FinalOpsHook``
- :mod:`.profiler`: ``ProfilerHook``
- :mod:`.in_memory_eval`: ``InMemoryEvaluatorHook`` and evaluating the live model
"""
