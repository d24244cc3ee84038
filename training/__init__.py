"""Everything that makes a model: importers, starter corpus, featurizer, training, evaluation."""
