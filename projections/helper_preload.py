"""Imported by the rebuild helpers' fork server (projections.helpers), so that every
helper forked from it starts with what it needs: the read models' modules, the
application, and the lexicon with the lemmatiser's Dutch dictionary loaded (about half a
second of CPU per process otherwise)."""

import gc

import dossier.application  # noqa: F401
from projections import follower, pupils, timeline  # noqa: F401
from projections.labels import default_lexicon

default_lexicon().find_in_text("samenwerken")  # the lemmatiser loads its dictionary here

# What the fork server has loaded so far lives as long as it does: leaving it out of
# collections spares the fork server a last full collection of ~100 MB when a rebuild
# ends it. (Modules a program adds to the preload, `preload_in_helpers`, load after.)
gc.freeze()
