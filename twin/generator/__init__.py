"""Incidents nobody wrote: a procedural generator with computed difficulty labels.

>>> from twin.generator import generate
>>> batch = generate(2, seed=7, workers=1)      # deterministic in (seed, index)
>>> [g.name for g in batch.items]
['gen-7-0000', 'gen-7-0001']
>>> batch.items[0].scenario.generated.band in ("easy", "medium", "hard")
True

``batch.write(directory)`` writes one YAML file per incident and ``manifest.csv``.

Incident ``i`` of seed ``s`` is drawn from ``numpy.random.default_rng([s, i, attempt])`` only, so
it is the same whichever process draws it and however many are drawn. Its root-cause layer and
fault kind come round-robin (in a seeded order per block) over the configuration's (layer, kind)
pairs, so a set spreads over kinds and layers; a candidate that fails the checks of
:mod:`twin.generator.assess` is rejected and redrawn (after half the attempts on one pair, the
other pairs are tried in turn). Seeds from :data:`HELDOUT_FROM` on are the held-out split.
"""

from twin.generator.assess import BANDS, WEIGHTS
from twin.generator.config import (DEFAULT_KINDS, GENERATED_KINDS, HELDOUT_FROM, LAYERS, OPT_IN_KINDS, GeneratorConfig,
                                   GeneratorConfigError, load_generator_config, parse_generator_config)
from twin.generator.core import MANIFEST, Batch, GenerationError, Generated, generate, generate_one, split_of

__all__ = ["BANDS", "DEFAULT_KINDS", "GENERATED_KINDS", "HELDOUT_FROM", "LAYERS", "MANIFEST", "OPT_IN_KINDS", "WEIGHTS",
           "Batch", "GenerationError", "Generated", "GeneratorConfig", "GeneratorConfigError", "generate", "generate_one",
           "load_generator_config", "parse_generator_config", "split_of"]
