"""The lecture's experiments: optimizers on quadratics, the initialization study, the report."""
